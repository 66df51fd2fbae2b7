//! Sessions of the generated client on a scripted transport: login, bearer auth, refresh on
//! `ExpiredToken` (once, however many calls meet it), save and restore, and `Debug` that
//! hides secrets. The scripted server behaves like the reference PDS on these points (an
//! expired access token is a 400 `ExpiredToken`); `e2e.rs` checks the same against the real
//! PDS.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use atproto_api::com::atproto::server::create_session;
use atproto_api::runtime::client::{
    BoxFuture, Client, Error, HttpRequest, HttpResponse, Session, Transport, TransportError,
    XrpcError,
};
use atproto_api::runtime::{Did, Handle};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const DID: &str = "did:plc:abcdefghijklmnopqrstuvwx";

/// A tiny session server: tokens `access-N` / `refresh-N`, where N counts refreshes.
struct Scripted {
    /// The current token pair's number; 0 before any login.
    generation: Mutex<u32>,
    /// Whether the current access token has expired.
    expired: AtomicBool,
    refreshes: AtomicUsize,
    requests: Mutex<Vec<HttpRequest>>,
    /// Answers to expired tokens wait until this many calls are in flight with one.
    hold_expired: Gate,
    /// The next refreshSession never answers (its caller is dropped by the test).
    hang_next_refresh: AtomicBool,
    /// refreshSession answers 400 ExpiredToken: the refresh token is too old.
    refuse_refresh: AtomicBool,
    /// Every access token is answered as expired, even a fresh one.
    always_expired: AtomicBool,
    /// refreshSession requests wait here (open unless a test closes it).
    hold_refresh: Gate,
    /// How held refreshes fail, if they do.
    refresh_failure: Mutex<Option<RefreshFailure>>,
}

/// How the scripted server fails a refresh.
#[derive(Clone, Copy)]
enum RefreshFailure {
    /// The connection breaks.
    Broken,
    /// No answer: the transport gives up after the request's timeout, at the moment the test
    /// opens `hold_refresh` (the test stands in for the clock).
    Hangs,
}

impl Scripted {
    fn new() -> Arc<Self> {
        Arc::new(Scripted {
            generation: Mutex::new(0),
            expired: AtomicBool::new(false),
            refreshes: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            hold_expired: Gate::new(0),
            hang_next_refresh: AtomicBool::new(false),
            refuse_refresh: AtomicBool::new(false),
            always_expired: AtomicBool::new(false),
            hold_refresh: Gate::new(0),
            refresh_failure: Mutex::new(None),
        })
    }

    fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn requests_to(&self, nsid: &str) -> Vec<HttpRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.url.contains(&format!("/xrpc/{nsid}")))
            .collect()
    }

    fn session_json(generation: u32) -> Value {
        json!({
            "did": DID,
            "handle": "alice.test",
            "accessJwt": format!("access-{generation}"),
            "refreshJwt": format!("refresh-{generation}"),
            "active": true,
        })
    }

    async fn answer(&self, request: HttpRequest) -> HttpResponse {
        let bearer = header(&request, "authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::to_owned);
        let nsid = request
            .url
            .split("/xrpc/")
            .nth(1)
            .and_then(|rest| rest.split('?').next())
            .unwrap_or_default()
            .to_owned();
        let current = *self.generation.lock().unwrap();
        match nsid.as_str() {
            "com.atproto.server.createSession" => {
                let body: Value = serde_json::from_slice(request.body.as_deref().unwrap_or(b""))
                    .unwrap_or_default();
                if body["password"] == PASSWORD {
                    let generation = current + 1;
                    *self.generation.lock().unwrap() = generation;
                    self.expired.store(false, Ordering::SeqCst);
                    json_response(200, Scripted::session_json(generation))
                } else {
                    error(
                        401,
                        "AuthenticationRequired",
                        "Invalid identifier or password",
                    )
                }
            }
            "com.atproto.server.refreshSession" => {
                if self.hang_next_refresh.swap(false, Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                // A refresh takes a while: let the other calls run meanwhile.
                for _ in 0..8 {
                    YieldNow(false).await;
                }
                if self.refuse_refresh.load(Ordering::SeqCst) {
                    return error(400, "ExpiredToken", "Token has expired");
                }
                if bearer != Some(format!("refresh-{current}")) {
                    return error(400, "InvalidToken", "Token could not be verified");
                }
                let generation = current + 1;
                *self.generation.lock().unwrap() = generation;
                self.expired.store(false, Ordering::SeqCst);
                json_response(200, Scripted::session_json(generation))
            }
            "com.atproto.server.deleteSession" => {
                if bearer == Some(format!("refresh-{current}")) {
                    HttpResponse {
                        status: 200,
                        headers: Vec::new(),
                        body: Vec::new(),
                    }
                } else {
                    error(400, "InvalidToken", "Token could not be verified")
                }
            }
            _ => {
                let Some(token) = bearer else {
                    return error(401, "AuthMissing", "Authentication Required");
                };
                let is_current = token == format!("access-{current}");
                let expired = !is_current
                    || self.expired.load(Ordering::SeqCst)
                    || self.always_expired.load(Ordering::SeqCst);
                if token.starts_with("access-") && expired {
                    self.hold_expired.arrive().await;
                    return error(400, "ExpiredToken", "Token has expired");
                }
                if !is_current {
                    return error(400, "InvalidToken", "Token could not be verified");
                }
                json_response(200, json!({ "did": DID, "handle": "alice.test" }))
            }
        }
    }
}

/// The scripted server as a transport; cloning shares the server.
#[derive(Clone)]
struct ScriptedTransport(Arc<Scripted>);

impl Transport for ScriptedTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.0.requests.lock().unwrap().push(request.clone());
        Box::pin(async move {
            if request
                .url
                .ends_with("/xrpc/com.atproto.server.refreshSession")
            {
                self.0.hold_refresh.arrive().await;
                let failure = *self.0.refresh_failure.lock().unwrap();
                match failure {
                    Some(RefreshFailure::Broken) => {
                        return Err(TransportError::msg(
                            "connection reset by the scripted server",
                        ));
                    }
                    Some(RefreshFailure::Hangs) => {
                        let timeout = request.timeout.expect("the refresh carries a timeout");
                        return Err(TransportError::timeout(timeout));
                    }
                    None => {}
                }
            }
            Ok(self.0.answer(request).await)
        })
    }
}

fn header<'r>(request: &'r HttpRequest, name: &str) -> Option<&'r str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn json_response(status: u16, body: Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn error(status: u16, name: &str, message: &str) -> HttpResponse {
    json_response(status, json!({ "error": name, "message": message }))
}

/// Lets other tasks run once.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Opens once `needed` callers have arrived; until then every caller waits.
struct Gate {
    needed: AtomicUsize,
    state: Mutex<(usize, Vec<Waker>)>,
}

impl Gate {
    fn new(needed: usize) -> Self {
        Gate {
            needed: AtomicUsize::new(needed),
            state: Mutex::new((0, Vec::new())),
        }
    }

    fn set_needed(&self, needed: usize) {
        self.needed.store(needed, Ordering::SeqCst);
    }

    /// Holds every caller until [`Gate::open`].
    fn close(&self) {
        self.set_needed(usize::MAX);
    }

    fn open(&self) {
        self.set_needed(0);
        let wakers = std::mem::take(&mut self.state.lock().unwrap().1);
        wakers.into_iter().for_each(Waker::wake);
    }

    fn arrived(&self) -> usize {
        self.state.lock().unwrap().0
    }

    fn arrive(&self) -> impl Future<Output = ()> + '_ {
        let wakers = {
            let mut state = self.state.lock().unwrap();
            state.0 += 1;
            std::mem::take(&mut state.1)
        };
        wakers.into_iter().for_each(Waker::wake);
        GateWait(self)
    }
}

struct GateWait<'g>(&'g Gate);

impl Future for GateWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.state.lock().unwrap();
        if state.0 >= self.0.needed.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            state.1.push(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Runs `future`, failing the test if it has not finished after `limit` (a client that lost
/// a wake-up would otherwise hang the test instead of failing it).
async fn within<F: Future>(limit: Duration, future: F) -> F::Output {
    let timed_out = Arc::new(AtomicBool::new(false));
    let mut future = Box::pin(future);
    let mut timer = None;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        assert!(
            !timed_out.load(Ordering::SeqCst),
            "not finished after {limit:?}"
        );
        if timer.is_none() {
            let (flag, waker) = (Arc::clone(&timed_out), cx.waker().clone());
            timer = Some(std::thread::spawn(move || {
                std::thread::sleep(limit);
                flag.store(true, Ordering::SeqCst);
                waker.wake();
            }));
        }
        Poll::Pending
    })
    .await
}

fn client() -> (Arc<Client<ScriptedTransport>>, Arc<Scripted>) {
    let server = Scripted::new();
    let client = Client::new("http://pds.invalid", ScriptedTransport(Arc::clone(&server)));
    (Arc::new(client), server)
}

async fn get_session(
    client: &Client<ScriptedTransport>,
) -> Result<
    atproto_api::com::atproto::server::get_session::Output,
    Error<atproto_api::com::atproto::server::get_session::Error>,
> {
    client.com().atproto().server().get_session().await
}

#[tokio::test]
async fn login_keeps_the_session_and_later_calls_carry_its_access_token() {
    let (client, server) = client();
    let session = client.login("alice.test", PASSWORD).await.unwrap();
    assert_eq!(session.did.as_str(), DID);
    assert_eq!(session.handle.as_str(), "alice.test");
    assert_eq!(session.access_jwt, "access-1");
    assert_eq!(client.session(), Some(session));

    let login = &server.requests_to("com.atproto.server.createSession")[0];
    assert_eq!(header(login, "authorization"), None);
    let body: Value = serde_json::from_slice(login.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({ "identifier": "alice.test", "password": PASSWORD })
    );

    let output = get_session(&client).await.unwrap();
    assert_eq!(output.handle.as_str(), "alice.test");
    let call = &server.requests_to("com.atproto.server.getSession")[0];
    assert_eq!(header(call, "authorization"), Some("Bearer access-1"));
}

#[tokio::test]
async fn a_wrong_password_is_an_error_with_its_name_and_status() {
    let (client, _server) = client();
    let error = client.login("alice.test", "hunter2").await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.error_name(), Some("AuthenticationRequired"));
    match &error {
        Error::Xrpc {
            status: 401,
            error: XrpcError { error, message },
        } => {
            assert_eq!(error, "AuthenticationRequired");
            assert_eq!(message.as_deref(), Some("Invalid identifier or password"));
        }
        other => panic!("expected an XRPC error, got {other:?}"),
    }
    // The same error read as createSession's typed error: not declared, so `Other`.
    match error.into_kind::<create_session::Error>() {
        Error::Xrpc {
            status: 401,
            error: create_session::Error::Other { error, .. },
        } => assert_eq!(error, "AuthenticationRequired"),
        other => panic!("expected the fallback variant, got {other:?}"),
    }
    assert_eq!(client.session(), None);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_with_the_refresh_token_and_the_call_retried() {
    let (client, server) = client();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    client.on_session_change(move |session| {
        log.lock()
            .unwrap()
            .push(session.map(|s| s.access_jwt.clone()))
    });
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);

    get_session(&client).await.unwrap();

    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    let refresh = &server.requests_to("com.atproto.server.refreshSession")[0];
    assert_eq!(header(refresh, "authorization"), Some("Bearer refresh-1"));
    let calls = server.requests_to("com.atproto.server.getSession");
    let tokens: Vec<_> = calls
        .iter()
        .map(|r| header(r, "authorization").unwrap())
        .collect();
    assert_eq!(tokens, ["Bearer access-1", "Bearer access-2"]);
    assert_eq!(client.session().unwrap().refresh_jwt, "refresh-2");
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("access-1".to_owned()), Some("access-2".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_calls_meeting_an_expired_token_cause_one_refresh() {
    const CALLS: usize = 24;
    let (client, server) = client();
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    // Every call is in flight with the old token before any of them hears it has expired.
    server.hold_expired.set_needed(CALLS);

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        let client = Arc::clone(&client);
        calls.spawn(async move { get_session(&client).await.map(|o| o.handle) });
    }
    within(Duration::from_secs(20), async {
        while let Some(result) = calls.join_next().await {
            result.unwrap().unwrap();
        }
    })
    .await;

    assert_eq!(server.hold_expired.arrived(), CALLS);
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    let calls = server.requests_to("com.atproto.server.getSession");
    assert_eq!(calls.len(), 2 * CALLS);
    let retried_with_new_token = calls
        .iter()
        .filter(|r| header(r, "authorization") == Some("Bearer access-2"))
        .count();
    assert_eq!(retried_with_new_token, CALLS);
}

#[tokio::test]
async fn a_call_is_retried_once_only() {
    let (client, server) = client();
    client.login("alice.test", PASSWORD).await.unwrap();
    server.always_expired.store(true, Ordering::SeqCst);
    let error = get_session(&client).await.unwrap_err();
    assert_eq!(error.error_name(), Some("ExpiredToken"));
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.requests_to("com.atproto.server.getSession").len(), 2);
}

#[tokio::test]
async fn a_refused_refresh_ends_the_session() {
    let (client, server) = client();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    client.on_session_change(move |session| log.lock().unwrap().push(session.is_some()));
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    server.refuse_refresh.store(true, Ordering::SeqCst);

    let error = get_session(&client).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.error_name(), Some("ExpiredToken"));
    assert_eq!(client.session(), None);
    assert_eq!(*seen.lock().unwrap(), [true, false]);

    // Without a session, calls go out without a token.
    let error = get_session(&client).await.unwrap_err();
    assert_eq!(error.error_name(), Some("AuthMissing"));
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_is_sent_again_on_the_retry() {
    let (client, server) = client();
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    let bytes = b"\x89PNG not really".to_vec();
    // uploadBlob is answered with a bare session object here: only the requests matter.
    let _ = client
        .com()
        .atproto()
        .repo()
        .upload_blob(bytes.clone(), "image/png")
        .await;
    let uploads = server.requests_to("com.atproto.repo.uploadBlob");
    assert_eq!(uploads.len(), 2);
    for upload in &uploads {
        assert_eq!(upload.body.as_deref(), Some(&bytes[..]));
        assert_eq!(header(upload, "content-type"), Some("image/png"));
    }
    assert_eq!(
        header(&uploads[1], "authorization"),
        Some("Bearer access-2")
    );
}

#[tokio::test]
async fn a_refresh_whose_caller_is_dropped_does_not_block_the_others() {
    let (client, server) = client();
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    server.hang_next_refresh.store(true, Ordering::SeqCst);

    // Poll a call until it is stuck in its refresh, then drop it.
    {
        let mut call = Box::pin(get_session(&client));
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..10 {
            assert!(call.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(
            server
                .requests_to("com.atproto.server.refreshSession")
                .len(),
            1
        );
    }
    get_session(&client).await.unwrap();
    assert_eq!(
        server
            .requests_to("com.atproto.server.refreshSession")
            .len(),
        2
    );
    assert_eq!(client.session().unwrap().access_jwt, "access-2");
}

#[tokio::test]
async fn a_saved_session_restores_into_a_new_client() {
    let (client, server) = client();
    let session = client.login("alice.test", PASSWORD).await.unwrap();
    let saved = serde_json::to_string(&session).unwrap();
    let saved_json: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(
        saved_json,
        json!({
            "did": DID,
            "handle": "alice.test",
            "accessJwt": "access-1",
            "refreshJwt": "refresh-1",
        })
    );

    let restored: Session = serde_json::from_str(&saved).unwrap();
    let other = Client::new("http://pds.invalid", ScriptedTransport(Arc::clone(&server)));
    other.set_session(Some(restored));
    get_session(&other).await.unwrap();
    let call = server.requests_to("com.atproto.server.getSession").pop();
    assert_eq!(
        header(&call.unwrap(), "authorization"),
        Some("Bearer access-1")
    );

    // A session built from the generated createSession output is the same session.
    let output = client
        .com()
        .atproto()
        .server()
        .create_session(&create_session::Input::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let from_output = Session::from_output(&output).unwrap();
    assert_eq!(from_output.access_jwt, output.access_jwt);
    assert_eq!(from_output.did, output.did);
}

#[tokio::test]
async fn the_generated_refresh_method_uses_the_refresh_token_and_keeps_the_new_session() {
    let (client, server) = client();
    client.login("alice.test", PASSWORD).await.unwrap();
    let output = client
        .com()
        .atproto()
        .server()
        .refresh_session()
        .await
        .unwrap();
    let refresh = &server.requests_to("com.atproto.server.refreshSession")[0];
    assert_eq!(header(refresh, "authorization"), Some("Bearer refresh-1"));
    assert_eq!(output.access_jwt, "access-2");
    assert_eq!(client.session().unwrap().refresh_jwt, "refresh-2");
    get_session(&client).await.unwrap();
}

#[tokio::test]
async fn explicit_refresh_and_logout() {
    let (client, server) = client();
    assert!(matches!(client.refresh().await, Err(Error::NoSession)));
    client.login("alice.test", PASSWORD).await.unwrap();
    let fresh = client.refresh().await.unwrap();
    assert_eq!(fresh.access_jwt, "access-2");
    assert_eq!(client.session(), Some(fresh));

    client.logout().await.unwrap();
    let delete = &server.requests_to("com.atproto.server.deleteSession")[0];
    assert_eq!(header(delete, "authorization"), Some("Bearer refresh-2"));
    assert_eq!(client.session(), None);
    assert!(matches!(client.logout().await, Err(Error::NoSession)));
}

#[tokio::test]
async fn debug_output_never_shows_passwords_or_tokens() {
    let (client, server) = client();
    let session = client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    get_session(&client).await.unwrap();

    let mut printed = vec![
        format!("{session:?}"),
        format!("{session:#?}"),
        format!("{client:?}"),
        format!("{:?}", client.session()),
    ];
    printed.extend(server.requests().iter().map(|r| format!("{r:?}")));
    let response = server
        .answer(HttpRequest {
            method: "POST",
            url: "http://pds.invalid/xrpc/com.atproto.server.createSession".into(),
            headers: Vec::new(),
            body: Some(
                json!({ "identifier": "a", "password": PASSWORD })
                    .to_string()
                    .into(),
            ),
            timeout: None,
            response_limit: None,
        })
        .await;
    printed.push(format!("{response:?}"));
    let secrets = [PASSWORD, "access-", "refresh-"];
    for text in &printed {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} printed in {text}");
        }
    }
    assert!(printed[0].contains(DID), "{}", printed[0]);
    assert!(printed[2].contains("alice.test"), "{}", printed[2]);
}

#[test]
fn a_session_is_built_from_its_parts() {
    let session = Session::new(
        Did::new(DID).unwrap(),
        Handle::new("alice.test").unwrap(),
        "a",
        "r",
    );
    assert_eq!(session.access_jwt, "a");
    assert_eq!(session.refresh_jwt, "r");
}

// ---------------------------------------------------------------------------------------------
// Concurrency, on a runtime with real parallelism. Where the order of events matters, the
// scripted server holds the refresh (`hold_refresh`) until the test has put the other calls in
// place: the test forces the timing instead of hoping for it.

/// `getSession` on a shared client, as a task can own it.
async fn get_session_on(
    client: Arc<Client<ScriptedTransport>>,
) -> Result<(), Error<atproto_api::com::atproto::server::get_session::Error>> {
    get_session(&client).await.map(drop)
}

/// Polls `future` once: whether it finished, without waiting.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

/// Waits (without a deadline of its own; `within` gives one) until `ready` holds.
async fn until(mut ready: impl FnMut() -> bool) {
    while !ready() {
        tokio::task::yield_now().await;
    }
}

/// One call meets the expired token and starts a refresh that fails as `failure` says, while
/// `waiting` more calls start during the refresh and wait for it. Returns every call's
/// result, the first one's first.
async fn calls_sharing_a_failed_refresh(
    client: &Arc<Client<ScriptedTransport>>,
    server: &Arc<Scripted>,
    failure: RefreshFailure,
    waiting: usize,
) -> Vec<Result<(), Error<atproto_api::com::atproto::server::get_session::Error>>> {
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    *server.refresh_failure.lock().unwrap() = Some(failure);
    server.hold_refresh.close();

    let first = tokio::spawn(get_session_on(Arc::clone(client)));
    within(
        Duration::from_secs(20),
        until(|| server.hold_refresh.arrived() == 1),
    )
    .await;
    let mut later: Vec<_> = (0..waiting)
        .map(|_| Box::pin(get_session_on(Arc::clone(client))))
        .collect();
    for call in &mut later {
        assert!(poll_once(call).await.is_pending());
    }
    // They wait for the refresh rather than send the expired token.
    assert_eq!(server.requests_to("com.atproto.server.getSession").len(), 1);
    server.hold_refresh.open();

    let mut results = vec![within(Duration::from_secs(20), first).await.unwrap()];
    for call in later {
        results.push(within(Duration::from_secs(20), call).await);
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_waiting_on_a_failed_refresh_get_its_error_and_resend_nothing() {
    let (client, server) = client();
    let results = calls_sharing_a_failed_refresh(&client, &server, RefreshFailure::Broken, 8).await;

    for result in &results {
        match result {
            Err(Error::Transport(error)) => {
                let message = error.to_string();
                assert!(message.contains("refreshing the session"), "{message}");
                assert!(message.contains("connection reset"), "{message}");
            }
            other => panic!("expected the refresh's error, got {other:?}"),
        }
    }
    assert_eq!(
        server
            .requests_to("com.atproto.server.refreshSession")
            .len(),
        1,
        "one refresh, not one per waiting call"
    );
    assert_eq!(server.requests_to("com.atproto.server.getSession").len(), 1);
    // A broken connection says nothing about the tokens: the session stays, and the next call
    // refreshes it.
    assert_eq!(client.session().unwrap().access_jwt, "access-1");
    *server.refresh_failure.lock().unwrap() = None;
    get_session(&client).await.unwrap();
    assert_eq!(client.session().unwrap().access_jwt, "access-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_that_hangs_times_out_and_every_waiting_call_gets_the_timeout() {
    let server = Scripted::new();
    let timeout = Duration::from_secs(7);
    let client = Arc::new(
        Client::new("http://pds.invalid", ScriptedTransport(Arc::clone(&server)))
            .with_timeout(timeout),
    );
    let results = calls_sharing_a_failed_refresh(&client, &server, RefreshFailure::Hangs, 8).await;

    for result in &results {
        match result {
            Err(Error::Transport(error)) => assert!(error.is_timeout(), "{error}"),
            other => panic!("expected the refresh's timeout, got {other:?}"),
        }
    }
    let refreshes = server.requests_to("com.atproto.server.refreshSession");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(
        refreshes[0].timeout,
        Some(timeout),
        "the refresh has the timeout"
    );
    for request in server.requests() {
        assert_eq!(request.timeout, Some(timeout), "{request:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_generated_refresh_joins_the_refresh_under_way() {
    let (client, server) = client();
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    server.hold_refresh.close();

    let call = tokio::spawn(get_session_on(Arc::clone(&client)));
    within(
        Duration::from_secs(20),
        until(|| server.hold_refresh.arrived() == 1),
    )
    .await;
    let server_api = client.com().atproto().server();
    let mut explicit = Box::pin(server_api.refresh_session());
    assert!(poll_once(&mut explicit).await.is_pending());
    server.hold_refresh.open();

    let output = within(Duration::from_secs(20), explicit).await.unwrap();
    within(Duration::from_secs(20), call)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        server
            .requests_to("com.atproto.server.refreshSession")
            .len(),
        1,
        "the explicit refresh spent no refresh token of its own"
    );
    assert_eq!(output.access_jwt, "access-2");
    assert_eq!(
        output.active,
        Some(true),
        "the whole output, not just the session"
    );
    assert_eq!(client.session().unwrap().access_jwt, "access-2");

    // A logout while a refresh is under way revokes the refresh token that refresh brings.
    server.expired.store(true, Ordering::SeqCst);
    server.hold_refresh.close();
    let call = tokio::spawn(get_session_on(Arc::clone(&client)));
    within(
        Duration::from_secs(20),
        until(|| server.hold_refresh.arrived() == 2),
    )
    .await;
    let mut logout = Box::pin(client.logout());
    assert!(poll_once(&mut logout).await.is_pending());
    server.hold_refresh.open();
    within(Duration::from_secs(20), logout).await.unwrap();
    within(Duration::from_secs(20), call)
        .await
        .unwrap()
        .unwrap();
    let delete = server.requests_to("com.atproto.server.deleteSession");
    assert_eq!(delete.len(), 1);
    assert_eq!(
        header(&delete[0], "authorization"),
        Some("Bearer refresh-3")
    );
    assert_eq!(client.session(), None);
    // The call retried with the token of the refresh it waited for, even when the logout
    // had already ended the session: never without one.
    let calls = server.requests_to("com.atproto.server.getSession");
    assert_eq!(
        calls.last().and_then(|call| header(call, "authorization")),
        Some("Bearer access-3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_replaced_mid_refresh_keeps_the_replacement() {
    let (client, server) = client();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    client.on_session_change(move |session| {
        log.lock()
            .unwrap()
            .push(session.map(|s| s.access_jwt.clone()))
    });
    client.login("alice.test", PASSWORD).await.unwrap();
    server.expired.store(true, Ordering::SeqCst);
    server.hold_refresh.close();

    let call = tokio::spawn(get_session_on(Arc::clone(&client)));
    within(
        Duration::from_secs(20),
        until(|| server.hold_refresh.arrived() == 1),
    )
    .await;
    // Logging in again while the refresh of the old session is held: the login does not wait
    // for that refresh, and the refresh, answered later, must not overwrite it.
    let again = within(
        Duration::from_secs(20),
        client.login("alice.test", PASSWORD),
    )
    .await
    .unwrap();
    assert_eq!(again.access_jwt, "access-2");
    server.hold_refresh.open();
    within(Duration::from_secs(20), call)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(client.session().unwrap().access_jwt, "access-2");
    let calls = server.requests_to("com.atproto.server.getSession");
    assert_eq!(
        header(calls.last().unwrap(), "authorization"),
        Some("Bearer access-2"),
        "the call was retried with the replacement"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("access-1".to_owned()), Some("access-2".to_owned())],
        "the dropped refresh was never announced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_changes_reach_the_listener_in_order() {
    let (client, _server) = client();
    client.login("alice.test", PASSWORD).await.unwrap();
    // A listener that saves the session, and one save that is slow: the save of the first
    // refresh waits until the second refresh has replaced the session, then gives a listener
    // call for the second one up to 2 s to run beside it (a client that ran listeners side
    // by side did; the fixed one never does, whatever the wait). The last save must be the
    // client's session.
    let saved = Arc::new(Mutex::new(None::<String>));
    let saves_done = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let inside = Arc::new(AtomicBool::new(false));
    let weak = Arc::downgrade(&client);
    {
        let (saved, saves_done, overlaps, inside) = (
            Arc::clone(&saved),
            Arc::clone(&saves_done),
            Arc::clone(&overlaps),
            Arc::clone(&inside),
        );
        client.on_session_change(move |session| {
            if inside.swap(true, Ordering::SeqCst) {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            let token = session.map(|s| s.access_jwt.clone());
            if token.as_deref() == Some("access-2") {
                let client = weak.upgrade().expect("the client is alive");
                let started = std::time::Instant::now();
                while client.session().map(|s| s.access_jwt).as_deref() != Some("access-3") {
                    assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "the second refresh never came"
                    );
                    std::thread::yield_now();
                }
                let done = saves_done.load(Ordering::SeqCst);
                let waited = std::time::Instant::now();
                while saves_done.load(Ordering::SeqCst) == done
                    && waited.elapsed() < Duration::from_secs(2)
                {
                    std::thread::yield_now();
                }
            }
            *saved.lock().unwrap() = token;
            inside.store(false, Ordering::SeqCst);
            saves_done.fetch_add(1, Ordering::SeqCst);
        });
    }

    let first = tokio::spawn({
        let client = Arc::clone(&client);
        async move { client.refresh().await.map(|s| s.access_jwt) }
    });
    within(
        Duration::from_secs(20),
        until(|| client.session().unwrap().access_jwt == "access-2"),
    )
    .await;
    let second = within(Duration::from_secs(20), client.refresh())
        .await
        .unwrap();
    assert_eq!(second.access_jwt, "access-3");
    let first = within(Duration::from_secs(20), first)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "listener calls overlapped"
    );
    assert_eq!(saved.lock().unwrap().as_deref(), Some("access-3"));
    assert_eq!(client.session().unwrap().access_jwt, "access-3");
    assert_eq!(first, "access-2", "refresh() returns the session it made");
}
