//! The README's firehose example: every new post on the network, as it is written. Built by
//! `cargo test`; `tests/e2e_firehose.rs` runs the same calls against a real PDS.

use atproto_api::AnyRecord;
use atproto_api::com::atproto::sync::subscribe_repos::{Message, Params};
use atproto_api::runtime::car::Car;
use atproto_api::runtime::cbor::Frame;
use atproto_api::runtime::client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::with_reqwest("https://bsky.network");
    // Reconnects by itself after a disconnect, from the last event it delivered.
    let mut stream = client
        .com()
        .atproto()
        .sync()
        .subscribe_repos(&Params::new());
    while let Some(item) = stream.next().await {
        let Ok(Frame::Message(Message::Commit(commit))) = item else {
            continue; // other messages, and news about the connection
        };
        let blocks = Car::read(commit.blocks.as_slice())?; // every block checked against its CID
        for op in &commit.ops {
            let collection = op.path.split('/').next().unwrap_or_default();
            let Some(bytes) = op.cid.as_ref().and_then(|cid| blocks.get_link(cid)) else {
                continue; // a delete
            };
            if let AnyRecord::AppBskyFeedPost(post) = AnyRecord::from_cbor(collection, bytes)? {
                println!("{}: {}", commit.repo, post.text);
            }
        }
    }
    Ok(())
}
