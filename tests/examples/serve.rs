//! Serve a lexicon method: the README shows this file; a test (tests/e2e_readme.rs) checks
//! that the two agree, and `cargo test` builds it. `examples/feedgen` is the whole service.

use atproto_api::app::bsky::feed::{defs, get_feed_skeleton};
use atproto_api::runtime::did::{CachingResolver, HttpResolver};
use atproto_api::runtime::server::{Request, XrpcRouter, axum};
use atproto_api::runtime::service_auth::ServiceAuth;
use atproto_api::runtime::{AtUri, Did};
use std::sync::Arc;

/// What the handlers share (cloned for each request): here, the posts of the feed.
struct Posts(Vec<AtUri>);

async fn feed_skeleton(
    request: Request<Arc<Posts>, get_feed_skeleton::Params>,
) -> Result<get_feed_skeleton::Output, get_feed_skeleton::Error> {
    let caller = request.require_caller()?; // a verified service-auth token, or 401
    println!("{} reads {}", caller.did, request.params.feed);
    let limit = request.params.limit.unwrap_or(50) as usize; // the lexicon's default applies
    let posts = request.state.0.iter().take(limit).cloned();
    let feed = posts.map(defs::SkeletonFeedPost::new).collect();
    Ok(get_feed_skeleton::Output::new(feed))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let post = AtUri::new("at://did:plc:abc/app.bsky.feed.post/3kabc")?;
    let auth = ServiceAuth::new(
        Did::new("did:web:feed.example.com")?, // this service: tokens must name it in `aud`
        CachingResolver::new(HttpResolver::new()),
    );
    let router = XrpcRouter::new(Arc::new(Posts(vec![post])))
        .service_auth(auth)
        .handle(get_feed_skeleton::Endpoint, feed_skeleton)
        .into_router(); // an axum Router; every other /xrpc/ method answers 501
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, router).await?;
    Ok(())
}
