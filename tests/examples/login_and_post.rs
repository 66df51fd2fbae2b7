//! Log in and write a post with the generated client. The README shows this file; a test
//! (tests/e2e_readme.rs) checks that the two agree, and `cargo test` builds it.

use atproto_api::app::bsky::feed::post;
use atproto_api::com::atproto::repo::create_record;
use atproto_api::runtime::client::Client;
use atproto_api::runtime::{Datetime, Nsid, Unknown};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::with_reqwest("https://bsky.social");
    // Later calls carry the session's token; an expired one is refreshed by itself.
    let session = client.login("alice.bsky.social", "app-password").await?;

    let post = post::Record::new("Hello from Rust!", Datetime::now());
    let input = create_record::Input::new(
        session.did.clone().into(),
        Nsid::new(post::Record::NSID)?,
        Unknown::from_typed(&post)?,
    );
    let created = client.com().atproto().repo().create_record(&input).await?;
    println!("posted {}", created.uri);

    // The session is serde: save it (it holds the tokens, keep it private) and restore it
    // next time with `client.set_session(serde_json::from_str(&text)?)`.
    std::fs::write("session.json", serde_json::to_string(&client.session())?)?;
    Ok(())
}
