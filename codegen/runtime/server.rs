//! Serving lexicons (feature `server`): typed XRPC handlers on axum.
//!
//! Every query, procedure and subscription has a generated marker, `Endpoint`, in its module
//! (`app::bsky::feed::get_feed_skeleton::Endpoint`) that tells this module its NSID, its kind
//! and its types. A handler is an async function from a [`Request`] (typed parameters and
//! input, the verified caller, the app's state) to `Result<Output, Error>` with the endpoint's
//! generated types; [`XrpcRouter`] mounts the handlers given to it at `/xrpc/{nsid}` and answers
//! every other method `501 MethodNotImplemented`.
//!
//! ```ignore
//! let router = XrpcRouter::new(state)
//!     .handle(get_feed_skeleton::Endpoint, |request: Request<State, get_feed_skeleton::Params>| async move {
//!         Ok(get_feed_skeleton::Output::new(vec![]))
//!     })
//!     .into_router();
//! axum::serve(listener, router).await?;
//! ```
//!
//! The XRPC rules are kept here, once: the HTTP method, parameters read by the lexicon
//! (repeated keys for arrays, defaults applied, formats and limits checked), JSON bodies read
//! and `validate()`d, binary bodies with their content type and a size limit, errors as
//! `{"error", "message"}` with the status XRPC gives their name.

/// The axum this module serves with, re-exported so that a service uses the same version.
pub use ::axum;

use super::cbor::FrameMessage;
use super::client::{RawBody, XrpcErrorKind};
use super::params::QueryPairs;
use super::service_auth::{Caller, ServiceAuth};
use super::validate::Validate;
use axum::body::{Body, Bytes};
use bytes::BufMut as _;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt as _};
use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

/// Whether an endpoint is read with GET or called with POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Procedure,
}

/// What a query's or procedure's generated `Endpoint` marker tells the server.
pub trait Endpoint: Send + Sync + 'static {
    const NSID: &'static str;
    const KIND: Kind;
    /// Parameter defaults as they appear on the wire, applied to absent parameters.
    const DEFAULTS: &'static [(&'static str, &'static str)];
    /// The lexicon's input encoding (`application/json`, `*/*`, ...), if it has an input.
    const INPUT_ENCODING: Option<&'static str>;
    /// The lexicon's output encoding, if it has an output.
    const OUTPUT_ENCODING: Option<&'static str>;
    /// The generated `Params`, or [`NoParams`].
    type Params: FromQuery;
    /// [`NoBody`], [`Json<Input>`](Json) or [`Binary`].
    type Input: BodyIn;
    /// [`NoBody`], [`Json<Output>`](Json) or [`Binary`].
    type Output: BodyOut;
    type Error: XrpcErrorKind + Send + 'static;
}

/// What a subscription's generated `Endpoint` marker tells the server.
pub trait SubscriptionEndpoint: Send + Sync + 'static {
    const NSID: &'static str;
    const DEFAULTS: &'static [(&'static str, &'static str)];
    type Params: FromQuery;
    type Message: FrameMessage + Send + 'static;
    type Error: XrpcErrorKind + Send + 'static;
}

/// The value a handler receives for an endpoint's input.
pub type InputOf<E> = <<E as Endpoint>::Input as BodyIn>::Value;
/// The value a handler returns for an endpoint's output.
pub type OutputOf<E> = <<E as Endpoint>::Output as BodyOut>::Value;

/// One call: its typed parameters and input, who made it, and the app's state.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request<S, P = NoParams, I = ()> {
    pub params: P,
    pub input: I,
    /// The caller, when the request carried a service-auth token that verified (see
    /// [`XrpcRouter::service_auth`]).
    pub caller: Option<Caller>,
    pub headers: HeaderMap,
    pub state: S,
}

impl<S, P, I> Request<S, P, I> {
    /// A request as the router would make it, with no caller and no headers: to call a
    /// handler directly (in a unit test, say).
    pub fn new(state: S, params: P, input: I) -> Self {
        Request {
            params,
            input,
            caller: None,
            headers: HeaderMap::new(),
            state,
        }
    }

    /// The same request from a verified caller.
    pub fn with_caller(mut self, caller: Caller) -> Self {
        self.caller = Some(caller);
        self
    }

    /// The verified caller, or the `AuthenticationRequired` error (401) for a handler that
    /// needs one.
    pub fn require_caller<E: XrpcErrorKind>(&self) -> Result<&Caller, E> {
        self.caller.as_ref().ok_or_else(|| {
            E::from_parts(
                "AuthenticationRequired".into(),
                Some("this method needs a service-auth token".into()),
            )
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters and bodies

/// Parameters read from a query string.
pub trait FromQuery: Sized + Send + 'static {
    fn from_query(pairs: QueryPairs<'_>) -> Result<Self, String>;
}

/// Every generated `Params` type: read by its lexicon, then checked.
impl<T: serde::de::DeserializeOwned + Validate + Send + 'static> FromQuery for T {
    fn from_query(pairs: QueryPairs<'_>) -> Result<Self, String> {
        let params: T = pairs.read().map_err(|e| e.to_string())?;
        params.validate().map_err(|v| format!("invalid parameters: {v}"))?;
        Ok(params)
    }
}

/// The parameters of an endpoint that defines none: any query string is ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoParams;

impl FromQuery for NoParams {
    fn from_query(_: QueryPairs<'_>) -> Result<Self, String> {
        Ok(NoParams)
    }
}

/// How a request body is read.
pub trait BodyIn: Send + 'static {
    type Value: Send + 'static;
    fn read(content_type: Option<&str>, encoding: Option<&str>, body: Bytes) -> Result<Self::Value, String>;
}

/// How a response body is written.
pub trait BodyOut: Send + 'static {
    type Value: Send + 'static;
    fn write(value: Self::Value, encoding: Option<&str>) -> Response;
}

/// No body: a query's input, a procedure without one, an output without one.
pub struct NoBody;

impl BodyIn for NoBody {
    type Value = ();
    fn read(_: Option<&str>, _: Option<&str>, _: Bytes) -> Result<(), String> {
        Ok(())
    }
}

impl BodyOut for NoBody {
    type Value = ();
    fn write(_: (), _: Option<&str>) -> Response {
        StatusCode::OK.into_response()
    }
}

/// A JSON body of the generated type `T`, checked with `validate()` when read.
pub struct Json<T>(PhantomData<fn() -> T>);

impl<T: serde::de::DeserializeOwned + Validate + Send + 'static> BodyIn for Json<T> {
    type Value = T;
    fn read(content_type: Option<&str>, _: Option<&str>, body: Bytes) -> Result<T, String> {
        if content_type.is_none_or(|c| media_type(c) != "application/json") {
            return Err(format!(
                "the body must be `application/json`, not {}",
                content_type.map_or("missing".into(), |c| format!("`{c}`"))
            ));
        }
        // The path of the value that did not read (`items[2].side`), which serde_json's own
        // error lacks.
        let mut reader = serde_json::Deserializer::from_slice(&body);
        let value: T = serde_path_to_error::deserialize(&mut reader).map_err(|e| match e.path().to_string().as_str() {
            "." => format!("the body does not read: {}", e.inner()),
            path => format!("the body does not read at `{path}`: {}", e.inner()),
        })?;
        reader
            .end()
            .map_err(|e| format!("the body does not read: {e}"))?;
        value.validate().map_err(|v| format!("invalid body: {v}"))?;
        Ok(value)
    }
}

impl<T: serde::Serialize + Send + 'static> BodyOut for Json<T> {
    type Value = T;
    fn write(value: T, _: Option<&str>) -> Response {
        // Written into a `BytesMut` that becomes the body as it is, as axum's `Json` does (a
        // `Vec` would need one more allocation to become `Bytes`).
        let mut body = bytes::BytesMut::with_capacity(128).writer();
        match serde_json::to_writer(&mut body, &value) {
            Ok(()) => (
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body.into_inner().freeze(),
            )
                .into_response(),
            Err(e) => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                Some(&format!("the output could not be written: {e}")),
            ),
        }
    }
}

/// Raw bytes (a blob, a CAR file) with their content type, which must match the lexicon's
/// encoding (`*/*` takes any, `image/*` any image).
pub struct Binary;

impl BodyIn for Binary {
    type Value = RawBody;
    fn read(content_type: Option<&str>, encoding: Option<&str>, body: Bytes) -> Result<RawBody, String> {
        let accepted = encoding.unwrap_or("*/*");
        match content_type {
            Some(given) if encoding_accepts(accepted, given) => Ok(RawBody {
                content_type: Some(given.to_owned()),
                bytes: body.into(),
            }),
            Some(given) => Err(format!("the body must be `{accepted}`, not `{given}`")),
            None => Err(format!("the body needs a content type (`{accepted}`)")),
        }
    }
}

impl BodyOut for Binary {
    type Value = RawBody;
    fn write(value: RawBody, encoding: Option<&str>) -> Response {
        let content_type = value
            .content_type
            .or_else(|| encoding.filter(|e| !e.contains('*')).map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut response = value.bytes.into_response();
        if let Ok(value) = HeaderValue::from_str(&content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    }
}

/// `text/plain; charset=utf-8` -> `text/plain`.
fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// Whether a lexicon encoding (one or a comma list, each maybe `type/*` or `*/*`) accepts a
/// content type.
fn encoding_accepts(encoding: &str, content_type: &str) -> bool {
    let given = media_type(content_type).to_ascii_lowercase();
    encoding.split(',').map(str::trim).any(|accepted| {
        accepted == "*/*"
            || accepted.eq_ignore_ascii_case(&given)
            || accepted
                .strip_suffix("/*")
                .is_some_and(|top| given.split('/').next() == Some(&top.to_ascii_lowercase()))
    })
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The HTTP status of an XRPC error name: the names XRPC gives statuses, and 400 for every
/// error a lexicon declares.
pub fn status_of(error: &str) -> StatusCode {
    match error {
        "AuthenticationRequired" | "AuthMissing" => StatusCode::UNAUTHORIZED,
        "Forbidden" => StatusCode::FORBIDDEN,
        "XRPCNotSupported" => StatusCode::NOT_FOUND,
        "NotAcceptable" => StatusCode::NOT_ACCEPTABLE,
        "PayloadTooLarge" => StatusCode::PAYLOAD_TOO_LARGE,
        "UnsupportedMediaType" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "RateLimitExceeded" => StatusCode::TOO_MANY_REQUESTS,
        "InternalServerError" => StatusCode::INTERNAL_SERVER_ERROR,
        "MethodNotImplemented" => StatusCode::NOT_IMPLEMENTED,
        "UpstreamFailure" => StatusCode::BAD_GATEWAY,
        "NotEnoughResources" => StatusCode::SERVICE_UNAVAILABLE,
        "UpstreamTimeout" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// `{"error": name, "message": message}` with `status`.
pub fn error_response(status: StatusCode, error: &str, message: Option<&str>) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("error".into(), error.into());
    if let Some(message) = message {
        body.insert("message".into(), message.into());
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// A handler's typed error, with the status its name has.
fn typed_error<E: XrpcErrorKind>(error: &E) -> Response {
    let (name, message) = error.parts();
    error_response(status_of(name), name, message)
}

fn invalid_request(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "InvalidRequest", Some(message))
}

// ---------------------------------------------------------------------------------------------
// The router

/// The largest request body read by default: 5 MB, as large as a blob upload usually gets.
pub const DEFAULT_BODY_LIMIT: usize = 5 * 1024 * 1024;

struct Shared<S> {
    state: S,
    auth: Option<ServiceAuth>,
    body_limit: usize,
}

type Route<S> = Box<dyn FnOnce(Arc<Shared<S>>) -> axum::routing::MethodRouter + Send>;

/// The XRPC methods of a service: handlers mounted at `/xrpc/{nsid}`, `501
/// MethodNotImplemented` for every other NSID. [`XrpcRouter::into_router`] gives the axum
/// `Router` to serve (or to nest in a larger one).
pub struct XrpcRouter<S> {
    state: S,
    auth: Option<ServiceAuth>,
    body_limit: usize,
    routes: BTreeMap<&'static str, Route<S>>,
}

impl<S: Clone + Send + Sync + 'static> XrpcRouter<S> {
    /// A router whose handlers get `state` (cloned for each request).
    pub fn new(state: S) -> Self {
        XrpcRouter {
            state,
            auth: None,
            body_limit: DEFAULT_BODY_LIMIT,
            routes: BTreeMap::new(),
        }
    }

    /// Verifies the service-auth token of every request that carries one (`Authorization:
    /// Bearer`), for the method called; a token that does not verify is answered `401` with
    /// the reason, and the handler sees the verified caller in [`Request::caller`].
    pub fn service_auth(mut self, auth: ServiceAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The largest request body read; a larger one is answered `413 PayloadTooLarge`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Mounts `handler` for a query or procedure (a later handler for the same NSID replaces
    /// an earlier one).
    pub fn handle<E, F, Fut>(mut self, _endpoint: E, handler: F) -> Self
    where
        E: Endpoint,
        F: Fn(Request<S, E::Params, InputOf<E>>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<OutputOf<E>, E::Error>> + Send + 'static,
    {
        let route: Route<S> = Box::new(move |shared: Arc<Shared<S>>| {
            axum::routing::any(move |request: axum::extract::Request| {
                let (shared, handler) = (shared.clone(), handler.clone());
                async move { serve::<E, S, F, Fut>(&shared, handler, request).await }
            })
        });
        self.routes.insert(E::NSID, route);
        self
    }

    /// Mounts `handler` for a subscription: it gets the typed parameters (the cursor among
    /// them) once the WebSocket is open, and returns a stream of messages, each sent as a
    /// binary frame when the client has taken the one before (a slow client holds the stream
    /// back). An `Err` item, or an `Err` from the handler, is sent as an error frame and closes
    /// the stream; the stream is dropped when the client goes away.
    pub fn subscribe<E, F, Fut, St>(mut self, _endpoint: E, handler: F) -> Self
    where
        E: SubscriptionEndpoint,
        F: Fn(Request<S, E::Params>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<St, E::Error>> + Send + 'static,
        St: Stream<Item = Result<E::Message, E::Error>> + Send + 'static,
    {
        let route: Route<S> = Box::new(move |shared: Arc<Shared<S>>| {
            axum::routing::get(
                move |upgrade: axum::extract::ws::WebSocketUpgrade,
                      request: axum::extract::Request| {
                    let (shared, handler) = (shared.clone(), handler.clone());
                    async move {
                        let (parts, _) = request.into_parts();
                        let request = match prepare::<S, E::Params>(&shared, E::NSID, E::DEFAULTS, parts).await {
                            Ok(request) => request,
                            Err(response) => return response,
                        };
                        upgrade.on_upgrade(move |socket| pump::<E, Fut, St>(socket, handler(request)))
                    }
                },
            )
        });
        self.routes.insert(E::NSID, route);
        self
    }

    /// The axum router: the mounted methods, and `501 MethodNotImplemented` for any other
    /// `/xrpc/` path.
    pub fn into_router(self) -> axum::Router {
        let shared = Arc::new(Shared {
            state: self.state,
            auth: self.auth,
            body_limit: self.body_limit,
        });
        let mut router = axum::Router::new();
        for (nsid, route) in self.routes {
            router = router.route(&format!("/xrpc/{nsid}"), route(shared.clone()));
        }
        router.route(
            "/xrpc/{*nsid}",
            axum::routing::any(|uri: axum::http::Uri| async move {
                let nsid = uri.path().trim_start_matches("/xrpc/").to_owned();
                error_response(
                    StatusCode::NOT_IMPLEMENTED,
                    "MethodNotImplemented",
                    Some(&format!("`{nsid}` is not a method of this service")),
                )
            }),
        )
    }
}

/// What every request goes through before its body: the caller's token, then the parameters.
/// Gives the request, its input still `()`. Only a request with a token to check waits (on its
/// issuer's DID document); the rest is synchronous, so that a plain query's future stays small.
async fn prepare<S: Clone, P: FromQuery>(
    shared: &Shared<S>,
    nsid: &str,
    defaults: &'static [(&'static str, &'static str)],
    parts: axum::http::request::Parts,
) -> Result<Request<S, P>, Response> {
    let caller = match (&shared.auth, parts.headers.get(header::AUTHORIZATION)) {
        (Some(auth), Some(value)) => Some(Box::pin(verify_token(auth, value, nsid)).await?),
        _ => None,
    };
    let mut pairs = QueryPairs::parse(parts.uri.query().unwrap_or(""))
        .map_err(|e| invalid_request(&e.to_string()))?;
    for (key, value) in defaults {
        pairs.or_default(key, value);
    }
    let params = P::from_query(pairs).map_err(|e| invalid_request(&e))?;
    Ok(Request {
        params,
        input: (),
        caller,
        headers: parts.headers,
        state: shared.state.clone(),
    })
}

/// The verified caller of an `Authorization` header, or the `401` that says why not.
async fn verify_token(auth: &ServiceAuth, value: &HeaderValue, nsid: &str) -> Result<Caller, Response> {
    auth.verify(value.to_str().unwrap_or(""), nsid)
        .await
        .map_err(|e| error_response(StatusCode::UNAUTHORIZED, e.error_name(), Some(&e.to_string())))
}

/// `400 InvalidRequest` for a request that does not use the endpoint's HTTP method (GET or
/// HEAD for a query, POST for a procedure).
fn wrong_method<E: Endpoint>(method: &Method) -> Option<Response> {
    let (expected, kind) = match E::KIND {
        Kind::Query => (Method::GET, "a query"),
        Kind::Procedure => (Method::POST, "a procedure"),
    };
    if *method == expected || (E::KIND == Kind::Query && *method == Method::HEAD) {
        return None;
    }
    Some(invalid_request(&format!(
        "`{}` is {kind}: call it with {expected}, not {method}",
        E::NSID
    )))
}

/// A procedure's body, read whole up to the router's limit and checked against the lexicon's
/// encoding.
async fn read_input<E: Endpoint>(
    body: Body,
    limit: usize,
    headers: &HeaderMap,
) -> Result<InputOf<E>, Response> {
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Err(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            Some(&format!("the body is larger than {limit} bytes")),
        ));
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    E::Input::read(content_type, E::INPUT_ENCODING, bytes).map_err(|message| invalid_request(&message))
}

/// One query or procedure call, from the request to the response.
async fn serve<E, S, F, Fut>(shared: &Shared<S>, handler: F, request: axum::extract::Request) -> Response
where
    E: Endpoint,
    S: Clone,
    F: Fn(Request<S, E::Params, InputOf<E>>) -> Fut,
    Fut: Future<Output = Result<OutputOf<E>, E::Error>>,
{
    let (parts, body) = request.into_parts();
    if let Some(response) = wrong_method::<E>(&parts.method) {
        return response;
    }
    let request = match prepare::<S, E::Params>(shared, E::NSID, E::DEFAULTS, parts).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let input = if E::INPUT_ENCODING.is_some() {
        // Boxed: only procedures with a body pay for this future's room.
        Box::pin(read_input::<E>(body, shared.body_limit, &request.headers)).await
    } else {
        drop(body);
        E::Input::read(None, None, Bytes::new()).map_err(|message| invalid_request(&message))
    };
    let input = match input {
        Ok(input) => input,
        Err(response) => return response,
    };
    let request = Request {
        params: request.params,
        input,
        caller: request.caller,
        headers: request.headers,
        state: request.state,
    };
    match handler(request).await {
        Ok(output) => E::Output::write(output, E::OUTPUT_ENCODING),
        Err(error) => typed_error(&error),
    }
}

/// Sends a subscription's messages as frames until the stream ends, fails, or the client goes.
async fn pump<E, Fut, St>(mut socket: axum::extract::ws::WebSocket, started: Fut)
where
    E: SubscriptionEndpoint,
    Fut: Future<Output = Result<St, E::Error>>,
    St: Stream<Item = Result<E::Message, E::Error>>,
{
    use axum::extract::ws::Message as Ws;
    let stream = match started.await {
        Ok(stream) => stream,
        Err(error) => {
            let _ = socket.send(Ws::Binary(error_frame(&error).into())).await;
            let _ = socket.send(Ws::Close(None)).await;
            return;
        }
    };
    let mut stream = std::pin::pin!(stream);
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            // The client closed, or the connection broke: stop producing.
            incoming = socket.recv() => match incoming {
                Some(Ok(Ws::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
        };
        let frame = match item {
            None => break,
            Some(Ok(message)) => match message.write_frame() {
                Ok(frame) => frame,
                Err(e) => {
                    let error = E::Error::from_parts(
                        "InternalServerError".into(),
                        Some(format!("a message could not be written: {e}")),
                    );
                    let _ = socket.send(Ws::Binary(error_frame(&error).into())).await;
                    break;
                }
            },
            Some(Err(error)) => {
                let _ = socket.send(Ws::Binary(error_frame(&error).into())).await;
                break;
            }
        };
        if socket.send(Ws::Binary(frame.into())).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Ws::Close(None)).await;
}

fn error_frame<E: XrpcErrorKind>(error: &E) -> Vec<u8> {
    let (name, message) = error.parts();
    super::cbor::error_frame(name, message)
}
