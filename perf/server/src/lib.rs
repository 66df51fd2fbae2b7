//! The server bench's parts: the data, the two servers of the same endpoint
//! (`app.bsky.feed.getFeedSkeleton`), the load generator, the machine's counters and the
//! in-process stage timings.
//! `benches/server.rs` runs them.

pub mod data;
pub mod generated;
pub mod hand;
pub mod load;
pub mod machine;
pub mod stages;

use std::net::{Ipv4Addr, SocketAddr};
use std::thread::JoinHandle;

/// A server on its own tokio runtime and threads (named `name`, so that their CPU time can be
/// told apart), on a loopback port; it stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(name: &str, threads: usize, router: axum::Router) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    use axum::serve::ListenerExt as _;
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("a tokio listener")
                        .tap_io(|tcp| {
                            let _ = tcp.set_nodelay(true);
                        });
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                        .expect("the server runs");
                });
            })?;
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
