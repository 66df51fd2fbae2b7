//! The generated createSession method on the wire, against a local HTTP listener:
//! method, path, headers and body going out; typed output and typed errors coming back.

use atproto_api::com::atproto::server::create_session::{Error as CreateSessionError, Input};
use atproto_api::runtime::client::{Client, Error};
use integration_tests::http::{Canned, Listener};
use serde_json::json;

fn session_json() -> serde_json::Value {
    json!({
        "accessJwt": "access-token",
        "refreshJwt": "refresh-token",
        "handle": "alice.test",
        "did": "did:plc:abcdefghijklmnopqrstuvwx",
        "active": true
    })
}

#[tokio::test]
async fn create_session_posts_json_and_reads_the_session() {
    let listener = Listener::start(vec![Canned::json(200, &session_json())]).unwrap();
    let client = Client::with_reqwest(format!("{}/", listener.url));

    let output = client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("alice.test", "hunter2"))
        .await
        .unwrap();

    let request = listener
        .next_request()
        .expect("the listener saw the request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/xrpc/com.atproto.server.createSession");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(
        request.header("authorization"),
        None,
        "no token before login"
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({ "identifier": "alice.test", "password": "hunter2" })
    );

    assert_eq!(output.access_jwt, "access-token");
    assert_eq!(output.handle.as_str(), "alice.test");
    assert_eq!(output.did.as_str(), "did:plc:abcdefghijklmnopqrstuvwx");
    assert_eq!(output.active, Some(true));
}

#[tokio::test]
async fn bearer_token_is_sent_once_set() {
    let listener = Listener::start(vec![Canned::json(200, &session_json())]).unwrap();
    let client = Client::with_reqwest(listener.url.clone());
    client.set_bearer_token(Some("secret-token".into()));
    client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("alice.test", "pw"))
        .await
        .unwrap();
    let request = listener.next_request().unwrap();
    assert_eq!(request.header("authorization"), Some("Bearer secret-token"));
    assert!(
        !format!("{client:?}").contains("secret-token"),
        "Debug must not print the token"
    );
}

#[tokio::test]
async fn declared_errors_are_typed_and_others_keep_name_and_message() {
    let listener = Listener::start(vec![
        Canned::json(400, &json!({ "error": "AccountTakedown", "message": "gone" })),
        Canned::json(401, &json!({ "error": "AuthenticationRequired", "message": "Invalid identifier or password" })),
        Canned { status: 502, content_type: "text/html", body: b"<html>Bad gateway</html>".to_vec() },
    ])
    .unwrap();
    let client = Client::with_reqwest(listener.url.clone());
    let server = client.com().atproto().server();
    let input = Input::new("alice.test", "wrong");

    match server.create_session(&input).await {
        Err(Error::Xrpc {
            status: 400,
            error: CreateSessionError::AccountTakedown { message },
        }) => {
            assert_eq!(message.as_deref(), Some("gone"))
        }
        other => panic!("expected AccountTakedown, got {other:?}"),
    }
    match server.create_session(&input).await {
        Err(Error::Xrpc {
            status: 401,
            error: CreateSessionError::Other { error, message },
        }) => {
            assert_eq!(error, "AuthenticationRequired");
            assert_eq!(message.as_deref(), Some("Invalid identifier or password"));
        }
        other => panic!("expected a fallback error, got {other:?}"),
    }
    match server.create_session(&input).await {
        Err(Error::Xrpc {
            status: 502,
            error: CreateSessionError::Other { error, message },
        }) => {
            assert_eq!(error, "UpstreamFailure");
            assert_eq!(message.as_deref(), Some("<html>Bad gateway</html>"));
        }
        other => panic!("expected a non-JSON error to be kept, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_that_does_not_match_the_output_is_a_decode_error() {
    let listener = Listener::start(vec![Canned::json(200, &json!({ "accessJwt": 5 }))]).unwrap();
    let client = Client::with_reqwest(listener.url.clone());
    match client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("a", "b"))
        .await
    {
        Err(Error::Decode {
            status: 200,
            message,
        }) => assert!(message.contains("invalid type"), "{message}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::with_reqwest(format!("http://127.0.0.1:{port}"));
    let result = client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("a", "b"))
        .await;
    assert!(matches!(result, Err(Error::Transport(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// Timeouts, HTTPS and the response limit, on the reqwest transport and on a transport of our own

use atproto_api::com::atproto::sync::get_blob;
use atproto_api::runtime::client::{
    BoxFuture, DEFAULT_RESPONSE_LIMIT, DEFAULT_TIMEOUT, HttpRequest, HttpResponse, Transport,
    TransportError, TransportErrorKind,
};
use atproto_api::runtime::{Cid, Did};
use integration_tests::http::Silent;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn blob_params() -> get_blob::Params {
    get_blob::Params::new(
        Did::new("did:plc:abcdefghijklmnopqrstuvwx").unwrap(),
        Cid::new("bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy").unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_given_up_on_after_the_timeout() {
    let server = Silent::start().unwrap();
    let client = Client::with_reqwest(server.url.clone()).with_timeout(Duration::from_millis(300));
    let sync = client.com().atproto().sync();

    match sync.get_blob(&blob_params()).await {
        Err(Error::Transport(error)) => {
            assert!(error.is_timeout(), "{error}");
            assert!(error.to_string().contains("300ms"), "{error}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // A stream times out waiting for the response head too.
    match sync.get_blob_stream(&blob_params()).await {
        Err(Error::Transport(error)) => assert!(error.is_timeout(), "{error}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(
        server.received().len(),
        2,
        "both requests reached the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_url_is_spoken_to_in_tls() {
    // The listener never answers: what matters is what the client sends it. Over HTTPS the
    // first bytes are a TLS handshake record (0x16, then the 0x03 of the version); a client
    // without TLS refuses the URL before connecting. This shows TLS is compiled in and used
    // for https URLs; it does not check certificate validation (that needs a server with a
    // certificate the system trusts).
    let server = Silent::start().unwrap();
    let client = Arc::new(Client::with_reqwest(format!(
        "https://localhost:{}",
        server.port()
    )));
    let call = tokio::spawn({
        let client = Arc::clone(&client);
        async move {
            client
                .com()
                .atproto()
                .server()
                .create_session(&Input::new("a", "b"))
                .await
                .map(drop)
        }
    });
    let first_bytes = loop {
        if let Some(bytes) = server.received().into_iter().find(|b| b.len() >= 3) {
            break bytes;
        }
        if call.is_finished() {
            panic!(
                "the call ended without sending a TLS handshake: {:?}",
                call.await.unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    call.abort();
    assert_eq!(&first_bytes[..2], &[0x16, 0x03], "{first_bytes:02x?}");
}

#[test]
fn without_ca_certificates_the_client_is_built_and_calls_say_why_they_fail() {
    // Runs itself in a child process whose environment names no certificates (an empty
    // certificate file and folder): the reqwest client cannot be set up there.
    const CHILD: &str = "ATPROTO_TEST_NO_CA_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = Client::with_reqwest("https://localhost:9");
        let result = runtime.block_on(
            client
                .com()
                .atproto()
                .server()
                .create_session(&Input::new("a", "b")),
        );
        match result {
            Err(Error::Transport(error)) => {
                let message = error.to_string();
                assert!(message.contains("could not be built"), "{message}");
                assert!(message.contains("CA certificates"), "{message}");
            }
            other => panic!("expected a transport error, got {other:?}"),
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("no-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "without_ca_certificates_the_client_is_built_and_calls_say_why_they_fail",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", &dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "the child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A transport that answers every request with a body of a given size and ignores the limit
/// the request carries, as a careless transport of a user's might.
struct Oversized {
    body_len: usize,
    seen: Mutex<Vec<HttpRequest>>,
}

impl Transport for Oversized {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.seen.lock().unwrap().push(request);
        let body = vec![b'x'; self.body_len];
        Box::pin(async move {
            Ok(HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/octet-stream".into())],
                body,
            })
        })
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_an_error_naming_the_limit() {
    let transport = Oversized {
        body_len: 2048,
        seen: Mutex::new(Vec::new()),
    };
    let client = Client::new("http://pds.invalid", transport).with_response_limit(1024);
    let sync = client.com().atproto().sync();
    match sync.get_blob(&blob_params()).await {
        Err(Error::Transport(error)) => {
            assert_eq!(
                error.kind(),
                TransportErrorKind::BodyTooLarge { limit: 1024 }
            );
            let message = error.to_string();
            assert!(message.contains("1024 bytes"), "{message}");
            assert!(message.contains("with_response_limit"), "{message}");
        }
        other => panic!("expected the limit error, got {other:?}"),
    }
    // The stream has no limit; this transport does not stream, so it is one chunk.
    let mut stream = sync.get_blob_stream(&blob_params()).await.unwrap();
    let mut total = 0;
    while let Some(chunk) = stream.chunk().await.unwrap() {
        total += chunk.len();
    }
    assert_eq!(total, 2048);

    let seen = client.transport().seen.lock().unwrap();
    assert_eq!(
        seen[0].response_limit,
        Some(1024),
        "the transport is told the limit"
    );
    assert_eq!(seen[1].response_limit, None, "a stream has no limit");
    assert_eq!(seen[0].timeout, Some(DEFAULT_TIMEOUT));

    let fresh = Client::new("http://pds.invalid", ScriptedNothing);
    assert_eq!(fresh.response_limit(), DEFAULT_RESPONSE_LIMIT);
    assert_eq!(fresh.timeout(), Some(DEFAULT_TIMEOUT));
    assert_eq!(fresh.with_timeout(None).timeout(), None);
}

struct ScriptedNothing;

impl Transport for ScriptedNothing {
    fn send(&self, _: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async { Err(TransportError::msg("not used")) })
    }
}

#[tokio::test]
async fn the_reqwest_transport_stops_at_the_limit_and_streams_past_it() {
    let body = vec![7u8; 64 * 1024];
    let canned = Canned {
        status: 200,
        content_type: "application/octet-stream",
        body: body.clone(),
    };
    let listener = Listener::start(vec![canned.clone(), canned]).unwrap();
    let client = Client::with_reqwest(listener.url.clone()).with_response_limit(1000);
    let sync = client.com().atproto().sync();
    match sync.get_blob(&blob_params()).await {
        Err(Error::Transport(error)) => {
            assert_eq!(
                error.kind(),
                TransportErrorKind::BodyTooLarge { limit: 1000 }
            )
        }
        other => panic!("expected the limit error, got {other:?}"),
    }
    let mut stream = sync.get_blob_stream(&blob_params()).await.unwrap();
    assert_eq!(stream.status, 200);
    assert_eq!(stream.content_type(), Some("application/octet-stream"));
    let mut read = Vec::new();
    while let Some(chunk) = stream.chunk().await.unwrap() {
        read.extend_from_slice(&chunk);
    }
    assert_eq!(read, body);
}
