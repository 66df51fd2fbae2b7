//! DID documents, the public keys in them, and resolving a DID to its document (feature
//! `server`).
//!
//! atproto uses two DID methods: `did:plc` (documents served by a PLC directory,
//! `GET {directory}/{did}`) and `did:web` (hostname-level only: `https://{host}/.well-known/did.json`).
//! [`HttpResolver`] reads both through a [`Transport`]; [`CachingResolver`] keeps documents for
//! a while in front of any [`DidResolver`]. [`DidResolver`] is a trait so a server can swap in
//! its own (a stub in tests, a shared cache, a directory mirror).
//!
//! Keys: a document's `#atproto` verification method holds the account's signing key as
//! `publicKeyMultibase`: `z` + base58btc of a multicodec-prefixed compressed point (`0xe7 0x01`
//! secp256k1, `0x80 0x24` P-256), the same text as a `did:key` after its prefix. Older
//! documents use the types `EcdsaSecp256k1VerificationKey2019` and
//! `EcdsaSecp256r1VerificationKey2019` with the bare point; both forms are read.

use super::client::{BoxFuture, HttpRequest, Transport, TransportError};
use super::formats::Did;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The re-exported curve crates, so that keys can be built and compared with the same versions
/// [`PublicKey`] holds.
pub use ::k256;
pub use ::p256;

/// The multicodec prefix (unsigned varint of 0xe7) of a compressed secp256k1 public key.
const SECP256K1_PREFIX: [u8; 2] = [0xe7, 0x01];
/// The multicodec prefix (unsigned varint of 0x1200) of a compressed P-256 public key.
const P256_PREFIX: [u8; 2] = [0x80, 0x24];
/// The length of a compressed SEC1 point on either curve.
const COMPRESSED_LEN: usize = 33;
const DID_KEY_PREFIX: &str = "did:key:";

// ---------------------------------------------------------------------------------------------
// DID documents

/// A DID document: the parts atproto reads. Other members are ignored; list entries that are
/// not of the expected shape (a verification method given by reference only, a service whose
/// endpoint is a map) are skipped rather than failing the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    /// The DID the document describes.
    pub id: String,
    /// Other names of the subject; an atproto account lists its handle as `at://{handle}`.
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub also_known_as: Vec<String>,
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub verification_method: Vec<VerificationMethod>,
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service: Vec<Service>,
}

/// One entry of `verificationMethod`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    /// `#atproto` or `did:…#atproto`.
    pub id: String,
    /// `Multikey`, or a legacy `EcdsaSecp256k1VerificationKey2019` /
    /// `EcdsaSecp256r1VerificationKey2019`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub controller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_multibase: Option<String>,
}

/// One entry of `service`: `#atproto_pds` names the account's PDS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub service_endpoint: String,
}

/// A list whose entries of another shape are dropped; `null` reads as empty.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let values = Option::<Vec<serde_json::Value>>::deserialize(deserializer)?;
    Ok(values
        .unwrap_or_default()
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect())
}

impl DidDocument {
    /// Whether `id` (a verification method's or a service's) names `fragment` of this document:
    /// `#fragment` or `{did}#fragment`.
    fn names(&self, id: &str, fragment: &str) -> bool {
        match id.split_once('#') {
            Some((did, name)) => name == fragment && (did.is_empty() || did == self.id),
            None => false,
        }
    }

    /// The verification method with this fragment (`atproto`, without `#`).
    pub fn verification_method(&self, fragment: &str) -> Option<&VerificationMethod> {
        self.verification_method
            .iter()
            .find(|method| self.names(&method.id, fragment))
    }

    /// The public key of the verification method `#fragment`.
    pub fn key(&self, fragment: &str) -> Result<PublicKey, KeyError> {
        let method = self.verification_method(fragment).ok_or_else(|| {
            KeyError::new(format!(
                "the DID document of {} has no verification method #{fragment}",
                self.id
            ))
        })?;
        method
            .public_key()
            .map_err(|error| KeyError::new(format!("{}#{fragment}: {}", self.id, error.reason())))
    }

    /// The account's signing key: the `#atproto` verification method.
    pub fn signing_key(&self) -> Result<PublicKey, KeyError> {
        self.key("atproto")
    }

    /// The endpoint of the service `#fragment` (`atproto_pds` for the account's PDS).
    pub fn service_endpoint(&self, fragment: &str) -> Option<&str> {
        self.service
            .iter()
            .find(|service| self.names(&service.id, fragment))
            .map(|service| service.service_endpoint.as_str())
    }

    /// The handle the document claims (the first `at://` name in `alsoKnownAs`). A claim
    /// only: it is the handle's own DNS or well-known record that confirms it.
    pub fn handle(&self) -> Option<&str> {
        self.also_known_as
            .iter()
            .find_map(|name| name.strip_prefix("at://"))
    }
}

impl VerificationMethod {
    /// The key, read according to the method's type.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        let multibase = self.public_key_multibase.as_deref().ok_or_else(|| {
            KeyError::new("the verification method has no publicKeyMultibase (other key forms, such as publicKeyJwk, are not read)")
        })?;
        match self.kind.as_str() {
            "Multikey" => PublicKey::from_multikey(multibase),
            "EcdsaSecp256k1VerificationKey2019" => {
                PublicKey::from_legacy(KeyType::Secp256k1, multibase)
            }
            "EcdsaSecp256r1VerificationKey2019" => PublicKey::from_legacy(KeyType::P256, multibase),
            other => Err(KeyError::new(format!(
                "verification method type {other:?} is not one atproto uses (Multikey, \
                 EcdsaSecp256k1VerificationKey2019, EcdsaSecp256r1VerificationKey2019)"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and signatures

/// The two curves atproto signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// secp256k1 (`k256`), JWT algorithm `ES256K`.
    Secp256k1,
    /// NIST P-256 (`p256`), JWT algorithm `ES256`.
    P256,
}

impl KeyType {
    /// The JWT `alg` of signatures made with this kind of key.
    pub fn jwt_alg(self) -> &'static str {
        match self {
            KeyType::Secp256k1 => "ES256K",
            KeyType::P256 => "ES256",
        }
    }

    /// The key type whose signatures carry this JWT `alg`.
    pub fn from_jwt_alg(alg: &str) -> Option<KeyType> {
        match alg {
            "ES256K" => Some(KeyType::Secp256k1),
            "ES256" => Some(KeyType::P256),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyType::Secp256k1 => "secp256k1",
            KeyType::P256 => "P-256",
        }
    }
}

/// A public key that verifies atproto signatures.
///
/// `Debug` and `Display` show it as a `did:key`.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    Secp256k1(k256::ecdsa::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Reads a multibase key with its multicodec prefix (`z` + base58btc), as a `Multikey`
    /// verification method and a `did:key` write it. The point must be compressed, as atproto
    /// requires.
    pub fn from_multikey(multibase: &str) -> Result<PublicKey, KeyError> {
        let bytes = decode_base58btc(multibase)?;
        let (kind, point) = if let Some(point) = bytes.strip_prefix(&SECP256K1_PREFIX) {
            (KeyType::Secp256k1, point)
        } else if let Some(point) = bytes.strip_prefix(&P256_PREFIX) {
            (KeyType::P256, point)
        } else {
            let prefix: Vec<String> = bytes.iter().take(2).map(|b| format!("{b:#04x}")).collect();
            return Err(KeyError::new(format!(
                "the key's multicodec prefix [{}] is neither secp256k1 (0xe7 0x01) nor P-256 \
                 (0x80 0x24)",
                prefix.join(" ")
            )));
        };
        if point.len() != COMPRESSED_LEN {
            return Err(KeyError::new(format!(
                "a {} key must be a compressed point of {COMPRESSED_LEN} bytes, not {}",
                kind.name(),
                point.len()
            )));
        }
        PublicKey::from_sec1(kind, point)
    }

    /// Reads a `did:key:z…`.
    pub fn from_did_key(did_key: &str) -> Result<PublicKey, KeyError> {
        let multibase = did_key.strip_prefix(DID_KEY_PREFIX).ok_or_else(|| {
            KeyError::new(format!("{did_key:?} does not start with {DID_KEY_PREFIX}"))
        })?;
        PublicKey::from_multikey(multibase)
    }

    /// Reads the key of a legacy verification method type: the multibase holds the SEC1 point
    /// itself (compressed or not), or, as some documents have it, the prefixed form.
    pub fn from_legacy(kind: KeyType, multibase: &str) -> Result<PublicKey, KeyError> {
        let bytes = decode_base58btc(multibase)?;
        let prefix = match kind {
            KeyType::Secp256k1 => SECP256K1_PREFIX,
            KeyType::P256 => P256_PREFIX,
        };
        let point = match bytes.strip_prefix(&prefix) {
            Some(point) if point.len() == COMPRESSED_LEN => point,
            _ => &bytes[..],
        };
        PublicKey::from_sec1(kind, point)
    }

    /// Reads a SEC1-encoded point (compressed or uncompressed) of the given curve.
    pub fn from_sec1(kind: KeyType, point: &[u8]) -> Result<PublicKey, KeyError> {
        let invalid = |_| KeyError::new(format!("not a valid {} public key", kind.name()));
        match kind {
            KeyType::Secp256k1 => k256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(PublicKey::Secp256k1)
                .map_err(invalid),
            KeyType::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(PublicKey::P256)
                .map_err(invalid),
        }
    }

    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Secp256k1(_) => KeyType::Secp256k1,
            PublicKey::P256(_) => KeyType::P256,
        }
    }

    /// The JWT `alg` this key's signatures carry: `ES256K` or `ES256`.
    pub fn jwt_alg(&self) -> &'static str {
        self.key_type().jwt_alg()
    }

    /// The compressed SEC1 point (33 bytes).
    pub fn to_sec1_compressed(&self) -> Vec<u8> {
        match self {
            PublicKey::Secp256k1(key) => key.to_sec1_point(true).as_bytes().to_vec(),
            PublicKey::P256(key) => key.to_sec1_point(true).as_bytes().to_vec(),
        }
    }

    /// The multibase form with its multicodec prefix: what a `Multikey` method holds.
    pub fn to_multikey(&self) -> String {
        let mut bytes = match self.key_type() {
            KeyType::Secp256k1 => SECP256K1_PREFIX.to_vec(),
            KeyType::P256 => P256_PREFIX.to_vec(),
        };
        bytes.extend(self.to_sec1_compressed());
        ::cid::multibase::encode(::cid::multibase::Base::Base58Btc, bytes)
    }

    /// `did:key:` + [`PublicKey::to_multikey`].
    pub fn to_did_key(&self) -> String {
        format!("{DID_KEY_PREFIX}{}", self.to_multikey())
    }

    /// Checks an atproto signature of `message`: SHA-256, then ECDSA, the signature as the raw
    /// 64 bytes `r || s` (not DER) with `s` in the lower half of the curve order ("low-S"), as
    /// atproto requires of every signature.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        self.verify_inner(message, signature, false)
    }

    /// [`PublicKey::verify`], but also accepting the high-S twin of a valid signature. The
    /// reference implementation checks service-auth JWTs this way; see
    /// `ServiceAuth::allow_high_s`.
    pub fn verify_allowing_high_s(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        self.verify_inner(message, signature, true)
    }

    fn verify_inner(
        &self,
        message: &[u8],
        signature: &[u8],
        allow_high_s: bool,
    ) -> Result<(), SignatureError> {
        if signature.len() != 64 {
            return Err(SignatureError::Length(signature.len()));
        }
        // Both curves: the signature is checked in its low-S form, and refused before that
        // when it was high-S and that is not allowed. (k256 refuses high-S by itself, p256
        // takes both: the rule is applied here, the same for both.) The two crates share one
        // `signature` crate, so one import of its trait and one error type serve both.
        use k256::ecdsa::signature::Verifier as _;
        let checked = match self {
            PublicKey::Secp256k1(key) => {
                let parsed = k256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| SignatureError::OutOfRange)?;
                key.verify(message, &low_s(parsed, parsed.normalize_s(), allow_high_s)?)
            }
            PublicKey::P256(key) => {
                let parsed = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| SignatureError::OutOfRange)?;
                key.verify(message, &low_s(parsed, parsed.normalize_s(), allow_high_s)?)
            }
        };
        checked.map_err(|_| SignatureError::Mismatch)
    }
}

/// The low-S form of a signature to verify, or [`SignatureError::HighS`] when the signature
/// was high-S (`low` differs from it) and that is not allowed.
fn low_s<S: PartialEq>(signature: S, low: S, allow_high_s: bool) -> Result<S, SignatureError> {
    if low != signature && !allow_high_s {
        return Err(SignatureError::HighS);
    }
    Ok(low)
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_did_key())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_did_key())
    }
}

fn decode_base58btc(multibase: &str) -> Result<Vec<u8>, KeyError> {
    // The multibase crate would take any base; atproto keys are base58btc (`z`) only.
    let Some(rest) = multibase.strip_prefix('z') else {
        return Err(KeyError::new(
            "the key is not base58btc multibase (it must start with 'z')",
        ));
    };
    ::cid::multibase::Base::Base58Btc
        .decode(rest)
        .map_err(|_| KeyError::new("the key is not valid base58btc"))
}

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    reason: String,
}

impl KeyError {
    pub fn new(reason: impl Into<String>) -> Self {
        KeyError {
            reason: reason.into(),
        }
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for KeyError {}

/// Why a signature does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not 64 bytes: atproto signatures are raw `r || s`, never DER.
    Length(usize),
    /// `r` or `s` is zero or not below the curve order.
    OutOfRange,
    /// `s` is in the upper half of the curve order; atproto requires the low-S form.
    HighS,
    /// The signature is not this key's signature of this message.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Length(len) => write!(
                f,
                "the signature is {len} bytes, not the 64 bytes of raw r||s (DER is not accepted)"
            ),
            SignatureError::OutOfRange => f.write_str("the signature's r or s is out of range"),
            SignatureError::HighS => {
                f.write_str("the signature is not in low-S form, which atproto requires")
            }
            SignatureError::Mismatch => f.write_str("the signature does not match the key"),
        }
    }
}

impl std::error::Error for SignatureError {}

// ---------------------------------------------------------------------------------------------
// Resolution

/// Why a DID could not be resolved to a document.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResolveError {
    /// The DID is not one this resolver reads: bad syntax, a method other than `plc` and
    /// `web`, a `did:web` with a path or a port away from localhost.
    Unsupported { did: String, reason: String },
    /// The directory or host answered 404 (no such DID) or 410 (a deactivated `did:plc`).
    NotFound { did: String, status: u16 },
    /// Another HTTP status.
    Status { did: String, status: u16 },
    /// No (complete) answer: connection refused, timeout, TLS, a body over the size limit.
    Transport { did: String, error: TransportError },
    /// The answer is not a DID document of this DID.
    Document { did: String, reason: String },
}

impl ResolveError {
    /// The DID that was being resolved.
    pub fn did(&self) -> &str {
        match self {
            ResolveError::Unsupported { did, .. }
            | ResolveError::NotFound { did, .. }
            | ResolveError::Status { did, .. }
            | ResolveError::Transport { did, .. }
            | ResolveError::Document { did, .. } => did,
        }
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Unsupported { did, reason } => {
                write!(f, "cannot resolve {did}: {reason}")
            }
            ResolveError::NotFound { did, status } => {
                write!(f, "{did} was not found (HTTP {status})")
            }
            ResolveError::Status { did, status } => {
                write!(f, "resolving {did} failed with HTTP {status}")
            }
            ResolveError::Transport { did, error } => write!(f, "resolving {did} failed: {error}"),
            ResolveError::Document { did, reason } => {
                write!(f, "the DID document of {did} is not usable: {reason}")
            }
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResolveError::Transport { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Resolves a DID to its document. Implement it to resolve another way (tests, a shared
/// cache, a mirror); it is object-safe, so a server can hold an `Arc<dyn DidResolver>`.
pub trait DidResolver: Send + Sync {
    /// The document of `did`, from a cache if the resolver keeps one.
    fn resolve<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>>;

    /// The document of `did` as it is now, past any cache: asked for when what the cached
    /// copy says failed (a signature that does not match its key: the key may have been
    /// rotated). The default is [`DidResolver::resolve`], right for resolvers without a cache.
    fn resolve_fresh<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        self.resolve(did)
    }
}

impl<R: DidResolver + ?Sized> DidResolver for Arc<R> {
    fn resolve<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        (**self).resolve(did)
    }

    fn resolve_fresh<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        (**self).resolve_fresh(did)
    }
}

/// The PLC directory of the public network.
pub const DEFAULT_PLC_URL: &str = "https://plc.directory";

/// Resolves `did:plc` through a PLC directory and `did:web` through the host's
/// `/.well-known/did.json`, over HTTP with a [`Transport`]. No cache: put a
/// [`CachingResolver`] in front of it.
///
/// `did:web` follows atproto's profile of it: a hostname only (no path, no port), fetched over
/// HTTPS. `localhost`, the spec's exception for development (plain HTTP, any port:
/// `did:web:localhost%3A8080`), is refused unless [`HttpResolver::with_localhost`] allows it:
/// the DID comes from a stranger's token, and a server should not send requests to its own
/// loopback because a token said so. IP addresses and one-label names are refused likewise.
/// Other hostnames that lead into a private network cannot be told apart by their name: on
/// such a network, give the resolver a transport that refuses private addresses.
#[derive(Debug, Clone)]
pub struct HttpResolver<T> {
    transport: T,
    plc_url: String,
    timeout: Duration,
    response_limit: u64,
    localhost: bool,
}

/// How long one lookup may take when [`HttpResolver::with_timeout`] does not say.
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest document read: PLC documents are about a kilobyte.
const DOCUMENT_LIMIT: u64 = 256 * 1024;

#[cfg(feature = "reqwest")]
impl HttpResolver<super::client::ReqwestTransport> {
    /// A resolver on reqwest and the public PLC directory. Its client follows no redirects:
    /// a PLC directory answers directly, and a `did:web` host that redirects could send the
    /// request anywhere (the document must be at the host's own well-known path).
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build();
        let transport = match client {
            Ok(client) => super::client::ReqwestTransport::from_client(client),
            // The default transport meets the same failure and says why on every call.
            Err(_) => super::client::ReqwestTransport::new(),
        };
        HttpResolver::with_transport(transport)
    }
}

#[cfg(feature = "reqwest")]
impl Default for HttpResolver<super::client::ReqwestTransport> {
    fn default() -> Self {
        HttpResolver::new()
    }
}

impl<T: Transport> HttpResolver<T> {
    /// A resolver sending its requests through `transport`, on the public PLC directory.
    pub fn with_transport(transport: T) -> Self {
        HttpResolver {
            transport,
            plc_url: DEFAULT_PLC_URL.to_owned(),
            timeout: DEFAULT_RESOLVE_TIMEOUT,
            response_limit: DOCUMENT_LIMIT,
            localhost: false,
        }
    }

    /// Reads `did:plc` documents from this directory (`https://plc.directory` by default).
    pub fn with_plc_url(mut self, plc_url: impl Into<String>) -> Self {
        self.plc_url = plc_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Gives up on one lookup after this long (10 seconds by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Resolves `did:web:localhost…` (over plain HTTP, any port), for development and tests.
    /// Off by default.
    pub fn with_localhost(mut self, allow: bool) -> Self {
        self.localhost = allow;
        self
    }

    pub fn plc_url(&self) -> &str {
        &self.plc_url
    }

    /// Where the document of `did` is fetched from.
    pub fn document_url(&self, did: &Did) -> Result<String, ResolveError> {
        let unsupported = |reason: String| ResolveError::Unsupported {
            did: did.as_str().to_owned(),
            reason,
        };
        did.check()
            .map_err(|error| unsupported(error.reason().to_owned()))?;
        let text = did.as_str();
        if let Some(id) = text.strip_prefix("did:plc:") {
            // The identifier is 24 characters of base32 (lowercase): checked, as it goes
            // into a URL path.
            if id.len() != 24 || !id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')) {
                return Err(unsupported(
                    "a did:plc identifier is 24 base32 characters (a-z, 2-7)".to_owned(),
                ));
            }
            return Ok(format!("{}/{text}", self.plc_url));
        }
        if let Some(id) = text.strip_prefix("did:web:") {
            return did_web_url(id, self.localhost).map_err(unsupported);
        }
        Err(unsupported(format!(
            "the DID method {:?} is not one atproto uses (plc, web)",
            did.method().unwrap_or_default()
        )))
    }

    async fn fetch(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        let url = self.document_url(did)?;
        let owned = || did.as_str().to_owned();
        let mut request = HttpRequest::new("GET", url);
        request.headers.push((
            "accept".to_owned(),
            "application/did+ld+json, application/json".to_owned(),
        ));
        request.timeout = Some(self.timeout);
        request.response_limit = Some(self.response_limit);
        let response =
            self.transport
                .send(request)
                .await
                .map_err(|error| ResolveError::Transport {
                    did: owned(),
                    error,
                })?;
        match response.status {
            200..=299 => {}
            status @ (404 | 410) => {
                return Err(ResolveError::NotFound {
                    did: owned(),
                    status,
                });
            }
            status => {
                return Err(ResolveError::Status {
                    did: owned(),
                    status,
                });
            }
        }
        let document: DidDocument =
            serde_json::from_slice(&response.body).map_err(|error| ResolveError::Document {
                did: owned(),
                reason: format!("not a DID document: {error}"),
            })?;
        // A host (or a directory) could answer with another identity's document.
        if document.id != did.as_str() {
            return Err(ResolveError::Document {
                did: owned(),
                reason: format!("it is the document of {:?}", document.id),
            });
        }
        Ok(document)
    }
}

/// `https://{host}/.well-known/did.json` for the part of a `did:web` after `did:web:`.
fn did_web_url(id: &str, localhost_allowed: bool) -> Result<String, String> {
    if id.contains(':') {
        return Err("atproto uses did:web for hostnames only, without a path".to_owned());
    }
    let host = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| "the host is not UTF-8 once percent-decoded".to_owned())?;
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (&*host, None),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!("{name:?} is not a hostname"));
    }
    let lower = name.to_ascii_lowercase();
    let localhost = lower == "localhost";
    // Names under `.localhost` lead to the loopback too (RFC 6761).
    if lower.ends_with(".localhost") {
        return Err(format!("{name:?} is a loopback name"));
    }
    if localhost && !localhost_allowed {
        return Err(
            "did:web:localhost is for development (see HttpResolver::with_localhost)".to_owned(),
        );
    }
    // As for handles: at least two labels, the last starting with a letter (so no IPv4
    // address and no bare intranet name).
    let top = name.rsplit('.').next().unwrap_or_default();
    if !localhost && (!name.contains('.') || !top.starts_with(|c: char| c.is_ascii_alphabetic())) {
        return Err(format!(
            "{name:?} is not a public hostname (two labels or more, the last starting with a letter)"
        ));
    }
    if let Some(port) = port {
        if !localhost {
            return Err("a did:web may only carry a port for localhost".to_owned());
        }
        if port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err()
        {
            return Err(format!("{port:?} is not a port"));
        }
    }
    let scheme = if localhost { "http" } else { "https" };
    Ok(format!("{scheme}://{host}/.well-known/did.json"))
}

impl<T: Transport> DidResolver for HttpResolver<T> {
    fn resolve<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        Box::pin(self.fetch(did))
    }
}

/// Keeps resolved documents in front of another resolver: each for a time to live, at most so
/// many (the oldest go first), and a fresh lookup ([`DidResolver::resolve_fresh`]) at most once
/// per [`CachingResolver::with_refresh_interval`] per DID, so that a stream of badly signed
/// tokens cannot turn into a stream of lookups. Failed lookups are not kept.
pub struct CachingResolver<R> {
    inner: R,
    ttl: Duration,
    capacity: usize,
    refresh_interval: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    document: DidDocument,
    fetched: Instant,
}

/// How long a document is kept when [`CachingResolver::with_ttl`] does not say. A rotated key
/// is noticed before that on the first signature it fails; a key taken away (and not
/// replaced) is trusted until then.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(15 * 60);
/// How many documents are kept when [`CachingResolver::with_capacity`] does not say.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;
/// The shortest time between two lookups of one DID past the cache, by default.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

impl<R> CachingResolver<R> {
    pub fn new(inner: R) -> Self {
        CachingResolver {
            inner,
            ttl: DEFAULT_CACHE_TTL,
            capacity: DEFAULT_CACHE_CAPACITY,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps each document this long (15 minutes by default).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Keeps at most this many documents (10 000 by default; 0 keeps none).
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Looks a DID up past the cache at most once in this time (5 seconds by default): a
    /// fresh lookup asked for sooner answers with the copy just fetched.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The resolver behind the cache.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Drops the cached document of `did` (after news that it changed: an `#identity` event).
    pub fn forget(&self, did: &str) {
        self.lock().remove(did);
    }

    /// Drops every cached document.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many documents are cached (expired ones included until they are replaced or pushed
    /// out).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // The map is never left half-updated, so a panic elsewhere does not spoil it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached document of `did` if it is younger than `max_age`.
    fn cached(&self, did: &Did, max_age: Duration) -> Option<DidDocument> {
        let entries = self.lock();
        let entry = entries.get(did.as_str())?;
        (entry.fetched.elapsed() < max_age).then(|| entry.document.clone())
    }

    fn store(&self, did: &Did, document: &DidDocument) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(did.as_str()) {
            let ttl = self.ttl;
            entries.retain(|_, entry| entry.fetched.elapsed() < ttl);
            while entries.len() >= self.capacity {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.fetched)
                    .map(|(did, _)| did.clone());
                match oldest {
                    Some(oldest) => entries.remove(&oldest),
                    None => break,
                };
            }
        }
        entries.insert(
            did.as_str().to_owned(),
            Entry {
                document: document.clone(),
                fetched: Instant::now(),
            },
        );
    }
}

impl<R: DidResolver> DidResolver for CachingResolver<R> {
    fn resolve<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        Box::pin(async move {
            if let Some(document) = self.cached(did, self.ttl) {
                return Ok(document);
            }
            let document = self.inner.resolve(did).await?;
            self.store(did, &document);
            Ok(document)
        })
    }

    fn resolve_fresh<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        Box::pin(async move {
            if let Some(document) = self.cached(did, self.refresh_interval.min(self.ttl)) {
                return Ok(document);
            }
            let document = self.inner.resolve_fresh(did).await?;
            self.store(did, &document);
            Ok(document)
        })
    }
}

impl<R: fmt::Debug> fmt::Debug for CachingResolver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingResolver")
            .field("inner", &self.inner)
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("refresh_interval", &self.refresh_interval)
            .field("cached", &self.lock().len())
            .finish()
    }
}
