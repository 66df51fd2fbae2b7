//! Our generated server (feature `server`, on axum) against our generated client, for every
//! construct of the fixtures crate: parameters of every kind with their defaults, typed
//! errors, a JSON procedure with a union output, raw bytes in and out, a subscription with
//! its cursor, error frame and end; and a table of bad requests, each answered with its
//! status and a message that says what is wrong.

use futures_util::StreamExt as _;
use lexicon_fixtures::com::example::fixture::{procedure, query, subscription, r#union, upload};
use lexicon_fixtures::runtime::cbor::Frame;
use lexicon_fixtures::runtime::client::{Client, Error, RawBody};
use lexicon_fixtures::runtime::server::{NoParams, Request, XrpcRouter, axum};
use std::sync::{Arc, Mutex};

/// What the handlers saw, for the test to check.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

async fn query_handler(
    request: Request<Seen, query::Params>,
) -> Result<query::Output, query::Error> {
    let p = &request.params;
    request.state.push(format!(
        "actor={} limit={:?} reverse={:?} tags={:?} sort={:?} cursor={:?} extra={}",
        p.actor.as_str(),
        p.limit,
        p.reverse,
        p.tags,
        p.sort.as_ref().map(|s| s.as_str().to_owned()),
        p.cursor,
        serde_json::to_string(&p.extra.0).unwrap()
    ));
    match p.actor.as_str() {
        "nobody.test" => Err(query::Error::NotFound {
            message: Some("no such actor".into()),
        }),
        "limited.test" => Err(
            <query::Error as lexicon_fixtures::runtime::client::XrpcErrorKind>::from_parts(
                "RateLimitExceeded".into(),
                None,
            ),
        ),
        _ => {
            let items = (0..p.limit.unwrap_or(0))
                .map(r#union::Square::new)
                .collect();
            let mut output = query::Output::new(items);
            output.cursor = Some("next".into());
            Ok(output)
        }
    }
}

async fn procedure_handler(
    request: Request<Seen, NoParams, procedure::Input>,
) -> Result<procedure::Output, procedure::Error> {
    let side = request.input.side;
    Ok(procedure::Output::UnionCircle(Box::new(
        r#union::Circle::new(side * 2),
    )))
}

async fn upload_handler(
    request: Request<Seen, NoParams, RawBody>,
) -> Result<RawBody, upload::Error> {
    let mut bytes = request.input.bytes;
    bytes.reverse();
    request
        .state
        .push(format!("content type {:?}", request.input.content_type));
    Ok(RawBody {
        content_type: None,
        bytes,
    })
}

/// Ticks from the cursor on (0 without one), up to 5; a cursor past 5 is `FutureCursor`.
async fn subscription_handler(
    request: Request<Seen, subscription::Params>,
) -> Result<
    impl futures_util::Stream<Item = Result<subscription::Message, subscription::Error>>,
    subscription::Error,
> {
    let from = request.params.cursor.unwrap_or(0);
    if from > 5 {
        return Err(subscription::Error::FutureCursor {
            message: Some(format!("{from} is ahead of 5")),
        });
    }
    let info = subscription::Message::Info(Box::new(subscription::Info::new("hello")));
    let ticks = (from + 1..=5).map(|seq| {
        Ok(subscription::Message::Tick(Box::new(
            subscription::Tick::new(seq),
        )))
    });
    Ok(futures_util::stream::iter(
        std::iter::once(Ok(info)).chain(ticks),
    ))
}

/// Serves the fixtures' endpoints on 127.0.0.1 and gives the base URL.
async fn serve(seen: Seen) -> String {
    let router = XrpcRouter::new(seen)
        .body_limit(64 * 1024)
        .handle(query::Endpoint, query_handler)
        .handle(procedure::Endpoint, procedure_handler)
        .handle(upload::Endpoint, upload_handler)
        .subscribe(subscription::Endpoint, subscription_handler)
        .into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_and_our_server_agree_on_every_construct() {
    let seen = Seen::default();
    let url = serve(seen.clone()).await;
    let client = Client::with_reqwest(url.as_str());
    let fixture = client.com().example().fixture();

    // Parameters of every kind; the defaults the client sends are the server's defaults too.
    let mut params = query::Params::new("alice.test".parse().unwrap());
    params.tags = Some(vec!["a b".into(), "c&d".into()]);
    params.sort = Some(query::ParamsSort::from("top"));
    params.limit = Some(3);
    let output = fixture.query(&params).await.unwrap();
    assert_eq!(output.items.len(), 3);
    assert_eq!(output.cursor.as_deref(), Some("next"));
    assert_eq!(
        seen.take(),
        [
            r#"actor=alice.test limit=Some(3) reverse=Some(false) tags=Some(["a b", "c&d"]) sort=Some("top") cursor=None extra={}"#
        ]
    );

    // Typed errors, with the status their name has.
    let error = fixture
        .query(&query::Params::new("nobody.test".parse().unwrap()))
        .await
        .unwrap_err();
    match error {
        Error::Xrpc {
            status: 400,
            error: query::Error::NotFound { message },
        } => assert_eq!(message.as_deref(), Some("no such actor")),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let error = fixture
        .query(&query::Params::new("limited.test".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.error_name()),
        (Some(429), Some("RateLimitExceeded"))
    );
    seen.take();

    // A JSON procedure whose output is a union.
    let output = fixture.procedure(&r#union::Square::new(21)).await.unwrap();
    match output {
        procedure::Output::UnionCircle(circle) => assert_eq!(circle.radius, 42),
        other => panic!("expected a circle, got {other:?}"),
    }

    // Raw bytes in and out, with their content types.
    let output = fixture.upload(b"abc".to_vec(), "text/plain").await.unwrap();
    assert_eq!(output.bytes, b"cba");
    assert_eq!(
        output.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(seen.take(), [r#"content type Some("text/plain")"#]);

    // A subscription: every message from the cursor on, then the end of the stream.
    let mut params = subscription::Params::new();
    params.cursor = Some(2);
    let mut stream = fixture.subscription(&params);
    let mut seqs = Vec::new();
    while let Some(frame) = stream.next().await {
        match frame.unwrap() {
            Frame::Message(subscription::Message::Tick(tick)) => seqs.push(tick.seq),
            Frame::Message(subscription::Message::Info(info)) => assert_eq!(info.name, "hello"),
            other => panic!("unexpected {other:?}"),
        }
        if seqs.last() == Some(&5) {
            break;
        }
    }
    assert_eq!(seqs, [3, 4, 5]);
    stream.close().await;

    // A cursor ahead of the stream: the typed error frame, and the stream ends.
    params.cursor = Some(9);
    let mut stream = fixture.subscription(&params);
    match stream.next().await {
        Some(Ok(Frame::Error(subscription::Error::FutureCursor { message }))) => {
            assert_eq!(message.as_deref(), Some("9 is ahead of 5"));
        }
        other => panic!("expected FutureCursor, got {other:?}"),
    }
}

/// Bad requests, sent as raw HTTP: each answered with its status and `{error, message}`, the
/// message naming what is wrong; never a panic or a 500.
/// A query string as a browser or another client writes it: an array's keys apart from each
/// other, `+` and percent escapes, parameters the lexicon does not define (kept, one text or
/// a list), and a lexicon default only where the parameter is absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_string_reads_whatever_order_and_escaping_it_comes_in() {
    let seen = Seen::default();
    let url = serve(seen.clone()).await;
    let query = "tags=x&actor=a.test&note=hello+there&tags=y+z%26w&flag=1&flag=2&tags=%E2%9C%93&reverse=true";
    let response = reqwest::get(format!("{url}/xrpc/com.example.fixture.query?{query}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        seen.take(),
        [
            r#"actor=a.test limit=Some(50) reverse=Some(true) tags=Some(["x", "y z&w", "✓"]) sort=None cursor=None extra={"flag":["1","2"],"note":"hello there"}"#
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_answered_with_what_is_wrong() {
    let url = serve(Seen::default()).await;
    let http = reqwest::Client::new();
    let query = |q: &str| format!("{url}/xrpc/com.example.fixture.query?{q}");
    let procedure = format!("{url}/xrpc/com.example.fixture.procedure");
    let upload = format!("{url}/xrpc/com.example.fixture.upload");
    let big = vec![b'x'; 65 * 1024];
    type Case = (
        &'static str,
        reqwest::RequestBuilder,
        u16,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "missing required parameter",
            http.get(query("limit=2")),
            400,
            "InvalidRequest",
            "actor",
        ),
        (
            "integer that is not one",
            http.get(query("actor=a.test&limit=ten")),
            400,
            "InvalidRequest",
            "`ten` is not an integer",
        ),
        (
            "integer above the maximum",
            http.get(query("actor=a.test&limit=500")),
            400,
            "InvalidRequest",
            "limit",
        ),
        (
            "boolean that is not one",
            http.get(query("actor=a.test&reverse=yes")),
            400,
            "InvalidRequest",
            "`yes` is not `true` or `false`",
        ),
        (
            "scalar given twice",
            http.get(query("actor=a.test&limit=1&limit=2")),
            400,
            "InvalidRequest",
            "given 2 times",
        ),
        (
            "bad format",
            http.get(query("actor=not%20a%20handle")),
            400,
            "InvalidRequest",
            "actor",
        ),
        (
            "bad percent-encoding",
            http.get(query("actor=%FF")),
            400,
            "InvalidRequest",
            "UTF-8",
        ),
        (
            "query with POST",
            http.post(query("actor=a.test")),
            400,
            "InvalidRequest",
            "call it with GET",
        ),
        (
            "procedure with GET",
            http.get(&procedure),
            400,
            "InvalidRequest",
            "call it with POST",
        ),
        (
            "no content type",
            http.post(&procedure).body("{}"),
            400,
            "InvalidRequest",
            "application/json",
        ),
        (
            "wrong content type",
            http.post(&procedure)
                .header("content-type", "text/plain")
                .body("{}"),
            400,
            "InvalidRequest",
            "`text/plain`",
        ),
        (
            "body that is not JSON",
            http.post(&procedure)
                .header("content-type", "application/json")
                .body("{"),
            400,
            "InvalidRequest",
            "does not read",
        ),
        (
            "body missing a field",
            http.post(&procedure)
                .header("content-type", "application/json")
                .body("{}"),
            400,
            "InvalidRequest",
            "side",
        ),
        (
            "body of the wrong type",
            http.post(&procedure)
                .header("content-type", "application/json")
                .body(r#"{"side": "big"}"#),
            400,
            "InvalidRequest",
            "side",
        ),
        (
            "body over the limit",
            http.post(&upload)
                .header("content-type", "text/plain")
                .body(big),
            413,
            "PayloadTooLarge",
            "65536",
        ),
        (
            "binary without a content type",
            http.post(&upload).body("x"),
            400,
            "InvalidRequest",
            "content type",
        ),
        (
            "unknown method",
            http.get(format!("{url}/xrpc/com.example.fixture.nothing")),
            501,
            "MethodNotImplemented",
            "com.example.fixture.nothing",
        ),
    ];
    for (what, request, status, error, words) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{what}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{what}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(words),
            "{what}: {message:?} should say {words:?}"
        );
    }
}

/// The official TypeScript client (`@atproto/xrpc`, pinned in the tests' Node project),
/// loaded with the fixtures' lexicons, calls our server: every response must pass its
/// lexicon check, and errors must arrive with their names and statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_typescript_client_accepts_our_server() {
    const SCRIPT: &str = r#"
const fs = require('fs');
const path = require('path');
const { XrpcClient } = require('@atproto/xrpc');
const { Lexicons } = require('@atproto/lexicon');
const [url, dir] = process.argv.slice(1);
const docs = [];
const walk = (d) => { for (const f of fs.readdirSync(d)) { const p = path.join(d, f); if (fs.statSync(p).isDirectory()) walk(p); else if (f.endsWith('.json')) docs.push(JSON.parse(fs.readFileSync(p, 'utf8'))); } };
walk(dir);
// A method the server does not mount, so the client will call it.
docs.push({ lexicon: 1, id: 'com.example.fixture.nothing', defs: { main: { type: 'query' } } });
const lex = new Lexicons(docs);
const client = new XrpcClient(url, lex);
const results = {};
const run = async (name, call) => {
  try {
    const res = await call();
    const data = res.data instanceof Uint8Array ? { bytes: Buffer.from(res.data).toString('utf8') } : res.data;
    results[name] = { ok: true, data, type: res.headers['content-type'] };
  } catch (e) {
    results[name] = { ok: false, status: e.status, error: e.error, message: e.message };
  }
};
(async () => {
  const params = { actor: 'alice.test', limit: 3, tags: ['a b', 'c&d'], sort: 'top', reverse: true };
  lex.assertValidXrpcParams('com.example.fixture.query', params);
  await run('query', () => client.call('com.example.fixture.query', params));
  await run('defaults', () => client.call('com.example.fixture.query', { actor: 'alice.test' }));
  await run('notFound', () => client.call('com.example.fixture.query', { actor: 'nobody.test' }));
  await run('rateLimited', () => client.call('com.example.fixture.query', { actor: 'limited.test' }));
  await run('missingParam', () => client.call('com.example.fixture.query', {}));
  const input = { side: 21 };
  lex.assertValidXrpcInput('com.example.fixture.procedure', input);
  await run('procedure', () => client.call('com.example.fixture.procedure', {}, input));
  await run('badInput', () => client.call('com.example.fixture.procedure', {}, { side: 'big' }));
  await run('upload', () => client.call('com.example.fixture.upload', {}, new TextEncoder().encode('hello'), { encoding: 'text/plain' }));
  await run('unknown', () => client.call('com.example.fixture.nothing', {}));
  console.log(JSON.stringify(results));
})().catch((e) => { console.error(e); process.exit(1); });
"#;
    let url = serve(Seen::default()).await;
    let dir = integration_tests::repo_root().join("tests/fixtures/lexicons");
    let output = tokio::task::spawn_blocking(move || {
        integration_tests::pds::run_node_script(SCRIPT, &[&url, dir.to_str().unwrap()])
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the official client: {e}"));
    let results: serde_json::Value = serde_json::from_str(&output).unwrap();
    let ok = |name: &str| {
        let result = &results[name];
        assert_eq!(result["ok"], true, "{name}: {result}");
        result["data"].clone()
    };
    let failed = |name: &str, status: u16, error: &str| {
        let result = &results[name];
        assert_eq!(result["ok"], false, "{name}: {result}");
        assert_eq!(
            (result["status"].as_u64(), result["error"].as_str()),
            (Some(status.into()), Some(error)),
            "{name}: {result}"
        );
        result["message"].as_str().unwrap_or_default().to_owned()
    };
    // Output checked against the lexicon by the client; 3 squares as asked.
    assert_eq!(ok("query")["items"].as_array().map(Vec::len), Some(3));
    // The lexicon default `limit: 50` applied by our server.
    assert_eq!(ok("defaults")["items"].as_array().map(Vec::len), Some(50));
    assert_eq!(failed("notFound", 400, "NotFound"), "no such actor");
    failed("rateLimited", 429, "RateLimitExceeded");
    assert!(failed("missingParam", 400, "InvalidRequest").contains("actor"));
    // A union output carries its member's `$type`, which the client's check requires.
    assert_eq!(
        ok("procedure"),
        serde_json::json!({ "$type": "com.example.fixture.union#circle", "radius": 42 })
    );
    assert!(failed("badInput", 400, "InvalidRequest").contains("side"));
    assert_eq!(ok("upload"), serde_json::json!({ "bytes": "olleh" }));
    assert!(failed("unknown", 501, "MethodNotImplemented").contains("com.example.fixture.nothing"));
}

/// Sets its flag when dropped: the server dropped the handler's stream.
struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A subscriber that reads slowly holds the server's stream back (messages are made only as
/// fast as they are sent), and when it goes away the stream is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_subscriber_holds_the_servers_stream_back() {
    use lexicon_fixtures::runtime::stream::SubscribeOptions;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let produced = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let (count, flag) = (produced.clone(), dropped.clone());
    let router = XrpcRouter::new(())
        .subscribe(
            subscription::Endpoint,
            move |_: Request<(), subscription::Params>| {
                let (count, guard) = (count.clone(), DropFlag(flag.clone()));
                async move {
                    // Endless kilobyte messages, each made when the server asks for the next.
                    let messages = futures_util::stream::iter(0..).map(move |n: usize| {
                        let _ = &guard;
                        count.fetch_add(1, Ordering::SeqCst);
                        let name = format!("{n:08}{}", "x".repeat(1000));
                        Ok(subscription::Message::Info(Box::new(
                            subscription::Info::new(name),
                        )))
                    });
                    Ok::<_, subscription::Error>(messages)
                }
            },
        )
        .into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let client = Client::with_reqwest(url.as_str());
    let options = SubscribeOptions {
        buffer: 4,
        ..SubscribeOptions::default()
    };
    let mut stream = client
        .com()
        .example()
        .fixture()
        .subscription_with(&subscription::Params::new(), options);
    let mut number = async || match stream.next().await {
        Some(Ok(Frame::Message(subscription::Message::Info(info)))) => {
            info.name[..8].parse::<usize>().unwrap()
        }
        other => panic!("expected a message, got {other:?}"),
    };
    assert_eq!(number().await, 0);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // Unbounded, the server would have made millions by now; held back, only what the socket
    // buffers and the client's 4 frames hold (well under 40 MB).
    let made = produced.load(Ordering::SeqCst);
    assert!(
        made < 40_000,
        "the server made {made} messages for a client that read one"
    );
    // Reading again lets it go on, every message in order.
    for expected in 1..=100 {
        assert_eq!(number().await, expected);
    }
    drop(stream);
    for _ in 0..50 {
        if dropped.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the handler's stream was not dropped after the client went away");
}

/// A layered crate's methods are served the same way, on the base's runtime: linkboard's query
/// and the polls plugin's subscription (placed in linkboard's namespace), called by the
/// extension traits of the base's client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layered_crate_serves_its_methods_on_the_base_runtime() {
    use atproto_api::runtime::server::{Request as BaseRequest, XrpcRouter as BaseRouter};
    use linkboard_api::com::example::linkboard::get_board;
    use linkboard_api::prelude::*;
    use linkboard_polls_api::com::example::linkboard::subscribe_polls;
    use linkboard_polls_api::prelude::*;

    let router = BaseRouter::new(())
        .handle(
            get_board::Endpoint,
            |request: BaseRequest<(), get_board::Params>| async move {
                let params = request.params;
                if params.board == "nowhere" {
                    return Err(get_board::Error::UnknownBoard { message: None });
                }
                let mut output = get_board::Output::new(Vec::new());
                output.cursor = Some(format!("{}:{:?}", params.board, params.limit));
                Ok(output)
            },
        )
        .subscribe(
            subscribe_polls::Endpoint,
            |request: BaseRequest<(), subscribe_polls::Params>| async move {
                let vote = subscribe_polls::Vote::new(
                    request.params.cursor.unwrap_or(0) + 1,
                    "at://did:plc:alice/com.example.linkboard.polls.poll/3l2"
                        .parse()
                        .unwrap(),
                    "did:plc:bob".parse().unwrap(),
                    1,
                );
                let message = subscribe_polls::Message::Vote(Box::new(vote));
                Ok::<_, subscribe_polls::Error>(futures_util::stream::iter([Ok(message)]))
            },
        )
        .into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        atproto_api::runtime::server::axum::serve(listener, router)
            .await
            .unwrap()
    });

    let client = atproto_api::runtime::client::Client::with_reqwest(url.as_str());
    let linkboard = client.com().example().linkboard();
    let board = linkboard
        .get_board(&get_board::Params::new("front"))
        .await
        .unwrap();
    assert_eq!(
        board.cursor.as_deref(),
        Some("front:Some(50)"),
        "the default applied"
    );
    let error = linkboard
        .get_board(&get_board::Params::new("nowhere"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.error_name()),
        (Some(400), Some("UnknownBoard"))
    );

    let mut params = subscribe_polls::Params::new();
    params.cursor = Some(7);
    let mut stream = linkboard.subscribe_polls(&params);
    match stream.next().await {
        Some(Ok(atproto_api::runtime::cbor::Frame::Message(subscribe_polls::Message::Vote(
            vote,
        )))) => assert_eq!(vote.seq, 8),
        other => panic!("expected a vote, got {other:?}"),
    }
}

/// A handler is a plain async function: a unit test calls it with `Request::new`.
#[tokio::test]
async fn a_handler_can_be_called_directly() {
    let request = Request::new(Seen::default(), NoParams, r#union::Square::new(5));
    match procedure_handler(request).await.unwrap() {
        procedure::Output::UnionCircle(circle) => assert_eq!(circle.radius, 10),
        other => panic!("expected a circle, got {other:?}"),
    }
}
