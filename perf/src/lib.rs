//! Test data for the benches: real-looking Bluesky JSON and firehose frames made by a seeded
//! PRNG, the same bytes on every run and machine, without network.
//!
//! - [`data::posts`]: `app.bsky.feed.post` records (a JSON array of 100, about 97 KB).
//! - [`data::timeline`]: one `app.bsky.feed.getTimeline` output page of 16 items (about 58 KB).
//! - [`firehose::frames`]: `com.atproto.sync.subscribeRepos` frames, mostly `#commit`s with
//!   their CAR slices; [`indexer`] reads them with our types and as `Ipld`.
//! - [`export::build`]: a repository export (`com.atproto.sync.getRepo`'s CAR file) of up to
//!   hundreds of thousands of records, for `perf-repo`.

pub mod data;
pub mod export;
pub mod firehose;
pub mod indexer;
