//! A subscription against a scripted WebSocket server on 127.0.0.1, where timing and what the
//! server sends must be forced: a slow consumer holds the server back (bounded memory), an
//! error frame ends the stream, and dropping the subscription closes the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atproto_api::com::atproto::sync::subscribe_repos::{Error, Message, Params};
use atproto_api::runtime::cbor::{self, Frame};
use atproto_api::runtime::client::Client;
use atproto_api::runtime::stream::SubscribeOptions;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn frame(header: serde_json::Value, body: serde_json::Value) -> Vec<u8> {
    let mut bytes = cbor::to_vec(&header).unwrap();
    bytes.extend(cbor::to_vec(&body).unwrap());
    bytes
}

fn info(n: usize) -> Vec<u8> {
    // A kilobyte of message text, so that the frames fill socket buffers quickly.
    frame(
        json!({ "op": 1, "t": "#info" }),
        json!({ "name": "OutdatedCursor", "message": format!("{n:04}{}", "x".repeat(1000)) }),
    )
}

/// Accepts WebSocket connections and hands each to `serve`; counts connections.
async fn server<F, Fut>(serve: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let serve = serve.clone();
            tokio::spawn(async move {
                if let Ok(socket) = tokio_tungstenite::accept_async(tcp).await {
                    serve(socket).await;
                }
            });
        }
    });
    (url, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_consumer_holds_the_server_back() {
    const FRAMES: usize = 40_000; // about 40 MB: more than the socket buffers hold
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let (url, _) = server(move |mut socket| {
        let counter = counter.clone();
        async move {
            for n in 0..FRAMES {
                if socket
                    .send(WsMessage::Binary(info(n).into()))
                    .await
                    .is_err()
                {
                    return;
                }
                counter.store(n + 1, Ordering::SeqCst);
            }
        }
    })
    .await;
    let client = Client::with_reqwest(url);
    let options = SubscribeOptions {
        buffer: 4,
        ..SubscribeOptions::default()
    };
    let mut stream = client
        .com()
        .atproto()
        .sync()
        .subscribe_repos_with(&Params::new(), options);
    // The first frame arrives; then the consumer stops reading for a while.
    assert!(matches!(
        stream.next().await,
        Some(Ok(Frame::Message(Message::Info(_))))
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        stream.waiting() <= 4,
        "{} frames buffered",
        stream.waiting()
    );
    let while_paused = sent.load(Ordering::SeqCst);
    assert!(
        while_paused < FRAMES,
        "the server sent everything ({while_paused} frames) to a consumer that read nothing"
    );
    // Reading again lets the server go on, and every frame arrives, in order.
    for n in 1..FRAMES {
        match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
            Ok(Some(Ok(Frame::Message(Message::Info(info))))) => {
                assert!(info.message.unwrap().starts_with(&format!("{n:04}")));
            }
            other => panic!("frame {n}: {other:?}"),
        }
    }
    // The server's count catches up once its last send returns.
    for _ in 0..100 {
        if sent.load(Ordering::SeqCst) == FRAMES {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the server sent {} of {FRAMES} frames",
        sent.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_frame_ends_the_stream_without_reconnecting() {
    let (url, connections) = server(|mut socket| async move {
        let _ = socket.send(WsMessage::Binary(info(1).into())).await;
        let error = frame(
            json!({ "op": -1 }),
            json!({ "error": "FutureCursor", "message": "ahead" }),
        );
        let _ = socket.send(WsMessage::Binary(error.into())).await;
        // Keep the connection open: the client must end the stream by itself.
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let client = Client::with_reqwest(url);
    let mut stream = client
        .com()
        .atproto()
        .sync()
        .subscribe_repos(&Params::new());
    assert!(matches!(
        stream.next().await,
        Some(Ok(Frame::Message(Message::Info(_))))
    ));
    match stream.next().await {
        Some(Ok(Frame::Error(Error::FutureCursor { message }))) => {
            assert_eq!(message.as_deref(), Some("ahead"));
        }
        other => panic!("expected the error frame, got {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(
        matches!(end, Ok(None)),
        "the stream ends after an error frame: {end:?}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1, "no reconnection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_subscription_closes_the_connection() {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let closed_tx = Arc::new(std::sync::Mutex::new(Some(closed_tx)));
    let (url, _) = server(move |mut socket| {
        let closed_tx = closed_tx.clone();
        async move {
            let _ = socket.send(WsMessage::Binary(info(1).into())).await;
            // Reads until the client goes away.
            while let Some(Ok(message)) = socket.next().await {
                if message.is_close() {
                    break;
                }
            }
            if let Some(tx) = closed_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    })
    .await;
    let client = Client::with_reqwest(url);
    let mut stream = client
        .com()
        .atproto()
        .sync()
        .subscribe_repos(&Params::new());
    assert!(matches!(
        stream.next().await,
        Some(Ok(Frame::Message(Message::Info(_))))
    ));
    drop(stream);
    tokio::time::timeout(Duration::from_secs(5), closed_rx)
        .await
        .expect("the server saw the connection close")
        .unwrap();
}

/// A layered crate's subscription (the polls plugin adds `subscribePolls` to linkboard's
/// namespace, so its client method is on an extension trait of the base's service): the path
/// and cursor it asks for, and its typed messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::result_large_err)] // tungstenite's handshake callback returns its response type
async fn a_layered_crates_subscription_reads_its_own_messages() {
    use linkboard_api::prelude::*;
    use linkboard_polls_api::com::example::linkboard::subscribe_polls;
    use linkboard_polls_api::prelude::*;

    let (path_tx, path_rx) = tokio::sync::oneshot::channel::<String>();
    let path_tx = Arc::new(std::sync::Mutex::new(Some(path_tx)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let record_path = |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
                           response| {
            let sent = request.uri().to_string();
            if let Some(tx) = path_tx.lock().unwrap().take() {
                let _ = tx.send(sent);
            }
            Ok(response)
        };
        let mut socket = tokio_tungstenite::accept_hdr_async(tcp, record_path)
            .await
            .unwrap();
        let vote = frame(
            json!({ "op": 1, "t": "#vote" }),
            json!({ "seq": 8, "poll": "at://did:plc:alice/com.example.linkboard.polls.poll/3l2",
                    "voter": "did:plc:bob", "option": 1 }),
        );
        let _ = socket.send(WsMessage::Binary(vote.into())).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let client = Client::with_reqwest(url);
    let mut params = subscribe_polls::Params::new();
    params.cursor = Some(7);
    let mut stream = client.com().example().linkboard().subscribe_polls(&params);
    match stream.next().await {
        Some(Ok(Frame::Message(subscribe_polls::Message::Vote(vote)))) => {
            assert_eq!(
                (vote.seq, vote.option, vote.voter.as_str()),
                (8, 1, "did:plc:bob")
            );
        }
        other => panic!("expected a vote, got {other:?}"),
    }
    assert_eq!(
        path_rx.await.unwrap(),
        "/xrpc/com.example.linkboard.subscribePolls?cursor=7"
    );
    stream.close().await;
}
