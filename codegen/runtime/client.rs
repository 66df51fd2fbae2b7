//! The XRPC client: requests built by the generated methods, sent through a [`Transport`].
//!
//! Bring your own HTTP stack by implementing [`Transport`]; the `reqwest` feature provides
//! [`ReqwestTransport`]. Errors keep apart what failed: the transport, the endpoint (its typed
//! error, with the HTTP status), or a response body that does not match the lexicon.
//!
//! Sessions: [`Client::login`] logs in with `com.atproto.server.createSession` and keeps the
//! [`Session`]; later calls send its access token. A call answered with the error
//! `ExpiredToken` makes the client refresh the session (`com.atproto.server.refreshSession`)
//! and send the call once more. However many calls meet the expired token at once, one
//! refresh runs and the others wait for it. [`Client::session`] and [`Client::set_session`]
//! save and restore a session (it is `serde`), and [`Client::on_session_change`] tells when
//! the client changed it by itself. `Debug` never prints tokens or passwords.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// A boxed future, as returned by [`Transport::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

const CREATE_SESSION: &str = "com.atproto.server.createSession";
const REFRESH_SESSION: &str = "com.atproto.server.refreshSession";
const DELETE_SESSION: &str = "com.atproto.server.deleteSession";
/// The error name a server answers when an access token is past its expiry. Servers send it
/// with different statuses (the reference PDS uses 400), so it is recognised by name.
const EXPIRED_TOKEN: &str = "ExpiredToken";

/// Shown in place of secrets by `Debug`.
const REDACTED: &str = "<redacted>";

/// One HTTP request, as the client hands it to the transport.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// Headers with credentials hidden, for `Debug`.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |name: &str| {
            [
                "authorization",
                "proxy-authorization",
                "cookie",
                "set-cookie",
            ]
            .iter()
            .any(|secret| name.eq_ignore_ascii_case(secret))
        };
        f.debug_list()
            .entries(self.0.iter().map(|(name, value)| {
                let value = if secret(name) { REDACTED } else { value };
                (name, value)
            }))
            .finish()
    }
}

/// One HTTP response, as the transport hands it back.
///
/// `Debug` shows the length of the body, not the body: a session response carries tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Sends HTTP requests. Implement it to use any HTTP stack.
pub trait Transport: Send + Sync {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// The request never got a response: connection refused, timeout, TLS, ...
#[derive(Debug)]
pub struct TransportError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        TransportError {
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }

    pub fn msg(message: impl Into<String>) -> Self {
        TransportError {
            message: message.into(),
            source: None,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An endpoint's error type: built from the `error` name and `message` of an XRPC error body.
pub trait XrpcErrorKind: Sized {
    fn from_parts(error: String, message: Option<String>) -> Self;
    /// The error name and message.
    fn parts(&self) -> (&str, Option<&str>);
}

/// `Display` for generated error enums: `Name: message`.
pub fn display_error<E: XrpcErrorKind>(error: &E, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match error.parts() {
        (name, Some(message)) => write!(f, "{name}: {message}"),
        (name, None) => f.write_str(name),
    }
}

/// An XRPC error kept by name, for calls that have no lexicon of their own (such as
/// [`Client::login`]). [`Error::into_kind`] turns it into an endpoint's typed error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrpcError {
    /// The error name, such as `AuthenticationRequired`.
    pub error: String,
    pub message: Option<String>,
}

impl XrpcErrorKind for XrpcError {
    fn from_parts(error: String, message: Option<String>) -> Self {
        XrpcError { error, message }
    }

    fn parts(&self) -> (&str, Option<&str>) {
        (&self.error, self.message.as_deref())
    }
}

impl fmt::Display for XrpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display_error(self, f)
    }
}

impl std::error::Error for XrpcError {}

/// What went wrong with a call; `E` is the endpoint's error enum.
#[derive(Debug)]
pub enum Error<E> {
    /// No response arrived.
    Transport(TransportError),
    /// The server answered with an error; `error` is typed when the lexicon declares it.
    Xrpc { status: u16, error: E },
    /// The response body does not match the lexicon's output type.
    Decode { status: u16, message: String },
    /// The request could not be encoded.
    Encode(String),
    /// The call needs a session and the client has none (see [`Client::login`]).
    NoSession,
}

impl<E> Error<E> {
    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Xrpc { status, .. } | Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl<E: XrpcErrorKind> Error<E> {
    /// The XRPC error name, when the server sent an error.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Error::Xrpc { error, .. } => Some(error.parts().0),
            _ => None,
        }
    }

    /// The same error with the XRPC error read as another kind: for example the
    /// [`XrpcError`] of [`Client::login`] as the generated `create_session::Error`.
    pub fn into_kind<F: XrpcErrorKind>(self) -> Error<F> {
        match self {
            Error::Transport(error) => Error::Transport(error),
            Error::Xrpc { status, error } => {
                let (name, message) = error.parts();
                Error::Xrpc {
                    status,
                    error: F::from_parts(name.to_owned(), message.map(str::to_owned)),
                }
            }
            Error::Decode { status, message } => Error::Decode { status, message },
            Error::Encode(message) => Error::Encode(message),
            Error::NoSession => Error::NoSession,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::Xrpc { status, error } => write!(f, "XRPC error (HTTP {status}): {error}"),
            Error::Decode { status, message } => {
                write!(f, "unexpected response body (HTTP {status}): {message}")
            }
            Error::Encode(message) => write!(f, "could not encode the request: {message}"),
            Error::NoSession => f.write_str("the client is not logged in"),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(error) => Some(error),
            _ => None,
        }
    }
}

/// A response body that has no JSON schema in the lexicon (a blob, a CAR file).
#[derive(Clone, PartialEq, Eq)]
pub struct RawBody {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for RawBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawBody")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Query-string parameters, in the order they are added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(&'static str, String)>);

impl Query {
    pub fn push(&mut self, name: &'static str, value: impl Into<String>) {
        self.0.push((name, value.into()));
    }

    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.0
    }

    /// `?a=1&b=x` with percent-encoding, or the empty string.
    pub fn to_query_string(&self) -> String {
        let mut out = String::new();
        for (i, (name, value)) in self.0.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            percent_encode(name, &mut out);
            out.push('=');
            percent_encode(value, &mut out);
        }
        out
    }
}

fn percent_encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

/// A value that can be a query parameter: arrays become repeated keys, booleans
/// `true`/`false`, strings are sent as they are, unset options are left out.
pub trait QueryValue {
    fn push_to(&self, name: &'static str, query: &mut Query);
}

/// A generated `Params` struct.
pub trait QueryParams {
    fn push_to(&self, query: &mut Query);
}

impl QueryValue for bool {
    fn push_to(&self, name: &'static str, query: &mut Query) {
        query.push(name, if *self { "true" } else { "false" });
    }
}

impl QueryValue for i64 {
    fn push_to(&self, name: &'static str, query: &mut Query) {
        query.push(name, self.to_string());
    }
}

impl QueryValue for String {
    fn push_to(&self, name: &'static str, query: &mut Query) {
        query.push(name, self.as_str());
    }
}

impl QueryValue for super::Unknown {
    fn push_to(&self, name: &'static str, query: &mut Query) {
        query.push(name, serde_json::to_string(self).unwrap_or_default());
    }
}

impl<T: QueryValue> QueryValue for Option<T> {
    fn push_to(&self, name: &'static str, query: &mut Query) {
        if let Some(value) = self {
            value.push_to(name, query);
        }
    }
}

impl<T: QueryValue> QueryValue for Vec<T> {
    fn push_to(&self, name: &'static str, query: &mut Query) {
        for value in self {
            value.push_to(name, query);
        }
    }
}

macro_rules! query_value_as_str {
    ($($ty:ident),*) => {$(
        impl QueryValue for super::$ty {
            fn push_to(&self, name: &'static str, query: &mut Query) {
                query.push(name, self.as_str());
            }
        }
    )*};
}
query_value_as_str!(
    AtIdentifier,
    AtUri,
    Cid,
    Datetime,
    Did,
    Handle,
    Nsid,
    Tid,
    RecordKey,
    Uri,
    Language
);

// ---------------------------------------------------------------------------------------------
// Sessions

/// A logged-in session: whose it is, and its two tokens.
///
/// It serializes as `{"did", "handle", "accessJwt", "refreshJwt"}` (the field names of
/// createSession and refreshSession), so saving it is `serde_json::to_string(&session)` and
/// any of those outputs deserializes into it. The saved form holds the tokens: store it as a
/// secret. `Debug` prints neither token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub did: super::Did,
    pub handle: super::Handle,
    /// The short-lived token sent with every call.
    #[serde(rename = "accessJwt")]
    pub access_jwt: String,
    /// The long-lived token that only refreshSession (and deleteSession) accept.
    #[serde(rename = "refreshJwt")]
    pub refresh_jwt: String,
}

impl Session {
    pub fn new(
        did: super::Did,
        handle: super::Handle,
        access_jwt: impl Into<String>,
        refresh_jwt: impl Into<String>,
    ) -> Self {
        Session {
            did,
            handle,
            access_jwt: access_jwt.into(),
            refresh_jwt: refresh_jwt.into(),
        }
    }

    /// The session in a createSession, refreshSession or createAccount output of the generated
    /// crate (any value that serializes with `did`, `handle`, `accessJwt` and `refreshJwt`).
    pub fn from_output<T: Serialize + ?Sized>(output: &T) -> Result<Self, serde_json::Error> {
        Session::deserialize(serde_json::to_value(output)?)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("access_jwt", &REDACTED)
            .field("refresh_jwt", &REDACTED)
            .finish()
    }
}

/// Called with the new session (or `None`) after the client changed its session by itself.
type SessionListener = Arc<dyn Fn(Option<&Session>) + Send + Sync>;

/// How a client authenticates its calls.
enum Auth {
    None,
    /// A fixed token from [`Client::set_bearer_token`]: sent as it is, never refreshed.
    Bearer(String),
    Session(Session),
}

struct AuthState {
    auth: Auth,
    /// Counts changes of `auth`: a call that met an expired token knows from it whether the
    /// session was refreshed since the call was sent.
    generation: u64,
    /// The refresh under way, if any.
    flight: Option<Arc<Flight>>,
}

/// Which token a call carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenUse {
    /// Most calls: the access token, refreshed when it has expired.
    Access,
    /// refreshSession and deleteSession: the refresh token, never refreshed.
    Refresh,
    /// createSession: no session token (a fixed bearer token is still sent).
    Login,
}

impl TokenUse {
    fn of(nsid: &str) -> Self {
        match nsid {
            CREATE_SESSION => TokenUse::Login,
            REFRESH_SESSION | DELETE_SESSION => TokenUse::Refresh,
            _ => TokenUse::Access,
        }
    }
}

/// The `Authorization` of one attempt, and the session state it was taken from.
struct Credential {
    header: Option<String>,
    generation: u64,
    /// Whether the header holds a session token.
    from_session: bool,
}

/// One refresh of the session, awaited by every call that met the expired token meanwhile.
struct Flight {
    /// The session generation the refresh started from.
    generation: u64,
    state: Mutex<FlightState>,
}

#[derive(Default)]
struct FlightState {
    outcome: Option<FlightOutcome>,
    wakers: Vec<Waker>,
}

#[derive(Clone)]
enum FlightOutcome {
    Refreshed,
    Failed(RefreshFailure),
    /// Look at the session again: the refreshing call was dropped half-way, or the session
    /// was replaced while the refresh ran.
    Recheck,
}

impl Flight {
    fn new(generation: u64) -> Arc<Self> {
        Arc::new(Flight {
            generation,
            state: Mutex::new(FlightState::default()),
        })
    }

    fn complete(&self, outcome: FlightOutcome) {
        let wakers = {
            let mut state = lock(&self.state);
            if state.outcome.is_some() {
                return;
            }
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    fn wait(self: &Arc<Self>) -> FlightWait {
        FlightWait(Arc::clone(self))
    }
}

/// Resolves when its flight completes.
struct FlightWait(Arc<Flight>);

impl Future for FlightWait {
    type Output = FlightOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<FlightOutcome> {
        let mut state = lock(&self.0.state);
        if let Some(outcome) = &state.outcome {
            return Poll::Ready(outcome.clone());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Why a refresh did not give a new session; copied to every call that waited for it.
#[derive(Clone)]
enum RefreshFailure {
    Transport(String),
    Xrpc {
        status: u16,
        error: String,
        message: Option<String>,
    },
    Decode {
        status: u16,
        message: String,
    },
}

impl RefreshFailure {
    fn into_error<E: XrpcErrorKind>(self) -> Error<E> {
        match self {
            RefreshFailure::Transport(message) => Error::Transport(TransportError::msg(format!(
                "refreshing the session: {message}"
            ))),
            RefreshFailure::Xrpc {
                status,
                error,
                message,
            } => Error::Xrpc {
                status,
                error: E::from_parts(error, message),
            },
            RefreshFailure::Decode { status, message } => Error::Decode {
                status,
                message: format!("refreshSession: {message}"),
            },
        }
    }

    /// Whether the server refused the refresh token itself: the session is over.
    fn ends_session(&self) -> bool {
        matches!(
            self,
            RefreshFailure::Xrpc {
                status: 400 | 401,
                ..
            }
        )
    }
}

/// What a call that met an expired token does next.
enum AfterExpiry {
    /// Send the call again: the session has a new access token.
    Retry,
    /// Report the server's error as it is (there is no session to refresh any more).
    GiveUp,
    Failed(RefreshFailure),
}

/// Marks the flight abandoned if the refreshing call is dropped half-way.
struct FlightGuard<'c, T: ?Sized> {
    client: &'c Client<T>,
    flight: Arc<Flight>,
    finished: bool,
}

impl<T: ?Sized> Drop for FlightGuard<'_, T> {
    fn drop(&mut self) {
        if !self.finished {
            let mut state = self.client.state();
            if state
                .flight
                .as_ref()
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                state.flight = None;
            }
            drop(state);
            self.flight.complete(FlightOutcome::Recheck);
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the data is still consistent here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// The client

/// An XRPC client for one service (a PDS, an AppView, ...).
///
/// Generated methods hang off namespace accessors: `client.com().atproto().server()
/// .create_session(&input)`. Share one client between tasks (behind an `Arc`): calls run
/// concurrently and share the session and its refreshes.
pub struct Client<T: ?Sized> {
    base_url: String,
    auth: Mutex<AuthState>,
    listener: Mutex<Option<SessionListener>>,
    transport: T,
}

impl<T: ?Sized> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        let mut out = f.debug_struct("Client");
        out.field("base_url", &self.base_url);
        match &state.auth {
            Auth::None => out.field("authenticated", &false),
            Auth::Bearer(_) => out.field("authenticated", &true),
            Auth::Session(session) => out.field("authenticated", &true).field("session", session),
        };
        out.finish_non_exhaustive()
    }
}

impl<T: Transport> Client<T> {
    /// A client for the service at `base_url` (`https://bsky.social`).
    pub fn new(base_url: impl Into<String>, transport: T) -> Self {
        Client {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            auth: Mutex::new(AuthState {
                auth: Auth::None,
                generation: 0,
                flight: None,
            }),
            listener: Mutex::new(None),
            transport,
        }
    }
}

#[cfg(feature = "reqwest")]
impl Client<ReqwestTransport> {
    /// A client on a default reqwest HTTP client.
    pub fn with_reqwest(base_url: impl Into<String>) -> Self {
        Client::new(base_url, ReqwestTransport::default())
    }
}

impl<T: ?Sized> Client<T> {
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Sets (or clears) a fixed bearer token sent as `Authorization` on every request. It
    /// replaces the session, if there is one, and is never refreshed.
    pub fn set_bearer_token(&self, token: Option<String>) {
        self.replace_auth(token.map_or(Auth::None, Auth::Bearer));
    }

    /// The current session, to save it (it is `serde`). Refreshes replace it, so save it again
    /// after calls, or from [`Client::on_session_change`].
    pub fn session(&self) -> Option<Session> {
        match &self.state().auth {
            Auth::Session(session) => Some(session.clone()),
            _ => None,
        }
    }

    /// Restores a saved session (or forgets it, with `None`). Later calls use it, and refresh
    /// it when its access token has expired.
    pub fn set_session(&self, session: Option<Session>) {
        self.replace_auth(session.map_or(Auth::None, Auth::Session));
    }

    /// Calls `listener` after each change the client makes to its session by itself: login,
    /// refresh (the new tokens), logout, and a refresh token the server refused (`None`).
    /// [`Client::set_session`] and [`Client::set_bearer_token`] do not call it. Replaces the
    /// previous listener. The listener runs on the task that made the change: keep it short.
    pub fn on_session_change(&self, listener: impl Fn(Option<&Session>) + Send + Sync + 'static) {
        *lock(&self.listener) = Some(Arc::new(listener));
    }

    fn state(&self) -> MutexGuard<'_, AuthState> {
        lock(&self.auth)
    }

    fn replace_auth(&self, auth: Auth) {
        let mut state = self.state();
        state.auth = auth;
        state.generation += 1;
    }

    fn notify(&self, session: Option<&Session>) {
        let listener = lock(&self.listener).clone();
        if let Some(listener) = listener {
            listener(session);
        }
    }

    /// The credential of the next attempt of a call. Waits for a refresh under way, so calls
    /// started meanwhile go out with the new token.
    async fn credential(&self, token: TokenUse) -> Credential {
        loop {
            let flight = {
                let state = self.state();
                match &state.flight {
                    Some(flight) => Arc::clone(flight),
                    None => {
                        let (header, from_session) = match (&state.auth, token) {
                            (Auth::None, _) => (None, false),
                            (Auth::Bearer(token), _) => (Some(format!("Bearer {token}")), false),
                            (Auth::Session(_), TokenUse::Login) => (None, false),
                            (Auth::Session(s), TokenUse::Access) => {
                                (Some(format!("Bearer {}", s.access_jwt)), true)
                            }
                            (Auth::Session(s), TokenUse::Refresh) => {
                                (Some(format!("Bearer {}", s.refresh_jwt)), true)
                            }
                        };
                        return Credential {
                            header,
                            generation: state.generation,
                            from_session,
                        };
                    }
                }
            };
            flight.wait().await;
        }
    }

    /// Keeps the session in step with the session calls made through the generated methods:
    /// a refreshSession gives new tokens, a deleteSession ends the session.
    fn after_success(&self, nsid: &str, credential: &Credential, response: &HttpResponse) {
        if !credential.from_session {
            return;
        }
        let changed = {
            let mut state = self.state();
            if state.generation != credential.generation {
                return;
            }
            let session = match nsid {
                REFRESH_SESSION => match serde_json::from_slice::<Session>(&response.body) {
                    Ok(session) => Some(session),
                    Err(_) => return,
                },
                DELETE_SESSION => None,
                _ => return,
            };
            state.auth = session.clone().map_or(Auth::None, Auth::Session);
            state.generation += 1;
            session
        };
        self.notify(changed.as_ref());
    }
}

impl<T: Transport + ?Sized> Client<T> {
    /// Starts a `GET` request to a query.
    pub fn query(&self, nsid: &'static str) -> RequestBuilder<'_, T> {
        RequestBuilder::new(self, "GET", nsid)
    }

    /// Starts a `POST` request to a procedure.
    pub fn procedure(&self, nsid: &'static str) -> RequestBuilder<'_, T> {
        RequestBuilder::new(self, "POST", nsid)
    }

    /// Logs in with `com.atproto.server.createSession` and keeps the session: later calls
    /// are authenticated. `identifier` is a handle, DID or email; use an app password where
    /// the service offers them.
    ///
    /// Errors are kept by name ([`XrpcError`]): a wrong password is `AuthenticationRequired`
    /// with status 401 on the reference PDS. Accounts that need a second factor log in with
    /// the generated `create_session` method, then [`Session::from_output`] and
    /// [`Client::set_session`].
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<Session, Error<XrpcError>> {
        #[derive(Serialize)]
        struct Login<'a> {
            identifier: &'a str,
            password: &'a str,
        }
        let session: Session = self
            .procedure(CREATE_SESSION)
            .json(&Login {
                identifier,
                password,
            })
            .send::<XrpcError>()
            .await?
            .json()?;
        self.replace_auth(Auth::Session(session.clone()));
        self.notify(Some(&session));
        Ok(session)
    }

    /// Refreshes the session now (calls do it by themselves when their token has expired)
    /// and returns the new one. Joins a refresh already under way rather than starting
    /// another. A refresh token the server refuses ends the session.
    pub async fn refresh(&self) -> Result<Session, Error<XrpcError>> {
        let generation = {
            let state = self.state();
            if !matches!(state.auth, Auth::Session(_)) {
                return Err(Error::NoSession);
            }
            state.generation
        };
        match self.refresh_after_expiry(generation).await {
            AfterExpiry::Retry => self.session().ok_or(Error::NoSession),
            AfterExpiry::GiveUp => Err(Error::NoSession),
            AfterExpiry::Failed(failure) => Err(failure.into_error()),
        }
    }

    /// Ends the session on the server (`com.atproto.server.deleteSession`, which revokes the
    /// refresh token) and forgets it here, whatever the server answers.
    pub async fn logout(&self) -> Result<(), Error<XrpcError>> {
        if self.session().is_none() {
            return Err(Error::NoSession);
        }
        let result = self
            .procedure(DELETE_SESSION)
            .send::<XrpcError>()
            .await
            .map(drop);
        let forgotten = {
            let mut state = self.state();
            let had_session = matches!(state.auth, Auth::Session(_));
            if had_session {
                state.auth = Auth::None;
                state.generation += 1;
            }
            had_session
        };
        if forgotten {
            self.notify(None);
        }
        result
    }

    /// Called by a call whose session token (taken at `generation`) has expired: refreshes the
    /// session unless that already happened, joining a refresh under way.
    async fn refresh_after_expiry(&self, generation: u64) -> AfterExpiry {
        loop {
            let (flight, refresh_jwt) = {
                let mut state = self.state();
                let refresh_jwt = match &state.auth {
                    Auth::Session(session) => session.refresh_jwt.clone(),
                    _ => return AfterExpiry::GiveUp,
                };
                if state.generation != generation {
                    // Refreshed (or replaced) since the call went out: its token is new.
                    return AfterExpiry::Retry;
                }
                match &state.flight {
                    Some(flight) => (Arc::clone(flight), None),
                    None => {
                        let flight = Flight::new(generation);
                        state.flight = Some(Arc::clone(&flight));
                        (flight, Some(refresh_jwt))
                    }
                }
            };
            let Some(refresh_jwt) = refresh_jwt else {
                match flight.wait().await {
                    FlightOutcome::Refreshed => return AfterExpiry::Retry,
                    FlightOutcome::Failed(failure) => return AfterExpiry::Failed(failure),
                    // Look again, and maybe refresh ourselves.
                    FlightOutcome::Recheck => continue,
                }
            };
            let mut guard = FlightGuard {
                client: self,
                flight,
                finished: false,
            };
            let result = self.request_refresh(&refresh_jwt).await;
            guard.finished = true;
            match self.finish_refresh(&guard.flight, result) {
                Some(after) => return after,
                None => continue,
            }
        }
    }

    /// Sends refreshSession with the refresh token, straight through the transport.
    async fn request_refresh(&self, refresh_jwt: &str) -> Result<Session, RefreshFailure> {
        let request = HttpRequest {
            method: "POST",
            url: format!("{}/xrpc/{REFRESH_SESSION}", self.base_url),
            headers: vec![
                ("accept".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), format!("Bearer {refresh_jwt}")),
            ],
            body: None,
        };
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|error| RefreshFailure::Transport(error.to_string()))?;
        if response.is_success() {
            serde_json::from_slice(&response.body).map_err(|error| RefreshFailure::Decode {
                status: response.status,
                message: error.to_string(),
            })
        } else {
            let (error, message) = error_parts(&response);
            Err(RefreshFailure::Xrpc {
                status: response.status,
                error,
                message,
            })
        }
    }

    /// Stores the outcome of a refresh and wakes the calls waiting for it. `None`: the session
    /// changed while the refresh ran, so its result is dropped and the caller looks again.
    fn finish_refresh(
        &self,
        flight: &Arc<Flight>,
        result: Result<Session, RefreshFailure>,
    ) -> Option<AfterExpiry> {
        let (after, changed) = {
            let mut state = self.state();
            if state
                .flight
                .as_ref()
                .is_some_and(|f| Arc::ptr_eq(f, flight))
            {
                state.flight = None;
            }
            if state.generation != flight.generation {
                (None, None)
            } else {
                match result {
                    Ok(session) => {
                        state.auth = Auth::Session(session.clone());
                        state.generation += 1;
                        (Some(AfterExpiry::Retry), Some(Some(session)))
                    }
                    Err(failure) => {
                        let changed = failure.ends_session().then(|| {
                            state.auth = Auth::None;
                            state.generation += 1;
                            None
                        });
                        (Some(AfterExpiry::Failed(failure)), changed)
                    }
                }
            }
        };
        flight.complete(match &after {
            Some(AfterExpiry::Retry) => FlightOutcome::Refreshed,
            Some(AfterExpiry::Failed(failure)) => FlightOutcome::Failed(failure.clone()),
            Some(AfterExpiry::GiveUp) | None => FlightOutcome::Recheck,
        });
        if let Some(session) = changed {
            self.notify(session.as_ref());
        }
        after
    }
}

/// A request being built by a generated method.
pub struct RequestBuilder<'c, T: ?Sized> {
    client: &'c Client<T>,
    method: &'static str,
    nsid: &'static str,
    query: Query,
    body: Option<(Vec<u8>, String)>,
    encode_error: Option<String>,
}

impl<'c, T: Transport + ?Sized> RequestBuilder<'c, T> {
    fn new(client: &'c Client<T>, method: &'static str, nsid: &'static str) -> Self {
        RequestBuilder {
            client,
            method,
            nsid,
            query: Query::default(),
            body: None,
            encode_error: None,
        }
    }

    pub fn params(mut self, params: &impl QueryParams) -> Self {
        params.push_to(&mut self.query);
        self
    }

    pub fn json(mut self, input: &impl Serialize) -> Self {
        match serde_json::to_vec(input) {
            Ok(bytes) => self.body = Some((bytes, "application/json".to_owned())),
            Err(error) => self.encode_error = Some(error.to_string()),
        }
        self
    }

    /// A raw body (a blob) sent with the caller's `Content-Type`.
    pub fn bytes(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = Some((body, content_type.to_owned()));
        self
    }

    /// Sends the request. A non-2xx answer becomes [`Error::Xrpc`] with the typed error.
    ///
    /// With a session, a call answered `ExpiredToken` is sent once more after the session is
    /// refreshed; for that, the body is copied before the first attempt.
    pub async fn send<E: XrpcErrorKind>(self) -> Result<Response<E>, Error<E>> {
        let RequestBuilder {
            client,
            method,
            nsid,
            query,
            body,
            encode_error,
        } = self;
        if let Some(message) = encode_error {
            return Err(Error::Encode(message));
        }
        let url = format!("{}/xrpc/{nsid}{}", client.base_url, query.to_query_string());
        let (mut body, content_type) = match body {
            Some((bytes, content_type)) => (Some(bytes), Some(content_type)),
            None => (None, None),
        };
        let token = TokenUse::of(nsid);
        let mut retried = false;
        loop {
            let credential = client.credential(token).await;
            let may_retry = !retried && credential.from_session && token == TokenUse::Access;
            let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
            if let Some(content_type) = &content_type {
                headers.push(("content-type".to_owned(), content_type.clone()));
            }
            if let Some(header) = &credential.header {
                headers.push(("authorization".to_owned(), header.clone()));
            }
            let request = HttpRequest {
                method,
                url: url.clone(),
                headers,
                body: if may_retry { body.clone() } else { body.take() },
            };
            let response = client
                .transport
                .send(request)
                .await
                .map_err(Error::Transport)?;
            if response.is_success() {
                client.after_success(nsid, &credential, &response);
                return Ok(Response {
                    inner: response,
                    error: PhantomData,
                });
            }
            let status = response.status;
            let (name, message) = error_parts(&response);
            if may_retry && name == EXPIRED_TOKEN {
                match client.refresh_after_expiry(credential.generation).await {
                    AfterExpiry::Retry => {
                        retried = true;
                        continue;
                    }
                    AfterExpiry::GiveUp => {}
                    AfterExpiry::Failed(failure) => return Err(failure.into_error()),
                }
            }
            return Err(Error::Xrpc {
                status,
                error: E::from_parts(name, message),
            });
        }
    }
}

/// The error name and message of a non-2xx response. Bodies that are not `{"error": ..}`
/// JSON (from a proxy, say) get a name from the status and keep their text as the message.
fn error_parts(response: &HttpResponse) -> (String, Option<String>) {
    #[derive(Deserialize)]
    struct Body {
        error: String,
        message: Option<String>,
    }
    match serde_json::from_slice::<Body>(&response.body) {
        Ok(body) => (body.error, body.message),
        Err(_) => {
            let name = match response.status {
                400 => "InvalidRequest",
                401 => "AuthenticationRequired",
                403 => "Forbidden",
                404 => "XRPCNotSupported",
                413 => "PayloadTooLarge",
                429 => "RateLimitExceeded",
                500 => "InternalServerError",
                501 => "MethodNotImplemented",
                502 => "UpstreamFailure",
                503 => "NotEnoughResources",
                504 => "UpstreamTimeout",
                _ => "UnexpectedStatus",
            };
            let text = String::from_utf8_lossy(&response.body);
            let text: String = text.chars().take(512).collect();
            (name.to_owned(), (!text.trim().is_empty()).then_some(text))
        }
    }
}

/// A successful response, decoded by the generated method.
#[derive(Debug)]
pub struct Response<E> {
    inner: HttpResponse,
    error: PhantomData<fn() -> E>,
}

impl<E> Response<E> {
    pub fn json<O: DeserializeOwned>(self) -> Result<O, Error<E>> {
        serde_json::from_slice(&self.inner.body).map_err(|e| Error::Decode {
            status: self.inner.status,
            message: e.to_string(),
        })
    }

    pub fn raw(self) -> Result<RawBody, Error<E>> {
        let content_type = self.inner.header("content-type").map(str::to_owned);
        Ok(RawBody {
            content_type,
            bytes: self.inner.body,
        })
    }

    pub fn empty(self) -> Result<(), Error<E>> {
        Ok(())
    }

    pub fn http(&self) -> &HttpResponse {
        &self.inner
    }
}

/// The default transport, on a reqwest client.
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone, Default)]
pub struct ReqwestTransport(pub reqwest::Client);

#[cfg(feature = "reqwest")]
impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(TransportError::new)?;
            let mut builder = self.0.request(method, &request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = request.body {
                builder = builder.body(body);
            }
            let response = builder.send().await.map_err(TransportError::new)?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect();
            let body = response
                .bytes()
                .await
                .map_err(TransportError::new)?
                .to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }
}
