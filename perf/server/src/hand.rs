//! Side B: the same endpoint written by hand, as a service without our crate would: axum's
//! `Query` and `Json` with serde-derived types.

use crate::data::{FEED, Item};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct Params {
    feed: String,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    feed: Vec<SkeletonFeedPost>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkeletonFeedPost {
    post: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_context: Option<String>,
}

/// The union, tagged as XRPC tags it (`$type` first, which serde's internal tagging does).
#[derive(Clone, Serialize)]
#[serde(tag = "$type")]
pub enum Reason {
    #[serde(rename = "app.bsky.feed.defs#skeletonReasonRepost")]
    Repost { repost: String },
}

#[derive(Debug, Serialize)]
pub struct XrpcError {
    error: &'static str,
    message: &'static str,
}

pub type Failure = (StatusCode, Json<XrpcError>);

fn failure(error: &'static str, message: &'static str) -> Failure {
    (StatusCode::BAD_REQUEST, Json(XrpcError { error, message }))
}

/// The feed as hand-written types, built once.
pub struct Feed {
    posts: Vec<SkeletonFeedPost>,
}

impl Feed {
    pub fn new(items: &[Item]) -> Feed {
        let posts = items
            .iter()
            .map(|item| SkeletonFeedPost {
                post: item.post.clone(),
                reason: item.repost.clone().map(|repost| Reason::Repost { repost }),
                feed_context: Some(item.feed_context.clone()),
            })
            .collect();
        Feed { posts }
    }
}

/// The same page as the generated side's, with the checks it gets from the lexicon (the
/// limit's range) written out.
async fn feed_skeleton(
    State(feed): State<Arc<Feed>>,
    Query(params): Query<Params>,
) -> Result<Json<Output>, Failure> {
    page(&feed, &params).map(Json)
}

/// The handler's work, apart so that the stage timings can call it.
pub fn page(feed: &Feed, params: &Params) -> Result<Output, Failure> {
    if params.feed != FEED {
        return Err(failure("UnknownFeed", "this service has no such feed"));
    }
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(failure("InvalidRequest", "limit must be 1 to 100"));
    }
    let offset = match params.cursor.as_deref() {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .map_err(|_| failure("InvalidRequest", "a bad cursor"))?,
    };
    let limit = limit as usize;
    let page = feed
        .posts
        .iter()
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    let next = offset.saturating_add(limit);
    Ok(Output {
        cursor: (next < feed.posts.len()).then(|| next.to_string()),
        feed: page,
    })
}

/// What axum's `Query` does with the request's URI.
pub fn read_params(uri: &axum::http::Uri) -> Result<Params, String> {
    Query::<Params>::try_from_uri(uri)
        .map(|Query(params)| params)
        .map_err(|e| e.body_text())
}

/// What axum's `Json` does with an output.
pub fn write(output: Output) -> axum::response::Response {
    axum::response::IntoResponse::into_response(Json(output))
}

pub fn router(feed: Arc<Feed>) -> axum::Router {
    axum::Router::new()
        .route(
            "/xrpc/app.bsky.feed.getFeedSkeleton",
            axum::routing::get(feed_skeleton),
        )
        .with_state(feed)
}
