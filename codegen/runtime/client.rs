//! The XRPC client: requests built by the generated methods, sent through a [`Transport`].
//!
//! Bring your own HTTP stack by implementing [`Transport`]; the `reqwest` feature provides
//! `ReqwestTransport` (HTTP and HTTPS). Errors keep apart what failed: the transport, the
//! endpoint (its typed error, with the HTTP status), or a response body that does not match the
//! lexicon.
//!
//! Sessions: [`Client::login`] logs in with `com.atproto.server.createSession` and keeps the
//! [`Session`]; later calls send its access token. A call answered with the error
//! `ExpiredToken` makes the client refresh the session (`com.atproto.server.refreshSession`)
//! and send the call once more. However many calls meet the expired token at once, one
//! refresh runs and the others wait for it and share its outcome, its error included. Explicit
//! refreshes and logouts take the same turn. [`Client::session`] and [`Client::set_session`]
//! save and restore a session (it is `serde`), and [`Client::on_session_change`] tells when
//! the client changed it by itself, in order. `Debug` never prints tokens or passwords.
//!
//! Limits: every request (the refresh too) has a timeout ([`Client::with_timeout`]) and every
//! buffered response a size limit ([`Client::with_response_limit`]); large binary bodies are
//! read in chunks with [`RequestBuilder::send_streaming`] (the generated `*_stream` methods).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

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

/// The timeout of each request when the client is not told otherwise
/// ([`Client::with_timeout`]): long enough for an ordinary upload, short enough that a server
/// that never answers (a refresh that hangs holds up every call) is given up on.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The size limit of a buffered response body when the client is not told otherwise
/// ([`Client::with_response_limit`]). Far above any JSON output and an ordinary image blob;
/// bodies that may be larger (`getRepo`, videos) are meant to be streamed
/// ([`RequestBuilder::send_streaming`]), which has no limit.
pub const DEFAULT_RESPONSE_LIMIT: u64 = 32 * 1024 * 1024;

/// One HTTP request, as the client hands it to the transport.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Give up after this long: the transport answers [`TransportError::timeout`] then.
    ///
    /// The timeout travels with the request, rather than the client running a timer of its
    /// own, so that the client stays free of any async runtime: the transport already lives
    /// on one and knows how to time out there (reqwest has its own timeouts). For
    /// [`Transport::send`] it covers the whole exchange, the body read included; for
    /// [`Transport::send_streaming`] it covers the wait for the response head and then the
    /// wait for each chunk, so a long download that keeps moving is never cut.
    pub timeout: Option<Duration>,
    /// The largest body [`Transport::send`] should read: past it, stop reading and answer
    /// [`TransportError::body_too_large`]. The client checks it again on what comes back, but
    /// only the transport can avoid holding a body that is too large in memory.
    /// `None` for streamed requests.
    pub response_limit: Option<u64>,
}

impl HttpRequest {
    /// A request with no headers, body, timeout or limit.
    pub fn new(method: &'static str, url: impl Into<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            response_limit: None,
        }
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .field("response_limit", &self.response_limit)
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
        header_value(&self.headers, name)
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
///
/// An implementation should honour [`HttpRequest::timeout`] and
/// [`HttpRequest::response_limit`]: the client cannot time out a transport that never
/// answers, since it runs no timer of its own.
pub trait Transport: Send + Sync {
    /// Sends the request and reads the whole response body.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;

    /// Sends the request and hands back the body as it arrives, for bodies too large to hold
    /// in memory. The default reads the whole body with [`Transport::send`] and hands it back
    /// as one chunk, so a transport only needs `send` to work; implement this one to stream.
    fn send_streaming(
        &self,
        request: HttpRequest,
    ) -> BoxFuture<'_, Result<StreamingResponse, TransportError>> {
        Box::pin(async move { self.send(request).await.map(StreamingResponse::from) })
    }
}

/// What kind of [`TransportError`] it is, for callers that treat some apart (retry after a
/// timeout, stream a body that was too large).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No answer (or no next chunk) within [`HttpRequest::timeout`].
    Timeout,
    /// The body is larger than [`HttpRequest::response_limit`], which it carries.
    BodyTooLarge { limit: u64 },
    /// Anything else: connection refused, TLS, a broken connection, ...
    Other,
}

/// The request never got a (complete) response: connection refused, timeout, TLS, a body
/// over the size limit, ...
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// An error of kind [`TransportErrorKind::Other`]; its message names its causes too.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        TransportError {
            kind: TransportErrorKind::Other,
            message: error_chain(&error),
            source: Some(Box::new(error)),
        }
    }

    pub fn msg(message: impl Into<String>) -> Self {
        TransportError {
            kind: TransportErrorKind::Other,
            message: message.into(),
            source: None,
        }
    }

    /// The request took longer than `after` ([`HttpRequest::timeout`]).
    pub fn timeout(after: Duration) -> Self {
        TransportError {
            kind: TransportErrorKind::Timeout,
            message: format!(
                "no response within the timeout of {after:?} (see Client::with_timeout)"
            ),
            source: None,
        }
    }

    /// The response body is larger than `limit` bytes ([`HttpRequest::response_limit`]).
    pub fn body_too_large(limit: u64) -> Self {
        TransportError {
            kind: TransportErrorKind::BodyTooLarge { limit },
            message: format!(
                "the response body is larger than the limit of {limit} bytes (raise it with \
                 Client::with_response_limit, or read the body with send_streaming)"
            ),
            source: None,
        }
    }

    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    pub fn is_timeout(&self) -> bool {
        self.kind == TransportErrorKind::Timeout
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

/// Where a [`BodyStream`] gets its chunks: implement it to stream bodies from your own HTTP
/// stack ([`Transport::send_streaming`]).
pub trait BodySource: Send {
    /// The next chunk of the body; `None` at its end.
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<Result<Vec<u8>, TransportError>>>;
}

/// A response body read chunk by chunk, as it arrives.
pub struct BodyStream(Box<dyn BodySource>);

impl BodyStream {
    pub fn new(source: impl BodySource + 'static) -> Self {
        BodyStream(Box::new(source))
    }

    /// A body that is already all in memory: one chunk (none if it is empty).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        BodyStream::new(Whole(Some(bytes).filter(|b| !b.is_empty())))
    }

    /// The next chunk; `Ok(None)` at the end of the body.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        self.0.next_chunk().await.transpose()
    }

    /// Reads the rest of the body, failing past `limit` bytes (the body read so far is then
    /// dropped): for bodies that are usually small but come from a stream.
    pub async fn read_to_end(&mut self, limit: u64) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(TransportError::body_too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BodyStream")
    }
}

/// The source of [`BodyStream::from_bytes`].
struct Whole(Option<Vec<u8>>);

impl BodySource for Whole {
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<Result<Vec<u8>, TransportError>>> {
        let chunk = self.0.take().map(Ok);
        Box::pin(std::future::ready(chunk))
    }
}

/// A response whose body is read as it arrives ([`Transport::send_streaming`],
/// [`RequestBuilder::send_streaming`]).
pub struct StreamingResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyStream,
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .finish_non_exhaustive()
    }
}

impl StreamingResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The next chunk of the body; `Ok(None)` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        self.body.chunk().await
    }

    /// Reads the whole body, up to `limit` bytes.
    async fn buffer(mut self, limit: u64) -> Result<HttpResponse, TransportError> {
        let body = self.body.read_to_end(limit).await?;
        Ok(HttpResponse {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

impl From<HttpResponse> for StreamingResponse {
    fn from(response: HttpResponse) -> Self {
        StreamingResponse {
            status: response.status,
            headers: response.headers,
            body: BodyStream::from_bytes(response.body),
        }
    }
}

fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
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

impl<E> From<TransportError> for Error<E> {
    fn from(error: TransportError) -> Self {
        Error::Transport(error)
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

    /// Sets the one value of `name` (an event stream's `cursor`), replacing any it had.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        self.0.retain(|(n, _)| *n != name);
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

/// Everything but the URI's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped.
const QUERY_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(text: &str, out: &mut String) {
    out.extend(percent_encoding::utf8_percent_encode(text, QUERY_ESCAPED));
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
    /// session was refreshed since the call was sent, and the session listener whether a
    /// change is still the latest.
    generation: u64,
    /// The refresh or logout under way, if any. Both spend the refresh token, so they take
    /// turns: one at a time, and calls wait for it rather than send a token it replaces.
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

impl Credential {
    /// The access token a call retries with, once; no second refresh follows it.
    fn retry(access_jwt: &str) -> Self {
        Credential {
            header: Some(format!("Bearer {access_jwt}")),
            generation: 0,
            from_session: true,
        }
    }
}

/// One refresh (or logout) of the session, awaited by every call that needs the session
/// meanwhile.
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
    /// The session was refreshed: the refreshSession response, whose whole output the
    /// generated `refresh_session` method returns to whoever asked for it, and the new access
    /// token, which the calls that waited retry with.
    Refreshed {
        response: Arc<HttpResponse>,
        access_jwt: String,
    },
    Failed(RefreshFailure),
    /// Look at the session again: a logout ran, the refreshing call was dropped half-way, or
    /// the session was replaced while the refresh ran.
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
    Transport {
        kind: TransportErrorKind,
        message: String,
    },
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
            RefreshFailure::Transport { kind, message } => Error::Transport(TransportError {
                kind,
                message: format!("refreshing the session: {message}"),
                source: None,
            }),
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
    /// Send the call again with this access token: the one the refresh it waited for brought,
    /// or that of the session which replaced its own. Not the session's token at the time of
    /// sending: a logout may have ended the session meanwhile, and the call would go out
    /// without one.
    Retry(String),
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

impl<T: ?Sized> FlightGuard<'_, T> {
    /// Takes the flight out of the client's state (if it is still there), and returns the
    /// state, locked, for the caller to record the flight's result.
    fn land(&mut self) -> MutexGuard<'_, AuthState> {
        self.finished = true;
        let mut state = self.client.state();
        if state
            .flight
            .as_ref()
            .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
        {
            state.flight = None;
        }
        state
    }
}

impl<T: ?Sized> Drop for FlightGuard<'_, T> {
    fn drop(&mut self) {
        if !self.finished {
            drop(self.land());
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
    timeout: Option<Duration>,
    response_limit: u64,
    auth: Mutex<AuthState>,
    listener: Mutex<Option<SessionListener>>,
    /// The generation of the last session change the listener was told of; held while the
    /// listener runs, so that changes reach it one at a time and never out of order.
    notified: Mutex<u64>,
    transport: T,
}

impl<T: ?Sized> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        let mut out = f.debug_struct("Client");
        out.field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("response_limit", &self.response_limit);
        match &state.auth {
            Auth::None => out.field("authenticated", &false),
            Auth::Bearer(_) => out.field("authenticated", &true),
            Auth::Session(session) => out.field("authenticated", &true).field("session", session),
        };
        out.finish_non_exhaustive()
    }
}

impl<T: Transport> Client<T> {
    /// A client for the service at `base_url` (`https://bsky.social`), with the
    /// [`DEFAULT_TIMEOUT`] and the [`DEFAULT_RESPONSE_LIMIT`].
    pub fn new(base_url: impl Into<String>, transport: T) -> Self {
        Client {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            timeout: Some(DEFAULT_TIMEOUT),
            response_limit: DEFAULT_RESPONSE_LIMIT,
            auth: Mutex::new(AuthState {
                auth: Auth::None,
                generation: 0,
                flight: None,
            }),
            listener: Mutex::new(None),
            notified: Mutex::new(0),
            transport,
        }
    }

    /// Sets the timeout of every request, the session refresh included (`None`: wait for as
    /// long as it takes). See [`HttpRequest::timeout`] for what it covers; a single request
    /// can have its own ([`RequestBuilder::timeout`]).
    pub fn with_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Sets the largest response body a call reads into memory, in bytes. A larger body fails
    /// the call with a [`TransportError`] of kind [`TransportErrorKind::BodyTooLarge`]; read
    /// such bodies with [`RequestBuilder::send_streaming`] instead.
    pub fn with_response_limit(mut self, bytes: u64) -> Self {
        self.response_limit = bytes;
        self
    }
}

#[cfg(feature = "reqwest")]
impl Client<ReqwestTransport> {
    /// A client on a default reqwest HTTP client (HTTP and HTTPS).
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

    /// The timeout of each request ([`Client::with_timeout`]).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The largest response body a call reads into memory ([`Client::with_response_limit`]).
    pub fn response_limit(&self) -> u64 {
        self.response_limit
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
    /// previous listener.
    ///
    /// Changes reach the listener one at a time and in the order they happened, and a change
    /// that is no longer the client's session when its turn comes is skipped: a listener that
    /// saves the session therefore never ends with a token a later refresh replaced. The
    /// listener runs on the task that made the change, while other changes wait for it: keep
    /// it short (write a file, send on a channel).
    pub fn on_session_change(&self, listener: impl Fn(Option<&Session>) + Send + Sync + 'static) {
        *lock(&self.listener) = Some(Arc::new(listener));
    }

    fn state(&self) -> MutexGuard<'_, AuthState> {
        lock(&self.auth)
    }

    /// Replaces the session (or token) and returns the new generation.
    fn replace_auth(&self, auth: Auth) -> u64 {
        let mut state = self.state();
        state.auth = auth;
        state.generation += 1;
        state.generation
    }

    /// Tells the listener about the change that made `generation`, unless a later change
    /// already replaced it.
    fn notify(&self, generation: u64, session: Option<&Session>) {
        let mut notified = lock(&self.notified);
        if generation <= *notified || self.state().generation != generation {
            return;
        }
        *notified = generation;
        let listener = lock(&self.listener).clone();
        if let Some(listener) = listener {
            listener(session);
        }
    }

    fn has_session(&self) -> bool {
        matches!(self.state().auth, Auth::Session(_))
    }

    /// The credential of the next attempt of a call. Waits for a refresh under way, so calls
    /// started meanwhile go out with the new token; if that refresh failed, its error is the
    /// call's too (rather than each call sending the expired token to find out again).
    async fn credential(&self, token: TokenUse) -> Result<Credential, RefreshFailure> {
        loop {
            let flight = {
                let state = self.state();
                match &state.flight {
                    Some(flight) if token != TokenUse::Login => Arc::clone(flight),
                    _ => {
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
                        return Ok(Credential {
                            header,
                            generation: state.generation,
                            from_session,
                        });
                    }
                }
            };
            if let FlightOutcome::Failed(failure) = flight.wait().await {
                return Err(failure);
            }
        }
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
        let generation = self.replace_auth(Auth::Session(session.clone()));
        self.notify(generation, Some(&session));
        Ok(session)
    }

    /// Refreshes the session now (calls do it by themselves when their token has expired)
    /// and returns the new one. Joins a refresh already under way rather than starting
    /// another, and waits for a logout under way. A refresh token the server refuses ends the
    /// session. The generated `refresh_session` method does the same.
    pub async fn refresh(&self) -> Result<Session, Error<XrpcError>> {
        let response = match self.refresh_now().await {
            Ok(response) => response,
            Err(None) => return Err(Error::NoSession),
            Err(Some(failure)) => return Err(failure.into_error()),
        };
        serde_json::from_slice(&response.body).map_err(|error| Error::Decode {
            status: response.status,
            message: error.to_string(),
        })
    }

    /// Ends the session on the server (`com.atproto.server.deleteSession`, which revokes the
    /// refresh token) and forgets it here, whatever the server answers. Waits for a refresh
    /// under way, so that the token it revokes is the latest. The generated `delete_session`
    /// method does the same, but forgets the session only when the server accepts.
    pub async fn logout(&self) -> Result<(), Error<XrpcError>> {
        let response = self.delete_now(true).await?;
        if response.is_success() {
            Ok(())
        } else {
            Err(xrpc_error(&response))
        }
    }

    /// Sends a request, holding no more than the response limit of body in memory.
    async fn send_buffered(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let limit = request.response_limit;
        let response = self.transport.send(request).await?;
        match limit {
            Some(limit) if response.body.len() as u64 > limit => {
                Err(TransportError::body_too_large(limit))
            }
            _ => Ok(response),
        }
    }

    /// A refreshSession or deleteSession request with the refresh token.
    fn session_request(&self, nsid: &str, refresh_jwt: &str) -> HttpRequest {
        HttpRequest {
            method: "POST",
            url: format!("{}/xrpc/{nsid}", self.base_url),
            headers: vec![
                ("accept".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), format!("Bearer {refresh_jwt}")),
            ],
            body: None,
            timeout: self.timeout,
            response_limit: Some(self.response_limit),
        }
    }

    /// Takes the session's turn, or says who has it: a refresh or logout under way goes
    /// first. With `from_generation`, a session changed since that generation is
    /// [`Turn::Moved`] (a call that met an expired token may retry with the new one).
    fn take_turn(&self, from_generation: Option<u64>) -> Turn {
        let mut state = self.state();
        let session = match &state.auth {
            Auth::Session(session) => session,
            _ => return Turn::NoSession,
        };
        if from_generation.is_some_and(|generation| generation != state.generation) {
            return Turn::Moved(session.access_jwt.clone());
        }
        let refresh_jwt = session.refresh_jwt.clone();
        match &state.flight {
            Some(flight) => Turn::Wait(Arc::clone(flight)),
            None => {
                let flight = Flight::new(state.generation);
                state.flight = Some(Arc::clone(&flight));
                Turn::Mine(flight, refresh_jwt)
            }
        }
    }

    /// Refreshes the session, joining a refresh under way. `Err(None)`: no session.
    async fn refresh_now(&self) -> Result<Arc<HttpResponse>, Option<RefreshFailure>> {
        loop {
            let outcome = match self.take_turn(None) {
                Turn::NoSession | Turn::Moved(_) => return Err(None),
                Turn::Wait(flight) => flight.wait().await,
                Turn::Mine(flight, refresh_jwt) => self.run_refresh(flight, &refresh_jwt).await,
            };
            match outcome {
                FlightOutcome::Refreshed { response, .. } => return Ok(response),
                FlightOutcome::Failed(failure) => return Err(Some(failure)),
                FlightOutcome::Recheck => continue,
            }
        }
    }

    /// Called by a call whose session token (taken at `generation`) has expired: refreshes the
    /// session unless that already happened, joining a refresh under way.
    async fn refresh_after_expiry(&self, generation: u64) -> AfterExpiry {
        loop {
            let outcome = match self.take_turn(Some(generation)) {
                Turn::NoSession => return AfterExpiry::GiveUp,
                // Refreshed (or replaced) since the call went out: its token is new.
                Turn::Moved(access_jwt) => return AfterExpiry::Retry(access_jwt),
                Turn::Wait(flight) => flight.wait().await,
                Turn::Mine(flight, refresh_jwt) => self.run_refresh(flight, &refresh_jwt).await,
            };
            match outcome {
                FlightOutcome::Refreshed { access_jwt, .. } => {
                    return AfterExpiry::Retry(access_jwt);
                }
                FlightOutcome::Failed(failure) => return AfterExpiry::Failed(failure),
                // Look again, and maybe refresh ourselves.
                FlightOutcome::Recheck => continue,
            }
        }
    }

    /// Sends refreshSession with the refresh token of the turn, records the outcome and wakes
    /// the calls waiting for it.
    async fn run_refresh(&self, flight: Arc<Flight>, refresh_jwt: &str) -> FlightOutcome {
        let mut guard = FlightGuard {
            client: self,
            flight,
            finished: false,
        };
        let result = self
            .send_buffered(self.session_request(REFRESH_SESSION, refresh_jwt))
            .await;
        let refreshed = match result {
            Err(error) => Err(RefreshFailure::Transport {
                kind: error.kind,
                message: error.message,
            }),
            Ok(response) if response.is_success() => {
                match serde_json::from_slice::<Session>(&response.body) {
                    Ok(session) => Ok((session, Arc::new(response))),
                    Err(error) => Err(RefreshFailure::Decode {
                        status: response.status,
                        message: error.to_string(),
                    }),
                }
            }
            Ok(response) => {
                let (error, message) = error_parts(&response);
                Err(RefreshFailure::Xrpc {
                    status: response.status,
                    error,
                    message,
                })
            }
        };
        let (outcome, changed) = {
            let generation = guard.flight.generation;
            let mut state = guard.land();
            if state.generation != generation {
                // The session was replaced meanwhile: this result is not about it.
                (FlightOutcome::Recheck, None)
            } else {
                match refreshed {
                    Ok((session, response)) => {
                        state.auth = Auth::Session(session.clone());
                        state.generation += 1;
                        (
                            FlightOutcome::Refreshed {
                                response,
                                access_jwt: session.access_jwt.clone(),
                            },
                            Some((state.generation, Some(session))),
                        )
                    }
                    Err(failure) => {
                        let changed = failure.ends_session().then(|| {
                            state.auth = Auth::None;
                            state.generation += 1;
                            (state.generation, None)
                        });
                        (FlightOutcome::Failed(failure), changed)
                    }
                }
            }
        };
        guard.flight.complete(outcome.clone());
        if let Some((generation, session)) = changed {
            self.notify(generation, session.as_ref());
        }
        outcome
    }

    /// Sends deleteSession with the refresh token, in the session's turn, and forgets the
    /// session when the server accepts (or always, with `forget_always`).
    async fn delete_now(&self, forget_always: bool) -> Result<HttpResponse, Error<XrpcError>> {
        let (flight, refresh_jwt) = loop {
            match self.take_turn(None) {
                Turn::NoSession | Turn::Moved(_) => return Err(Error::NoSession),
                // A refresh under way: the refresh token it brings is the one to revoke.
                Turn::Wait(flight) => drop(flight.wait().await),
                Turn::Mine(flight, refresh_jwt) => break (flight, refresh_jwt),
            }
        };
        let mut guard = FlightGuard {
            client: self,
            flight,
            finished: false,
        };
        let result = self
            .send_buffered(self.session_request(DELETE_SESSION, &refresh_jwt))
            .await;
        let accepted = matches!(&result, Ok(response) if response.is_success());
        let ended = {
            let generation = guard.flight.generation;
            let mut state = guard.land();
            (state.generation == generation && (accepted || forget_always)).then(|| {
                state.auth = Auth::None;
                state.generation += 1;
                state.generation
            })
        };
        guard.flight.complete(FlightOutcome::Recheck);
        if let Some(generation) = ended {
            self.notify(generation, None);
        }
        result.map_err(Error::Transport)
    }
}

/// Who has the session's turn, as [`Client::take_turn`] tells.
enum Turn {
    /// There is no session.
    NoSession,
    /// The session changed since the generation the caller knew; its access token.
    Moved(String),
    /// A refresh or logout has it: wait for this flight.
    Wait(Arc<Flight>),
    /// The caller has it, with the refresh token to spend.
    Mine(Arc<Flight>, String),
}

/// A request being built by a generated method.
pub struct RequestBuilder<'c, T: ?Sized> {
    client: &'c Client<T>,
    method: &'static str,
    nsid: &'static str,
    query: Query,
    body: Option<(Vec<u8>, String)>,
    encode_error: Option<String>,
    timeout: Option<Duration>,
}

/// A response as it arrived: whole, or with its body still to read.
enum Exchanged {
    Whole(HttpResponse),
    Stream(StreamingResponse),
}

impl Exchanged {
    fn status(&self) -> u16 {
        match self {
            Exchanged::Whole(response) => response.status,
            Exchanged::Stream(response) => response.status,
        }
    }

    async fn into_whole(self, limit: u64) -> Result<HttpResponse, TransportError> {
        match self {
            Exchanged::Whole(response) => Ok(response),
            Exchanged::Stream(response) => response.buffer(limit).await,
        }
    }
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
            timeout: client.timeout,
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

    /// This request's own timeout, in place of the client's ([`Client::with_timeout`]): for
    /// a large upload, say. `None`: no timeout.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Sends the request and reads the whole response, up to the client's response limit. A
    /// non-2xx answer becomes [`Error::Xrpc`] with the typed error.
    ///
    /// With a session, a call answered `ExpiredToken` is sent once more after the session is
    /// refreshed; for that, the body is copied before the first attempt.
    pub async fn send<E: XrpcErrorKind>(self) -> Result<Response<E>, Error<E>> {
        let limit = self.client.response_limit;
        let response = self.exchange::<E>(false).await?.into_whole(limit).await?;
        Ok(Response {
            inner: response,
            error: PhantomData,
        })
    }

    /// Sends the request and hands back a successful response with its body still to read,
    /// chunk by chunk and with no size limit: for large binary outputs (`getRepo`, `getBlob`).
    /// Errors, sessions and timeouts are as for [`RequestBuilder::send`]; the timeout covers
    /// the wait for the response head and then for each chunk. A transport that does not
    /// stream ([`Transport::send_streaming`]) hands back the body in one chunk.
    pub async fn send_streaming<E: XrpcErrorKind>(self) -> Result<StreamingResponse, Error<E>> {
        match self.exchange::<E>(true).await? {
            Exchanged::Whole(response) => Ok(response.into()),
            Exchanged::Stream(response) => Ok(response),
        }
    }

    async fn exchange<E: XrpcErrorKind>(self, streaming: bool) -> Result<Exchanged, Error<E>> {
        let RequestBuilder {
            client,
            method,
            nsid,
            query,
            body,
            encode_error,
            timeout,
        } = self;
        if let Some(message) = encode_error {
            return Err(Error::Encode(message));
        }
        let token = TokenUse::of(nsid);
        if token == TokenUse::Refresh && client.has_session() {
            // The session's own calls take its turn, as automatic refreshes do: never two
            // spending the same refresh token at once.
            let response = if nsid == REFRESH_SESSION {
                match client.refresh_now().await {
                    Ok(response) => HttpResponse::clone(&response),
                    Err(None) => return Err(Error::NoSession),
                    Err(Some(failure)) => return Err(failure.into_error()),
                }
            } else {
                client
                    .delete_now(false)
                    .await
                    .map_err(Error::into_kind::<E>)?
            };
            return if response.is_success() {
                Ok(Exchanged::Whole(response))
            } else {
                Err(xrpc_error(&response))
            };
        }
        let url = format!("{}/xrpc/{nsid}{}", client.base_url, query.to_query_string());
        let (mut body, content_type) = match body {
            Some((bytes, content_type)) => (Some(bytes), Some(content_type)),
            None => (None, None),
        };
        let limit = client.response_limit;
        let mut retried = false;
        let mut retry_with: Option<String> = None;
        loop {
            let credential = match retry_with.take() {
                Some(access_jwt) => Credential::retry(&access_jwt),
                None => client
                    .credential(token)
                    .await
                    .map_err(RefreshFailure::into_error)?,
            };
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
                timeout,
                response_limit: (!streaming).then_some(limit),
            };
            let response = if streaming {
                Exchanged::Stream(client.transport.send_streaming(request).await?)
            } else {
                Exchanged::Whole(client.send_buffered(request).await?)
            };
            if (200..300).contains(&response.status()) {
                return Ok(response);
            }
            // An error answer: its body is small, read it whole.
            let response = response.into_whole(limit).await?;
            let (name, message) = error_parts(&response);
            if may_retry && name == EXPIRED_TOKEN {
                match client.refresh_after_expiry(credential.generation).await {
                    AfterExpiry::Retry(access_jwt) => {
                        retried = true;
                        retry_with = Some(access_jwt);
                        continue;
                    }
                    AfterExpiry::GiveUp => {}
                    AfterExpiry::Failed(failure) => return Err(failure.into_error()),
                }
            }
            return Err(Error::Xrpc {
                status: response.status,
                error: E::from_parts(name, message),
            });
        }
    }
}

/// The typed error of a non-2xx response.
fn xrpc_error<E: XrpcErrorKind>(response: &HttpResponse) -> Error<E> {
    let (name, message) = error_parts(response);
    Error::Xrpc {
        status: response.status,
        error: E::from_parts(name, message),
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

/// The default transport, on a reqwest client: HTTP/1.1 and HTTP/2, and HTTPS with rustls
/// (the `aws-lc-rs` crypto provider, reqwest's own default) checking certificates against the
/// system's roots. It honours [`HttpRequest::timeout`] (reqwest's own timeout for whole
/// exchanges, a tokio timer for streams) and [`HttpRequest::response_limit`] (it stops reading
/// past the limit, or before reading when `Content-Length` says so).
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    /// Why the default client could not be built, for every call to say: on a machine with
    /// no CA certificates, building it fails, and a constructor should not panic over that.
    client: Result<reqwest::Client, Arc<str>>,
}

#[cfg(feature = "reqwest")]
impl ReqwestTransport {
    /// A transport on reqwest's default client. If that client cannot be built (no CA
    /// certificates on the system, say), every request fails with a [`TransportError`] saying
    /// why; bring a client built your way with [`ReqwestTransport::from_client`].
    pub fn new() -> Self {
        ReqwestTransport {
            client: reqwest::Client::builder().build().map_err(|error| {
                format!(
                    "the default HTTP client could not be built: {}",
                    error_chain(&error)
                )
                .into()
            }),
        }
    }

    /// A transport on a reqwest client of your own (with proxies, extra root certificates, ...).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client: Ok(client) }
    }

    /// The reqwest client, when it could be built.
    pub fn client(&self) -> Option<&reqwest::Client> {
        self.client.as_ref().ok()
    }

    fn request(&self, request: HttpRequest) -> Result<reqwest::RequestBuilder, TransportError> {
        let client = self
            .client
            .as_ref()
            .map_err(|message| TransportError::msg(message.to_string()))?;
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(TransportError::new)?;
        let mut builder = client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        Ok(builder)
    }
}

#[cfg(feature = "reqwest")]
impl Default for ReqwestTransport {
    fn default() -> Self {
        ReqwestTransport::new()
    }
}

#[cfg(feature = "reqwest")]
impl From<reqwest::Client> for ReqwestTransport {
    fn from(client: reqwest::Client) -> Self {
        ReqwestTransport::from_client(client)
    }
}

/// An error with its causes, `outer: inner: innermost`: reqwest puts the useful part (refused,
/// TLS, ...) in the causes.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(feature = "reqwest")]
fn reqwest_error(error: reqwest::Error, timeout: Option<Duration>) -> TransportError {
    match timeout {
        Some(after) if error.is_timeout() => TransportError {
            source: Some(Box::new(error)),
            ..TransportError::timeout(after)
        },
        _ => TransportError {
            kind: TransportErrorKind::Other,
            message: error_chain(&error),
            source: Some(Box::new(error)),
        },
    }
}

#[cfg(feature = "reqwest")]
fn reqwest_headers(response: &reqwest::Response) -> Vec<(String, String)> {
    response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect()
}

#[cfg(feature = "reqwest")]
impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let (timeout, limit) = (request.timeout, request.response_limit);
            let mut builder = self.request(request)?;
            if let Some(timeout) = timeout {
                // reqwest's own timeout runs until the body is read.
                builder = builder.timeout(timeout);
            }
            let mut response = builder
                .send()
                .await
                .map_err(|error| reqwest_error(error, timeout))?;
            if let (Some(limit), Some(length)) = (limit, response.content_length()) {
                if length > limit {
                    return Err(TransportError::body_too_large(limit));
                }
            }
            let status = response.status().as_u16();
            let headers = reqwest_headers(&response);
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|error| reqwest_error(error, timeout))?
            {
                if limit.is_some_and(|limit| (body.len() + chunk.len()) as u64 > limit) {
                    return Err(TransportError::body_too_large(limit.unwrap_or_default()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }

    fn send_streaming(
        &self,
        request: HttpRequest,
    ) -> BoxFuture<'_, Result<StreamingResponse, TransportError>> {
        Box::pin(async move {
            let timeout = request.timeout;
            let send = self.request(request)?.send();
            let response = within(timeout, send)
                .await?
                .map_err(|error| reqwest_error(error, None))?;
            Ok(StreamingResponse {
                status: response.status().as_u16(),
                headers: reqwest_headers(&response),
                body: BodyStream::new(ReqwestBody { response, timeout }),
            })
        })
    }
}

/// `future`, or a timeout error after `timeout`. reqwest's own timeout would also cut a
/// download that keeps moving, so streams time out each wait on a tokio timer instead
/// (reqwest runs on tokio anyway).
#[cfg(feature = "reqwest")]
async fn within<F: Future>(timeout: Option<Duration>, future: F) -> Result<F::Output, TransportError> {
    match timeout {
        Some(after) => tokio::time::timeout(after, future)
            .await
            .map_err(|_| TransportError::timeout(after)),
        None => Ok(future.await),
    }
}

/// A reqwest response body, chunk by chunk.
#[cfg(feature = "reqwest")]
struct ReqwestBody {
    response: reqwest::Response,
    /// The longest wait for one chunk.
    timeout: Option<Duration>,
}

#[cfg(feature = "reqwest")]
impl BodySource for ReqwestBody {
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<Result<Vec<u8>, TransportError>>> {
        Box::pin(async move {
            let chunk = match within(self.timeout, self.response.chunk()).await {
                Ok(chunk) => chunk.map_err(|error| reqwest_error(error, None)),
                Err(timeout) => Err(timeout),
            };
            chunk.map(|c| c.map(Vec::from)).transpose()
        })
    }
}
