//! The feed both servers serve: made by a seeded PRNG, so every run serves the same bytes.

/// The feed generator record both servers answer for; any other feed is `UnknownFeed`.
pub const FEED: &str = "at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.generator/whats-hot";

/// How many posts the feed holds: more than one page of the largest `limit` (100), so that
/// every page has a next cursor.
pub const FEED_LEN: usize = 200;

/// One post of the feed, as plain text; each side turns it into its own types.
#[derive(Debug, Clone)]
pub struct Item {
    pub post: String,
    /// The repost that put the post in the feed, for one post in eight.
    pub repost: Option<String>,
    pub feed_context: String,
}

/// SplitMix64: small, seeded, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn text(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A `did:plc`: 24 characters of base32.
fn did_plc(rng: &mut Rng) -> String {
    format!("did:plc:{}", rng.text(BASE32, 24))
}

/// A TID: microseconds since the epoch and a clock id, 13 characters of base32-sortable.
fn tid(micros: u64, clock: u64) -> String {
    const SORTABLE: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let value = ((micros & ((1 << 53) - 1)) << 10) | (clock & 0x3ff);
    (0..13)
        .rev()
        .map(|i| SORTABLE[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// The feed, newest first: posts by 40 authors, one in eight reposted by another, each with
/// a feed context of about 400 characters (an opaque token, as feed generators send to learn
/// which of their sources a post came from). That length makes a page of 100 about 50 KB.
pub fn feed() -> Vec<Item> {
    let mut rng = Rng(0x5eed_f00d);
    let authors: Vec<String> = (0..40).map(|_| did_plc(&mut rng)).collect();
    // 2026-11-30, then back in time a few seconds to a few minutes per post.
    let mut micros: u64 = 1_795_996_800_000_000;
    (0..FEED_LEN)
        .map(|i| {
            micros -= 2_000_000 + rng.below(180_000_000);
            let author = &authors[rng.below(authors.len() as u64) as usize];
            let post = format!(
                "at://{author}/app.bsky.feed.post/{}",
                tid(micros, rng.below(1024))
            );
            let repost = (i % 8 == 3).then(|| {
                let by = &authors[rng.below(authors.len() as u64) as usize];
                format!(
                    "at://{by}/app.bsky.feed.repost/{}",
                    tid(micros + 60_000_000, rng.below(1024))
                )
            });
            let len = 370 + rng.below(40) as usize;
            let feed_context = rng.text(BASE64URL, len);
            Item {
                post,
                repost,
                feed_context,
            }
        })
        .collect()
}

/// The feed's URI as a query value, percent-encoded the way `URLSearchParams` (and so the
/// official client) writes it.
pub fn encoded_feed() -> String {
    FEED.replace(':', "%3A").replace('/', "%2F")
}

/// The path and query of a request for `limit` posts.
pub fn path(limit: u32) -> String {
    format!(
        "/xrpc/app.bsky.feed.getFeedSkeleton?feed={}&limit={limit}",
        encoded_feed()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_have_13_characters_and_sort_by_time() {
        let (a, b) = (tid(1_700_000_000_000_000, 5), tid(1_700_000_000_000_001, 0));
        assert_eq!(a.len(), 13);
        assert!(a < b);
        assert!(matches!(a.as_bytes()[0], b'2'..=b'7' | b'a'..=b'j'));
    }
}
