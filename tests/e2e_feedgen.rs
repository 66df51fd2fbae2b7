//! The example feed generator (`examples/feedgen`) against the official PDS: it follows the
//! PDS's firehose, and accounts' posts that mention its word show up in its feed, newest first,
//! page by page, for a caller holding a service-auth token the PDS minted for it. Calls
//! without a token, with a token for another method or another service, re-signed by another
//! key or expired, for another feed, or with a bad cursor are refused, each with its reason.

use atproto_api::app::bsky::feed::{describe_feed_generator, get_feed_skeleton, post};
use atproto_api::com::atproto::repo::create_record;
use atproto_api::com::atproto::server::{create_account, get_service_auth};
use atproto_api::runtime::client::{Client, ReqwestTransport, Session};
use atproto_api::runtime::did::k256;
use atproto_api::runtime::did::{CachingResolver, HttpResolver};
use atproto_api::runtime::service_auth::ServiceAuth;
use atproto_api::runtime::{AtUri, Datetime, Did, Handle, Nsid, Unknown};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use integration_tests::pds::Pds;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const SERVICE: &str = "did:web:feeds.example.test";
const FEED: &str = "at://did:plc:publisher/app.bsky.feed.generator/rust";
const PASSWORD: &str = "feedgen-password-1";

async fn account(client: &Client<ReqwestTransport>, name: &str) -> Session {
    let handle = Handle::new(format!("{name}.test")).unwrap();
    let mut input = create_account::Input::new(handle.clone());
    input.email = Some(format!("{name}@example.com"));
    input.password = Some(PASSWORD.into());
    client
        .com()
        .atproto()
        .server()
        .create_account(&input)
        .await
        .unwrap();
    client.login(handle.as_str(), PASSWORD).await.unwrap()
}

async fn write_post(client: &Client<ReqwestTransport>, session: &Session, text: &str) -> String {
    let record = post::Record::new(text, Datetime::now());
    let input = create_record::Input::new(
        session.did.clone().into(),
        Nsid::new(post::Record::NSID).unwrap(),
        Unknown::from_typed(&record).unwrap(),
    );
    let created = client
        .com()
        .atproto()
        .repo()
        .create_record(&input)
        .await
        .unwrap();
    created.uri.as_str().to_owned()
}

async fn token(client: &Client<ReqwestTransport>, aud: &str, lxm: &str) -> String {
    let mut params = get_service_auth::Params::new(aud);
    params.lxm = Some(Nsid::new(lxm).unwrap());
    client
        .com()
        .atproto()
        .server()
        .get_service_auth(&params)
        .await
        .unwrap()
        .token
}

/// A raw call, so that the test chooses the token.
async fn call(url: &str, query: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().get(format!("{url}/xrpc/{query}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_generator_serves_matching_posts_to_authenticated_callers() {
    let pds = Pds::start().unwrap_or_else(|e| panic!("cannot start the PDS: {e}"));
    let feed = feedgen::Feed::new(
        Did::new(SERVICE).unwrap(),
        AtUri::new(FEED).unwrap(),
        "Rust",
    );
    // No leeway, so that a token expires when it says.
    let auth = ServiceAuth::new(
        Did::new(SERVICE).unwrap(),
        CachingResolver::new(HttpResolver::new().with_plc_url(pds.plc_url())),
    )
    .with_leeway(Duration::ZERO);
    let router = feedgen::router(feed.clone(), auth, "https://feeds.example.test");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { atproto_api::runtime::server::axum::serve(listener, router).await });
    let firehose = pds.url().to_owned();
    let follower = feed.clone();
    tokio::spawn(async move { follower.follow(&firehose).await });

    let client = Client::with_reqwest(pds.url());
    let session = account(&client, "rustacean").await;
    // Give the subscription a moment to connect; the PDS replays nothing without a cursor.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(write_post(&client, &session, &format!("Rust post {i}")).await);
        write_post(
            &client,
            &session,
            &format!("a post about something else {i}"),
        )
        .await;
    }
    expected.reverse(); // newest first

    let viewer = token(&client, SERVICE, get_feed_skeleton::NSID).await;
    let query = |limit: usize, cursor: Option<&str>| {
        let cursor = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        format!(
            "{}?feed={FEED}&limit={limit}{cursor}",
            get_feed_skeleton::NSID
        )
    };
    // The firehose is asynchronous: wait until the feed has all five.
    let mut seen = Vec::new();
    for _ in 0..100 {
        let (status, body) = call(&url, &query(10, None), Some(&viewer)).await;
        assert_eq!(status, 200, "{body}");
        seen = body["feed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["post"].as_str().unwrap().to_owned())
            .collect();
        if seen.len() == expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen, expected,
        "the posts that mention the word, newest first"
    );

    // Page by page with the cursor.
    let (_, first) = call(&url, &query(2, None), Some(&viewer)).await;
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    let (_, second) = call(&url, &query(2, Some(&cursor)), Some(&viewer)).await;
    let pages: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|page| {
            page["feed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["post"].as_str().unwrap())
        })
        .collect();
    assert_eq!(pages, expected[..4]);

    // Refusals: no token, a token for another method or service, another feed, a bad cursor.
    let (status, body) = call(&url, &query(2, None), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("AuthenticationRequired")),
        "{body}"
    );
    let other_method = token(&client, SERVICE, describe_feed_generator::NSID).await;
    let (status, body) = call(&url, &query(2, None), Some(&other_method)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("BadJwtLexiconMethod")),
        "{body}"
    );
    let other_service = token(
        &client,
        "did:web:other.example.test",
        get_feed_skeleton::NSID,
    )
    .await;
    let (status, body) = call(&url, &query(2, None), Some(&other_service)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("BadJwtAudience")),
        "{body}"
    );
    // The viewer's token re-signed by a key that is not the account's.
    let (signed, _) = viewer.rsplit_once('.').unwrap();
    let forger = k256::ecdsa::SigningKey::from_slice(&[42; 32]).unwrap();
    let signature: k256::ecdsa::Signature =
        k256::ecdsa::signature::Signer::sign(&forger, signed.as_bytes());
    let forged = format!(
        "{signed}.{}",
        B64.encode(signature.normalize_s().to_bytes())
    );
    let (status, body) = call(&url, &query(2, None), Some(&forged)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("BadJwtSignature")),
        "{body}"
    );
    // A token that expires in 2 s, used after it did.
    let mut params = get_service_auth::Params::new(SERVICE);
    params.lxm = Some(Nsid::new(get_feed_skeleton::NSID).unwrap());
    params.exp = Some(unix_now() + 2);
    let short = client
        .com()
        .atproto()
        .server()
        .get_service_auth(&params)
        .await
        .unwrap()
        .token;
    assert_eq!(call(&url, &query(2, None), Some(&short)).await.0, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = call(&url, &query(2, None), Some(&short)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("JwtExpired")),
        "{body}"
    );
    let other_feed = format!(
        "{}?feed=at://did:plc:x/app.bsky.feed.generator/other",
        get_feed_skeleton::NSID
    );
    let (status, body) = call(&url, &other_feed, Some(&viewer)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("UnknownFeed")),
        "{body}"
    );
    let (status, body) = call(&url, &query(2, Some("later")), Some(&viewer)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("InvalidRequest")),
        "{body}"
    );

    // describeFeedGenerator needs no token; the did:web document points at the service.
    let (status, body) = call(&url, describe_feed_generator::NSID, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({ "did": SERVICE, "feeds": [{ "uri": FEED }] })
    );
    let document: serde_json::Value = reqwest::get(format!("{url}/.well-known/did.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        document["service"][0]["serviceEndpoint"],
        "https://feeds.example.test"
    );
}
