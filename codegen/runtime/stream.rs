//! Event streams over WebSocket (feature `stream`): a subscription as an async stream of typed
//! frames, resumed from the last cursor after a disconnect, with a bounded buffer.
//!
//! A task reads the WebSocket and decodes each binary frame; it waits while the buffer is full,
//! so a slow consumer slows the reading (the server may then drop it with `ConsumerTooSlow`)
//! instead of growing memory. After a disconnect it reconnects with exponential backoff and
//! the `cursor` parameter set to the last sequence number seen, so no event is lost and none
//! is delivered twice. An error frame ends the stream, as the protocol says. Dropping the
//! [`Subscription`] (or [`Subscription::close`]) closes the connection.

use super::cbor::{Frame, FrameError, FrameMessage};
use super::client::{Query, XrpcErrorKind};
use futures_util::StreamExt as _;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How a subscription connects, buffers and reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Frames decoded ahead of the consumer; the reader waits when this many are unread.
    pub buffer: usize,
    /// The first wait before reconnecting; it doubles after each failed attempt.
    pub initial_backoff: Duration,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Reconnection attempts in a row before the stream ends (`None`: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            buffer: 256,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

/// Something that happened to the stream rather than a frame it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// A frame that could not be read; it is skipped and the stream goes on.
    BadFrame(FrameError),
    /// The connection was lost (or could not be made); the stream reconnects after `retry_in`,
    /// from the last cursor.
    Disconnected { reason: String, retry_in: Duration },
    /// The stream gave up after `SubscribeOptions::max_attempts` failed reconnections.
    GaveUp { reason: String },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::BadFrame(error) => write!(f, "{error} (skipped)"),
            StreamError::Disconnected { reason, retry_in } => {
                write!(f, "disconnected: {reason}; reconnecting in {retry_in:?}")
            }
            StreamError::GaveUp { reason } => write!(f, "gave up reconnecting: {reason}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// What a subscription yields: a frame, or news about the stream.
pub type StreamItem<M, E> = Result<Frame<M, E>, StreamError>;

/// A running subscription: an async stream of [`StreamItem`]s. Implements
/// `futures::Stream`; [`Subscription::next`] is the same without the trait.
pub struct Subscription<M, E> {
    receiver: mpsc::Receiver<StreamItem<M, E>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl<M, E> fmt::Debug for Subscription<M, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl<M, E> Subscription<M, E> {
    /// The next frame or stream event; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<StreamItem<M, E>> {
        self.receiver.recv().await
    }

    /// How many frames are decoded and waiting to be read (at most `SubscribeOptions::buffer`).
    pub fn waiting(&self) -> usize {
        self.receiver.len()
    }

    /// Closes the connection and waits until it is closed.
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl<M, E> Drop for Subscription<M, E> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl<M, E> futures_util::Stream for Subscription<M, E> {
    type Item = StreamItem<M, E>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

/// The WebSocket URL of `nsid` on the service at `base_url` (`http` -> `ws`, `https` -> `wss`).
pub fn websocket_url(base_url: &str, nsid: &str, query: &Query) -> String {
    let base = base_url.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    format!("{base}/xrpc/{nsid}{}", query.to_query_string())
}

/// Subscribes to the event stream `nsid` of the service at `base_url`, with `query` (its
/// parameters, `cursor` included). Must be called within a tokio runtime.
pub fn subscribe<M, E>(
    base_url: &str,
    nsid: &'static str,
    query: Query,
    options: SubscribeOptions,
) -> Subscription<M, E>
where
    M: FrameMessage + Send + 'static,
    E: XrpcErrorKind + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(options.buffer.max(1));
    let (stop, stopped) = oneshot::channel();
    let reader = Reader {
        base_url: base_url.to_owned(),
        nsid,
        query,
        options,
        sender,
    };
    let task = tokio::spawn(reader.run(stopped));
    Subscription {
        receiver,
        stop: Some(stop),
        task: Some(task),
    }
}

struct Reader<M, E> {
    base_url: String,
    nsid: &'static str,
    query: Query,
    options: SubscribeOptions,
    sender: mpsc::Sender<StreamItem<M, E>>,
}

/// Why a connection ended.
enum Ended {
    /// The consumer is gone, stopped the stream, or the server sent an error frame.
    Finished,
    /// The connection dropped; reconnect.
    Lost(String),
}

impl<M: FrameMessage + Send + 'static, E: XrpcErrorKind + Send + 'static> Reader<M, E> {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        let mut backoff = self.options.initial_backoff;
        let mut attempts = 0u32;
        loop {
            let url = websocket_url(&self.base_url, self.nsid, &self.query);
            let connected = tokio::select! {
                connected = tokio_tungstenite::connect_async(url.as_str()) => connected,
                _ = &mut stopped => return,
            };
            let reason = match connected {
                Ok((socket, _)) => {
                    backoff = self.options.initial_backoff;
                    attempts = 0;
                    match self.read(socket, &mut stopped).await {
                        Ended::Finished => return,
                        Ended::Lost(reason) => reason,
                    }
                }
                Err(error) => error.to_string(),
            };
            attempts += 1;
            if self.options.max_attempts.is_some_and(|max| attempts > max) {
                let _ = self.sender.send(Err(StreamError::GaveUp { reason })).await;
                return;
            }
            let item = Err(StreamError::Disconnected {
                reason,
                retry_in: backoff,
            });
            if self.sender.send(item).await.is_err() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut stopped => return,
            }
            backoff = (backoff * 2).min(self.options.max_backoff);
        }
    }

    async fn read<S>(
        &mut self,
        mut socket: tokio_tungstenite::WebSocketStream<S>,
        stopped: &mut oneshot::Receiver<()>,
    ) -> Ended
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        loop {
            let message = tokio::select! {
                message = socket.next() => message,
                _ = &mut *stopped => {
                    let _ = socket.close(None).await;
                    return Ended::Finished;
                }
            };
            let bytes = match message {
                Some(Ok(WsMessage::Binary(bytes))) => bytes,
                Some(Ok(WsMessage::Close(_))) | None => return Ended::Lost("closed by the server".into()),
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Ended::Lost(error.to_string()),
            };
            let item = match super::cbor::read_frame::<M, E>(&bytes) {
                Ok(frame) => {
                    if let Some(seq) = match &frame {
                        Frame::Message(message) => message.seq(),
                        _ => None,
                    } {
                        self.query.set("cursor", seq.to_string());
                    }
                    Ok(frame)
                }
                Err(error) => Err(StreamError::BadFrame(error)),
            };
            let last = matches!(item, Ok(Frame::Error(_)));
            // Waits while the buffer is full: the consumer sets the pace.
            let sent = tokio::select! {
                sent = self.sender.send(item) => sent.is_ok(),
                _ = &mut *stopped => false,
            };
            if !sent || last {
                let _ = socket.close(None).await;
                return Ended::Finished;
            }
        }
    }
}
