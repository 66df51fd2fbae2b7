//! Side A: the endpoint served by our generated layer, `XrpcRouter` with the generated
//! `Endpoint`, `Params`, `Output` and `Error`, on the axum it re-exports.

use crate::data::{FEED, Item};
use atproto_api::app::bsky::feed::{defs, get_feed_skeleton};
use atproto_api::runtime::AtUri;
use atproto_api::runtime::params::QueryPairs;
use atproto_api::runtime::server::{self, BodyOut, FromQuery, Request, XrpcRouter, axum};
use std::sync::Arc;

/// The feed as generated types, built once.
pub struct Feed {
    uri: AtUri,
    posts: Vec<defs::SkeletonFeedPost>,
}

impl Feed {
    pub fn new(items: &[Item]) -> Feed {
        let posts = items
            .iter()
            .map(|item| {
                let mut post = defs::SkeletonFeedPost::new(
                    AtUri::new(item.post.as_str()).expect("a post URI"),
                );
                post.reason = item.repost.as_deref().map(|repost| {
                    let uri = AtUri::new(repost).expect("a repost URI");
                    defs::SkeletonFeedPostReason::SkeletonReasonRepost(Box::new(
                        defs::SkeletonReasonRepost::new(uri),
                    ))
                });
                post.feed_context = Some(item.feed_context.clone());
                post
            })
            .collect();
        Feed {
            uri: AtUri::new(FEED).expect("the feed URI"),
            posts,
        }
    }
}

/// A page of the feed: `limit` posts from the cursor (an offset), and the next cursor.
async fn feed_skeleton(
    request: Request<Arc<Feed>, get_feed_skeleton::Params>,
) -> Result<get_feed_skeleton::Output, get_feed_skeleton::Error> {
    page(&request.state, &request.params)
}

/// The handler's work, apart so that the stage timings can call it.
pub fn page(
    feed: &Feed,
    params: &get_feed_skeleton::Params,
) -> Result<get_feed_skeleton::Output, get_feed_skeleton::Error> {
    if params.feed != feed.uri {
        return Err(get_feed_skeleton::Error::UnknownFeed {
            message: Some("this service has no such feed".into()),
        });
    }
    let offset = match params.cursor.as_deref() {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .map_err(|_| get_feed_skeleton::Error::Other {
                error: "InvalidRequest".into(),
                message: Some("a bad cursor".into()),
            })?,
    };
    // `limit()` is the lexicon's default when absent; the router already checked 1..=100.
    let limit = params.limit() as usize;
    let page = feed
        .posts
        .iter()
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    let mut output = get_feed_skeleton::Output::new(page);
    let next = offset.saturating_add(limit);
    if next < feed.posts.len() {
        output.cursor = Some(next.to_string());
    }
    Ok(output)
}

/// What the router does with a query string before the handler, as in `server.rs`: the
/// pairs, the lexicon's defaults, then the generated reader and `validate()`.
pub fn read_params(query: &str) -> Result<get_feed_skeleton::Params, String> {
    let mut pairs = QueryPairs::parse(query).map_err(|e| e.to_string())?;
    for (key, value) in <get_feed_skeleton::Endpoint as server::Endpoint>::DEFAULTS {
        pairs.or_default(key, value);
    }
    <get_feed_skeleton::Params as FromQuery>::from_query(pairs)
}

/// How the router writes an output.
pub fn write(output: get_feed_skeleton::Output) -> axum::response::Response {
    <server::Json<get_feed_skeleton::Output> as BodyOut>::write(output, Some("application/json"))
}

/// The router: the generated layer reads and checks the parameters and writes the output.
pub fn router(feed: Arc<Feed>) -> axum::Router {
    XrpcRouter::new(feed)
        .handle(get_feed_skeleton::Endpoint, feed_skeleton)
        .into_router()
}
