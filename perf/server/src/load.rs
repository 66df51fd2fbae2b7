//! The load generator: `connections` kept-alive HTTP/1.1 connections to a loopback server,
//! each sending the same GET one after the other for a fixed time, every response read whole
//! and checked.

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::header::HOST;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// A request that takes longer than this fails the round: the server is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A ceiling on requests per round, far above what 2 cores can do in a few seconds, so that a
/// round ends even if the clock misbehaves.
pub const MAX_REQUESTS: u64 = 50_000_000;

/// What one round did.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    pub requests: u64,
    pub elapsed: Duration,
}

impl Counted {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `path` to `addr` on `connections` connections for `duration`, and counts the
/// responses. Each must be `200` with a body of `body_len` bytes.
pub async fn run(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    duration: Duration,
    body_len: usize,
) -> Result<Counted, String> {
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    let budget = Arc::new(AtomicU64::new(MAX_REQUESTS));
    // Every connection is open before the clock starts.
    let start = Arc::new(Barrier::new(connections + 1));
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (budget, start, path) = (budget.clone(), start.clone(), path.to_owned());
            tokio::spawn(async move { worker(addr, path, duration, body_len, budget, start).await })
        })
        .collect();
    start.wait().await;
    let began = Instant::now();
    let mut requests = 0;
    let mut failure = None;
    for worker in workers {
        match worker.await {
            Ok(Ok(n)) => requests += n,
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(format!("a worker panicked: {e}")),
        }
    }
    let elapsed = began.elapsed();
    match failure {
        Some(e) => Err(e),
        None => Ok(Counted { requests, elapsed }),
    }
}

async fn worker(
    addr: SocketAddr,
    path: String,
    duration: Duration,
    body_len: usize,
    budget: Arc<AtomicU64>,
    start: Arc<Barrier>,
) -> Result<u64, String> {
    let connected = async {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    // Wait at the barrier even after a failure, or the others would wait forever.
    start.wait().await;
    let (mut sender, connection) = connected.map_err(|e| format!("connect to {addr}: {e}"))?;
    let connection = tokio::spawn(connection);
    let host = addr.to_string();
    let deadline = Instant::now() + duration;
    let mut done = 0;
    while Instant::now() < deadline {
        if budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
        {
            break;
        }
        let request = hyper::Request::get(path.as_str())
            .header(HOST, host.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let exchange = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body.len()))
        };
        let (status, len) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no response within {REQUEST_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if status != hyper::StatusCode::OK || len != body_len {
            return Err(format!(
                "{path}: {status} with {len} bytes, not 200 with {body_len}"
            ));
        }
        done += 1;
    }
    drop(sender);
    let _ = connection.await;
    Ok(done)
}

/// One request, its status, content type and body: for the setup's comparison.
pub async fn fetch(addr: SocketAddr, path: &str) -> Result<(u16, String, Vec<u8>), String> {
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(REQUEST_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| "no response".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    drop(sender);
    let _ = connection.await;
    Ok((status, content_type, body))
}
