//! Check a service-auth token as a server would. The README shows this file; a test
//! (tests/e2e_readme.rs) checks that the two agree, and `cargo test` builds it.

use atproto_api::runtime::Did;
use atproto_api::runtime::did::{CachingResolver, HttpResolver};
use atproto_api::runtime::service_auth::ServiceAuth;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One for the whole server: it holds the cache of DID documents.
    let auth = ServiceAuth::new(
        Did::new("did:web:feed.example.com")?, // this service: tokens must name it in `aud`
        // did:plc from https://plc.directory (`with_plc_url` for another), did:web from the host.
        CachingResolver::new(HttpResolver::new()),
    );

    // In the handler of app.bsky.feed.getFeedSkeleton: the request's Authorization header.
    let authorization = std::env::args().nth(1).unwrap_or_default();
    match auth
        .verify(&authorization, "app.bsky.feed.getFeedSkeleton")
        .await
    {
        Ok(caller) => println!("called by {}", caller.did),
        // Answer 401 with {"error": error.error_name(), "message": error.to_string()}.
        Err(error) => println!("401 {}: {error}", error.error_name()),
    }
    Ok(())
}
