//! A feed generator: it follows a firehose for new posts that mention a word and serves them
//! as a feed, newest first. Both halves are the generated crate's: the subscription client
//! reads `com.atproto.sync.subscribeRepos`, and the server answers
//! `app.bsky.feed.getFeedSkeleton` (for callers with a service-auth token) and
//! `app.bsky.feed.describeFeedGenerator`, plus the `did:web` document that points the network
//! at this service.

use atproto_api::AnyRecord;
use atproto_api::app::bsky::feed::{defs, describe_feed_generator, get_feed_skeleton, post};
use atproto_api::com::atproto::sync::subscribe_repos::{self, RepoOpAction};
use atproto_api::runtime::car::Car;
use atproto_api::runtime::cbor::Frame;
use atproto_api::runtime::client::Client;
use atproto_api::runtime::server::{Request, XrpcRouter, axum};
use atproto_api::runtime::service_auth::ServiceAuth;
use atproto_api::runtime::{AtUri, Did};
use std::error::Error;
use std::sync::{Arc, RwLock};

/// How many posts the feed keeps; older ones fall off.
const KEPT: usize = 10_000;

/// The feed: which posts are in it, and what it is called.
pub struct Feed {
    service_did: Did,
    /// The `app.bsky.feed.generator` record that publishes the feed.
    uri: AtUri,
    word: String,
    /// Post URIs, oldest first.
    posts: RwLock<Vec<AtUri>>,
}

impl Feed {
    pub fn new(service_did: Did, uri: AtUri, word: &str) -> Arc<Feed> {
        Arc::new(Feed {
            service_did,
            uri,
            word: word.to_lowercase(),
            posts: RwLock::new(Vec::new()),
        })
    }

    fn matches(&self, post: &post::Record) -> bool {
        post.text.to_lowercase().contains(&self.word)
    }

    fn add(&self, uri: AtUri) {
        let mut posts = self.posts.write().unwrap_or_else(|e| e.into_inner());
        if posts.len() == KEPT {
            posts.remove(0);
        }
        posts.push(uri);
    }

    /// Follows the firehose of `service` (a relay or a PDS) and adds each new post that
    /// mentions the word. Returns when the stream gives up reconnecting.
    pub async fn follow(&self, service: &str) -> Result<(), Box<dyn Error + Send + Sync>> {
        let client = Client::with_reqwest(service);
        let mut stream = client
            .com()
            .atproto()
            .sync()
            .subscribe_repos(&subscribe_repos::Params::new());
        while let Some(item) = stream.next().await {
            let Frame::Message(subscribe_repos::Message::Commit(commit)) = item? else {
                continue;
            };
            let blocks = Car::read(commit.blocks.as_slice())?;
            for op in &commit.ops {
                let Some((collection, _)) = op.path.split_once('/') else {
                    continue;
                };
                if op.action != RepoOpAction::Create || collection != post::Record::NSID {
                    continue;
                }
                let Some(bytes) = op.cid.as_ref().and_then(|cid| blocks.get_link(cid)) else {
                    continue;
                };
                if let AnyRecord::AppBskyFeedPost(post) = AnyRecord::from_cbor(collection, bytes)?
                    && self.matches(&post)
                {
                    self.add(AtUri::new(format!("at://{}/{}", commit.repo, op.path))?);
                }
            }
        }
        Ok(())
    }

    /// Up to `limit` posts, newest first, after the first `skip`.
    fn page(&self, skip: usize, limit: usize) -> (Vec<AtUri>, usize) {
        let posts = self.posts.read().unwrap_or_else(|e| e.into_inner());
        let page: Vec<AtUri> = posts.iter().rev().skip(skip).take(limit).cloned().collect();
        let next = skip + page.len();
        (page, next)
    }
}

type FeedRequest = Request<Arc<Feed>, get_feed_skeleton::Params>;

/// `getFeedSkeleton`: a page of the feed for a caller with a service-auth token. The cursor is
/// how many posts the caller has seen.
async fn feed_skeleton(
    request: FeedRequest,
) -> Result<get_feed_skeleton::Output, get_feed_skeleton::Error> {
    request.require_caller()?;
    let feed = &request.state;
    let params = &request.params;
    if params.feed != feed.uri {
        return Err(get_feed_skeleton::Error::UnknownFeed {
            message: Some(format!("this service serves {}", feed.uri)),
        });
    }
    let skip = match &params.cursor {
        None => 0,
        Some(cursor) => cursor
            .parse()
            .map_err(|_| get_feed_skeleton::Error::Other {
                error: "InvalidRequest".into(),
                message: Some(format!("`{cursor}` is not a cursor of this feed")),
            })?,
    };
    // The lexicon's default (50) is applied before the handler runs.
    let limit = params.limit.unwrap_or(50) as usize;
    let (posts, next) = feed.page(skip, limit);
    let more = posts.len() == limit;
    let mut output = get_feed_skeleton::Output::new(
        posts.into_iter().map(defs::SkeletonFeedPost::new).collect(),
    );
    output.cursor = more.then(|| next.to_string());
    Ok(output)
}

/// `describeFeedGenerator`: this service and its one feed.
async fn describe(
    request: Request<Arc<Feed>>,
) -> Result<describe_feed_generator::Output, describe_feed_generator::Error> {
    let feed = &request.state;
    Ok(describe_feed_generator::Output::new(
        feed.service_did.clone(),
        vec![describe_feed_generator::Feed::new(feed.uri.clone())],
    ))
}

/// The service: its XRPC methods (tokens checked by `auth`) and, at `/.well-known/did.json`,
/// the `did:web` document that names `endpoint` (`https://feeds.example.com`) as its feed
/// generator.
pub fn router(feed: Arc<Feed>, auth: ServiceAuth, endpoint: &str) -> axum::Router {
    let document = did_document(&feed.service_did, endpoint);
    XrpcRouter::new(feed)
        .service_auth(auth)
        .handle(get_feed_skeleton::Endpoint, feed_skeleton)
        .handle(describe_feed_generator::Endpoint, describe)
        .into_router()
        .route(
            "/.well-known/did.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
}

fn did_document(did: &Did, endpoint: &str) -> String {
    serde_json::json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "service": [{ "id": "#bsky_fg", "type": "BskyFeedGenerator", "serviceEndpoint": endpoint }],
    })
    .to_string()
}
