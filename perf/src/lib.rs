//! Test data for the parse benches: real-looking Bluesky JSON made by a seeded PRNG, the same
//! bytes on every run and machine, without network.
//!
//! - [`data::posts`]: `app.bsky.feed.post` records (a JSON array of 100, about 97 KB).
//! - [`data::timeline`]: one `app.bsky.feed.getTimeline` output page of 16 items (about 58 KB).

pub mod data;
