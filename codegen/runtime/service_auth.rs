//! Service auth (feature `server`): checking the inter-service JWTs that atproto services send
//! each other, as a PDS mints them for its accounts (`com.atproto.server.getServiceAuth`).
//!
//! A token is a JWT signed with the issuer's atproto signing key: header
//! `{"typ":"JWT","alg":"ES256K"}` (or `ES256` for a P-256 key), claims `iss` (the caller's DID,
//! or `did#service` when a service signs as itself), `aud` (this server's DID), `exp`, `iat`,
//! `lxm` (the XRPC method it is good for) and `jti` (a nonce). [`ServiceAuth::verify`] checks
//! the token's form, algorithm, audience, expiry and method, then resolves the issuer's DID
//! document and checks the signature against its key; the answer is the verified [`Caller`], or
//! an [`AuthError`] that says which check failed.
//!
//! ```ignore
//! use atproto_api::runtime::did::{CachingResolver, HttpResolver};
//! use atproto_api::runtime::service_auth::ServiceAuth;
//!
//! let auth = ServiceAuth::new(
//!     Did::new("did:web:feed.example.com")?,
//!     CachingResolver::new(HttpResolver::new()),
//! );
//! // In the handler of app.bsky.feed.getFeedSkeleton:
//! let caller = auth.verify(authorization_header, "app.bsky.feed.getFeedSkeleton").await?;
//! println!("called by {}", caller.did);
//! ```

use super::client::BoxFuture;
use super::did::{DidDocument, DidResolver, KeyType, ResolveError, SignatureError};
use super::formats::Did;
use base64::Engine as _;
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest token read; real ones are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// How far past `exp` a token is still taken by default, for clocks that disagree a little.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// The service id under which a labeler signs (`iss` = `did#atproto_labeler`): its tokens are
/// checked against the labeling key, `#atproto_label`, instead of `#atproto`.
const LABELER_SERVICE: &str = "atproto_labeler";
const LABELER_KEY: &str = "atproto_label";
const SIGNING_KEY: &str = "atproto";

/// Checks service-auth tokens for one service. Cheap to clone (the resolver is shared).
#[derive(Clone)]
pub struct ServiceAuth {
    service_did: Did,
    /// What `aud` may be: the service's DID, then any added with
    /// [`ServiceAuth::with_audience`].
    audiences: Vec<String>,
    resolver: Arc<dyn DidResolver>,
    leeway: Duration,
    allow_missing_method: bool,
    allow_high_s: bool,
}

/// Who called, as a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The issuer's DID (`iss` without its fragment): the account or service that called.
    pub did: Did,
    /// The fragment of `iss` when a service signed as one of its services
    /// (`atproto_labeler` for `did:…#atproto_labeler`).
    pub service: Option<String>,
    /// The audience the token named (`aud`): this service's DID or another accepted form.
    pub aud: String,
    /// The method the token is bound to (`lxm`); `None` only where
    /// [`ServiceAuth::allow_missing_method`] let a token without one through.
    pub lxm: Option<String>,
    /// Expiry, Unix seconds (`exp`).
    pub exp: i64,
    /// Issued at, Unix seconds (`iat`), if the token says.
    pub iat: Option<i64>,
    /// The token's nonce (`jti`), if it has one, for a server that refuses replays.
    pub jti: Option<String>,
}

/// Why a token was refused. Each is an HTTP 401; [`AuthError::error_name`] gives the XRPC
/// error name to answer with.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthError {
    /// No token: the `Authorization` header is absent or empty.
    Missing,
    /// Not a service-auth JWT: another scheme than `Bearer`, not three base64url parts, JSON
    /// that is not a JWT header or claims, a `typ` of another kind of token, a bad `iss`, ...
    Malformed(String),
    /// An `alg` other than `ES256K` and `ES256`, the two atproto signs with (`none`, `HS256`,
    /// `RS256`, ... are refused before the claims are read).
    BadAlgorithm(String),
    /// `aud` is not this service.
    WrongAudience { expected: String, found: String },
    /// `exp` has passed (beyond the leeway).
    Expired { exp: i64, now: i64 },
    /// `nbf` is still ahead (beyond the leeway).
    NotYetValid { nbf: i64, now: i64 },
    /// `lxm` is not the method called, or the token has none.
    WrongMethod {
        expected: String,
        found: Option<String>,
    },
    /// The issuer's DID document has no key this token can be checked with: no `#atproto`
    /// method (or `#atproto_label` for a labeler), a key that cannot be read, or a key of
    /// the other curve than `alg` says.
    UnknownKey { did: String, reason: String },
    /// The signature is not the issuer's key's signature of this token (also after looking the
    /// document up afresh), or not of the form atproto requires (64 bytes, low-S).
    BadSignature { did: String, error: SignatureError },
    /// The issuer's DID could not be resolved.
    Resolve(ResolveError),
}

impl AuthError {
    /// The XRPC error name for the response body (`{"error": …, "message": …}`), the names the
    /// reference implementation answers with.
    pub fn error_name(&self) -> &'static str {
        match self {
            AuthError::Missing => "AuthMissing",
            AuthError::Malformed(_)
            | AuthError::BadAlgorithm(_)
            | AuthError::NotYetValid { .. } => "BadJwt",
            AuthError::WrongAudience { .. } => "BadJwtAudience",
            AuthError::Expired { .. } => "JwtExpired",
            AuthError::WrongMethod { .. } => "BadJwtLexiconMethod",
            AuthError::UnknownKey { .. } | AuthError::BadSignature { .. } => "BadJwtSignature",
            AuthError::Resolve(_) => "BadJwtIss",
        }
    }

    /// The HTTP status to answer with: always 401.
    pub fn status(&self) -> u16 {
        401
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Missing => f.write_str("no service-auth token (Authorization: Bearer …)"),
            AuthError::Malformed(reason) => write!(f, "malformed service-auth token: {reason}"),
            AuthError::BadAlgorithm(alg) => {
                write!(f, "the token's algorithm {alg:?} is not ES256K or ES256")
            }
            AuthError::WrongAudience { expected, found } => {
                write!(
                    f,
                    "the token is for {found:?}, not this service ({expected})"
                )
            }
            AuthError::Expired { exp, now } => write!(
                f,
                "the token expired at {exp} ({} s ago)",
                now.saturating_sub(*exp)
            ),
            AuthError::NotYetValid { nbf, now } => write!(
                f,
                "the token is not valid before {nbf} ({} s from now)",
                nbf.saturating_sub(*now)
            ),
            AuthError::WrongMethod {
                expected,
                found: Some(found),
            } => write!(f, "the token is for the method {found}, not {expected}"),
            AuthError::WrongMethod {
                expected,
                found: None,
            } => write!(
                f,
                "the token names no method (lxm); it must be bound to {expected}"
            ),
            AuthError::UnknownKey { did, reason } => {
                write!(f, "no key of {did} checks this token: {reason}")
            }
            AuthError::BadSignature { did, error } => {
                write!(f, "the token's signature is not {did}'s: {error}")
            }
            AuthError::Resolve(error) => write!(f, "the token's issuer: {error}"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuthError::BadSignature { error, .. } => Some(error),
            AuthError::Resolve(error) => Some(error),
            _ => None,
        }
    }
}

impl From<ResolveError> for AuthError {
    fn from(error: ResolveError) -> Self {
        AuthError::Resolve(error)
    }
}

impl ServiceAuth {
    /// Checks tokens addressed to `service_did` (`aud`), resolving issuers with `resolver`
    /// (a [`CachingResolver`](super::did::CachingResolver) in front of an
    /// [`HttpResolver`](super::did::HttpResolver), or a stub in tests).
    pub fn new(service_did: Did, resolver: impl DidResolver + 'static) -> Self {
        ServiceAuth {
            audiences: vec![service_did.as_str().to_owned()],
            service_did,
            resolver: Arc::new(resolver),
            leeway: DEFAULT_LEEWAY,
            allow_missing_method: false,
            allow_high_s: false,
        }
    }

    /// Also takes tokens whose `aud` is `audience`: the `did#service_id` form that callers use
    /// to name one of the services in this server's DID document
    /// (`did:web:api.example.com#bsky_appview`).
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        if !self.audiences.contains(&audience) {
            self.audiences.push(audience);
        }
        self
    }

    /// How far past `exp` (or before `nbf`) a token is still taken: 5 seconds by default.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Takes tokens without `lxm` (bound to no method) for any method. Off by default: the
    /// spec lets `lxm` be absent (older PDSs minted such tokens, and a PDS still mints them on
    /// request, for at most a minute), but a token without it is good for every method of
    /// every service that names the same audience, so servers are meant to require it for
    /// what they protect, as the reference implementation does.
    pub fn allow_missing_method(mut self, allow: bool) -> Self {
        self.allow_missing_method = allow;
        self
    }

    /// Takes signatures in high-S form too. Off by default: atproto's cryptography spec
    /// requires low-S signatures everywhere, and every conforming signer makes them; the
    /// reference implementation does let high-S through for service-auth tokens, so a server
    /// that must take tokens from a signer that does not normalize can turn this on. (A
    /// high-S twin is a second valid encoding of the same signature, which matters to anything
    /// that keys on the token's bytes, a replay cache for one.)
    pub fn allow_high_s(mut self, allow: bool) -> Self {
        self.allow_high_s = allow;
        self
    }

    /// The DID this service checks `aud` against.
    pub fn service_did(&self) -> &Did {
        &self.service_did
    }

    /// The audiences taken: the service's DID first, then those added.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Checks a token for a call of `lxm` (the NSID of the method being called).
    ///
    /// `authorization` is the `Authorization` header's value (`Bearer <jwt>`) or the bare
    /// token; pass `""` when the request has none, for [`AuthError::Missing`]. The returned
    /// future is `Send`.
    pub fn verify<'a>(
        &'a self,
        authorization: &'a str,
        lxm: &'a str,
    ) -> BoxFuture<'a, Result<Caller, AuthError>> {
        self.verify_at(authorization, lxm, SystemTime::now())
    }

    /// [`ServiceAuth::verify`] as if the time were `now` (for tests).
    pub fn verify_at<'a>(
        &'a self,
        authorization: &'a str,
        lxm: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Caller, AuthError>> {
        Box::pin(async move {
            let token = Token::parse(authorization)?;
            let caller = self.check_claims(&token, lxm, unix_seconds(now))?;
            let key_id = match caller.service.as_deref() {
                Some(LABELER_SERVICE) => LABELER_KEY,
                _ => SIGNING_KEY,
            };
            let document = self.resolver.resolve(&caller.did).await?;
            match self.check_signature(&token, &document, key_id) {
                Ok(()) => return Ok(caller),
                Err(AuthError::UnknownKey { .. } | AuthError::BadSignature { .. }) => {}
                Err(other) => return Err(other),
            }
            // The key may have been rotated since the document was cached: once more with the
            // document as it is now.
            let document = self.resolver.resolve_fresh(&caller.did).await?;
            self.check_signature(&token, &document, key_id)?;
            Ok(caller)
        })
    }

    /// Every check that needs no DID document, in the order that costs least.
    fn check_claims(&self, token: &Token, lxm: &str, now: i64) -> Result<Caller, AuthError> {
        let claims = &token.claims;
        let (iss, service) = match claims.iss.split_once('#') {
            Some((did, service)) => (did, Some(service)),
            None => (claims.iss.as_str(), None),
        };
        let did = Did::new(iss).map_err(|error| {
            AuthError::Malformed(format!(
                "iss {:?} is not a DID: {}",
                claims.iss,
                error.reason()
            ))
        })?;
        if service.is_some_and(str::is_empty) {
            return Err(AuthError::Malformed(format!(
                "iss {:?} has an empty service fragment",
                claims.iss
            )));
        }
        if !self.audiences.contains(&claims.aud) {
            return Err(AuthError::WrongAudience {
                expected: self.audiences.join(" or "),
                found: claims.aud.clone(),
            });
        }
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let exp = seconds(&claims.exp, "exp")?;
        if now > exp.saturating_add(leeway) {
            return Err(AuthError::Expired { exp, now });
        }
        if let Some(nbf) = &claims.nbf {
            let nbf = seconds(nbf, "nbf")?;
            if nbf > now.saturating_add(leeway) {
                return Err(AuthError::NotYetValid { nbf, now });
            }
        }
        match &claims.lxm {
            Some(found) if found == lxm => {}
            None if self.allow_missing_method => {}
            found => {
                return Err(AuthError::WrongMethod {
                    expected: lxm.to_owned(),
                    found: found.clone(),
                });
            }
        }
        let iat = claims
            .iat
            .as_ref()
            .map(|iat| seconds(iat, "iat"))
            .transpose()?;
        Ok(Caller {
            did,
            service: service.map(str::to_owned),
            aud: claims.aud.clone(),
            lxm: claims.lxm.clone(),
            exp,
            iat,
            jti: claims.jti.clone(),
        })
    }

    fn check_signature(
        &self,
        token: &Token,
        document: &DidDocument,
        key_id: &str,
    ) -> Result<(), AuthError> {
        let did = || document.id.clone();
        let key = document
            .key(key_id)
            .map_err(|error| AuthError::UnknownKey {
                did: did(),
                reason: error.reason().to_owned(),
            })?;
        if key.key_type() != token.key_type {
            return Err(AuthError::UnknownKey {
                did: did(),
                reason: format!(
                    "the token is signed {} but the #{key_id} key is for {}",
                    token.key_type.jwt_alg(),
                    key.jwt_alg()
                ),
            });
        }
        let message = token.signed.as_bytes();
        let checked = if self.allow_high_s {
            key.verify_allowing_high_s(message, &token.signature)
        } else {
            key.verify(message, &token.signature)
        };
        checked.map_err(|error| AuthError::BadSignature { did: did(), error })
    }
}

impl fmt::Debug for ServiceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAuth")
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("allow_missing_method", &self.allow_missing_method)
            .field("allow_high_s", &self.allow_high_s)
            .finish_non_exhaustive()
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// A NumericDate claim as whole seconds: an integer, or a finite number rounded down.
fn seconds(number: &serde_json::Number, claim: &str) -> Result<i64, AuthError> {
    if let Some(whole) = number.as_i64() {
        return Ok(whole);
    }
    match number.as_f64() {
        // `as` saturates at the ends of i64, never panics.
        Some(value) if value.is_finite() => Ok(value.floor() as i64),
        _ => Err(AuthError::Malformed(format!(
            "{claim} is not a time in seconds: {number}"
        ))),
    }
}

/// A service-auth JWT taken apart, not yet verified.
struct Token<'a> {
    /// `header.payload` as received: the signed bytes.
    signed: &'a str,
    key_type: KeyType,
    claims: Claims,
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// The claims read. serde's derive refuses a claim given twice, so a token cannot carry two
/// `aud`s for two parsers to disagree on.
#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    exp: serde_json::Number,
    #[serde(default)]
    iat: Option<serde_json::Number>,
    #[serde(default)]
    nbf: Option<serde_json::Number>,
    #[serde(default)]
    lxm: Option<String>,
    #[serde(default)]
    jti: Option<String>,
}

impl<'a> Token<'a> {
    fn parse(authorization: &'a str) -> Result<Token<'a>, AuthError> {
        let text = authorization.trim();
        if text.is_empty() {
            return Err(AuthError::Missing);
        }
        let token = match text.split_once(char::is_whitespace) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
            Some((scheme, _)) => {
                return Err(AuthError::Malformed(format!(
                    "the Authorization scheme is {scheme:?}, not Bearer"
                )));
            }
            // The scheme alone.
            None if text.eq_ignore_ascii_case("bearer") => return Err(AuthError::Missing),
            None => text,
        };
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed(format!(
                "the token is {} bytes long, more than {MAX_TOKEN_LEN}",
                token.len()
            )));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed(
                "a JWT is three base64url parts separated by dots".to_owned(),
            ));
        };
        let signed = &token[..header.len() + 1 + payload.len()];

        let header: Header = decode_json(header, "header")?;
        if let Some(typ) = &header.typ {
            // Session tokens (`at+jwt`, `refresh+jwt`) and DPoP proofs are JWTs too, but never
            // service-auth tokens.
            if !typ.eq_ignore_ascii_case("jwt") {
                return Err(AuthError::Malformed(format!(
                    "typ {typ:?} is not a service-auth token (JWT)"
                )));
            }
        }
        if header.crit.is_some() {
            return Err(AuthError::Malformed(
                "the header lists critical extensions (crit), which are not understood here"
                    .to_owned(),
            ));
        }
        let key_type =
            KeyType::from_jwt_alg(&header.alg).ok_or(AuthError::BadAlgorithm(header.alg))?;
        let claims: Claims = decode_json(payload, "claims")?;
        let signature = decode_base64url(signature, "signature")?;
        Ok(Token {
            signed,
            key_type,
            claims,
            signature,
        })
    }
}

fn decode_base64url(part: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    // Unpadded, canonical base64url only, as JWS writes it.
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed(format!("the {what} is not unpadded base64url")))
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, AuthError> {
    let bytes = decode_base64url(part, what)?;
    // serde's derive would also read a JSON array into the struct, field by field.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(AuthError::Malformed(format!(
            "the {what} is not a JSON object"
        )));
    }
    serde_json::from_slice(&bytes).map_err(|error| {
        AuthError::Malformed(format!(
            "the {what} is not what a service-auth JWT has: {error}"
        ))
    })
}
