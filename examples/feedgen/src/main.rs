//! `cargo run -p feedgen -- SERVICE_DID ENDPOINT FEED_URI WORD FIREHOSE [ADDRESS]`
//!
//! For example, a feed of posts that mention Rust, served on port 3000 behind
//! `https://feeds.example.com`:
//!
//! ```text
//! cargo run -p feedgen -- did:web:feeds.example.com https://feeds.example.com \
//!     at://did:plc:you/app.bsky.feed.generator/rust rust https://bsky.network 127.0.0.1:3000
//! ```
//!
//! Publish the feed with an `app.bsky.feed.generator` record (rkey `rust` above) whose `did`
//! is SERVICE_DID. Callers' tokens are checked against their DID documents on plc.directory.

use atproto_api::runtime::did::{CachingResolver, HttpResolver};
use atproto_api::runtime::service_auth::ServiceAuth;
use atproto_api::runtime::{AtUri, Did};
use std::error::Error;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (did, endpoint, uri, word, firehose, address) = match args.as_slice() {
        [did, endpoint, uri, word, firehose] => {
            (did, endpoint, uri, word, firehose, "127.0.0.1:3000")
        }
        [did, endpoint, uri, word, firehose, address] => {
            (did, endpoint, uri, word, firehose, address.as_str())
        }
        _ => {
            eprintln!("usage: feedgen SERVICE_DID ENDPOINT FEED_URI WORD FIREHOSE [ADDRESS]");
            std::process::exit(2);
        }
    };
    let did = Did::new(did.as_str())?;
    let feed = feedgen::Feed::new(did.clone(), AtUri::new(uri.as_str())?, word);
    let auth = ServiceAuth::new(did, CachingResolver::new(HttpResolver::new()));
    let router = feedgen::router(feed.clone(), auth, endpoint);

    let firehose = firehose.clone();
    tokio::spawn(async move {
        if let Err(error) = feed.follow(&firehose).await {
            eprintln!("the firehose stopped: {error}");
        }
    });
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!("serving on {address}");
    atproto_api::runtime::server::axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
