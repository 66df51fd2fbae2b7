//! The XRPC client: requests built by the generated methods, sent through a [`Transport`].
//!
//! Bring your own HTTP stack by implementing [`Transport`]; the `reqwest` feature provides
//! [`ReqwestTransport`]. Errors keep apart what failed: the transport, the endpoint (its typed
//! error, with the HTTP status), or a response body that does not match the lexicon.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::RwLock;

/// A boxed future, as returned by [`Transport::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
        let redact = |name: &str| name.eq_ignore_ascii_case("authorization");
        f.debug_list()
            .entries(self.0.iter().map(|(name, value)| {
                (
                    name,
                    if redact(name) {
                        "<redacted>"
                    } else {
                        value.as_str()
                    },
                )
            }))
            .finish()
    }
}

/// One HTTP response, as the transport hands it back.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl<E: XrpcErrorKind> Error<E> {
    /// The XRPC error name, when the server sent an error.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Error::Xrpc { error, .. } => Some(error.parts().0),
            _ => None,
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
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for Error<E> {}

/// A response body that has no JSON schema in the lexicon (a blob, a CAR file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBody {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
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
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
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

/// An XRPC client for one service (a PDS, an AppView, ...).
///
/// Generated methods hang off namespace accessors: `client.com().atproto().server()
/// .create_session(&input)`.
pub struct Client<T: ?Sized> {
    base_url: String,
    bearer: RwLock<Option<String>>,
    transport: T,
}

impl<T: ?Sized> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let authenticated = self.bearer.read().map(|b| b.is_some()).unwrap_or(false);
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("authenticated", &authenticated)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Client<T> {
    /// A client for the service at `base_url` (`https://bsky.social`).
    pub fn new(base_url: impl Into<String>, transport: T) -> Self {
        Client {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            bearer: RwLock::new(None),
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

    /// Sets (or clears) the bearer token sent as `Authorization` on every request.
    pub fn set_bearer_token(&self, token: Option<String>) {
        if let Ok(mut bearer) = self.bearer.write() {
            *bearer = token;
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
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

    pub fn bytes(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = Some((body, content_type.to_owned()));
        self
    }

    /// Sends the request. A non-2xx answer becomes [`Error::Xrpc`] with the typed error.
    pub async fn send<E: XrpcErrorKind>(self) -> Result<Response<E>, Error<E>> {
        if let Some(message) = self.encode_error {
            return Err(Error::Encode(message));
        }
        let url = format!(
            "{}/xrpc/{}{}",
            self.client.base_url,
            self.nsid,
            self.query.to_query_string()
        );
        let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
        if let Some((_, content_type)) = &self.body {
            headers.push(("content-type".to_owned(), content_type.clone()));
        }
        if let Some(token) = self.client.bearer.read().ok().and_then(|b| b.clone()) {
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
        }
        let request = HttpRequest {
            method: self.method,
            url,
            headers,
            body: self.body.map(|(bytes, _)| bytes),
        };
        let response = self
            .client
            .transport
            .send(request)
            .await
            .map_err(Error::Transport)?;
        if (200..300).contains(&response.status) {
            Ok(Response {
                inner: response,
                error: PhantomData,
            })
        } else {
            Err(xrpc_error(response))
        }
    }
}

/// The XRPC error of a non-2xx response. Bodies that are not `{"error": ..}` JSON (from a
/// proxy, say) get a name from the status and keep their text as the message.
fn xrpc_error<E: XrpcErrorKind>(response: HttpResponse) -> Error<E> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
        message: Option<String>,
    }
    let status = response.status;
    let error = match serde_json::from_slice::<Body>(&response.body) {
        Ok(body) => E::from_parts(body.error, body.message),
        Err(_) => {
            let name = match status {
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
            E::from_parts(name.to_owned(), (!text.trim().is_empty()).then_some(text))
        }
    };
    Error::Xrpc { status, error }
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
