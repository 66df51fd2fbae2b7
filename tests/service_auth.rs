//! Service auth (`runtime::service_auth`, `runtime::did`) on tokens signed here, with k256 and
//! p256, checked through a stub resolver: every reason for a refusal, both algorithms, high-S
//! signatures, malformed tokens, key rotation through the cache, and the HTTP resolver's URLs
//! and answers (did:web served by a local listener). `e2e_service_auth.rs` checks tokens the
//! real PDS mints.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atproto_api::runtime::Did;
use atproto_api::runtime::client::{
    BoxFuture, HttpRequest, HttpResponse, Transport, TransportError,
};
use atproto_api::runtime::did::{
    CachingResolver, DidDocument, DidResolver, HttpResolver, KeyType, PublicKey, ResolveError,
    SignatureError, VerificationMethod, k256, p256,
};
use atproto_api::runtime::service_auth::{AuthError, Caller, ServiceAuth};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use integration_tests::http::{Canned, Listener};
use serde_json::{Value, json};

const ISSUER: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const SERVICE: &str = "did:web:feed.example.com";
const METHOD: &str = "app.bsky.feed.getFeedSkeleton";
/// A fixed "now" for the claims of most tests (2026-11-01T00:00:00Z).
const NOW: i64 = 1_793_491_200;

fn at(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).expect("a time after 1970"))
}

fn did(text: &str) -> Did {
    Did::new(text).expect("a valid DID")
}

// ---------------------------------------------------------------------------------------------
// Signing, done here with the curve crates the runtime re-exports

/// A private key of either curve, made from a seed byte (deterministic test keys).
#[derive(Clone)]
enum Signer {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl Signer {
    fn k256(seed: u8) -> Signer {
        Signer::K256(k256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("a scalar"))
    }

    fn p256(seed: u8) -> Signer {
        Signer::P256(p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("a scalar"))
    }

    fn public(&self) -> PublicKey {
        match self {
            Signer::K256(key) => PublicKey::Secp256k1(*key.verifying_key()),
            Signer::P256(key) => PublicKey::P256(*key.verifying_key()),
        }
    }

    fn alg(&self) -> &'static str {
        self.public().jwt_alg()
    }

    /// The raw `r || s` signature of `message`, in low-S form or (`high`) its high-S twin.
    fn sign(&self, message: &[u8], high: bool) -> Vec<u8> {
        // The same steps on either curve's types. p256 signs without normalizing (about half
        // its signatures are high-S), so both are normalized first.
        macro_rules! sign_on {
            ($curve:ident, $key:expr) => {{
                use $curve::ecdsa::signature::Signer as _;
                let signature: $curve::ecdsa::Signature = $key.sign(message);
                let low = signature.normalize_s();
                let (r, s) = low.split_scalars();
                let twin = $curve::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes());
                let chosen = if high {
                    twin.expect("the high-S twin")
                } else {
                    low
                };
                chosen.to_bytes().to_vec()
            }};
        }
        match self {
            Signer::K256(key) => sign_on!(k256, key),
            Signer::P256(key) => sign_on!(p256, key),
        }
    }
}

/// A JWT of these header and claims, signed by `signer`.
fn token_with(signer: &Signer, header: &Value, claims: &Value, high_s: bool) -> String {
    let signed = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = signer.sign(signed.as_bytes(), high_s);
    format!("{signed}.{}", B64.encode(signature))
}

fn header(signer: &Signer) -> Value {
    json!({"typ": "JWT", "alg": signer.alg()})
}

/// The claims a PDS writes: for ISSUER, to SERVICE, for METHOD, issued at NOW, a minute long.
fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": SERVICE,
        "iat": NOW,
        "exp": NOW + 60,
        "lxm": METHOD,
        "jti": "2d4c8e0f6a1b3c5d7e9f",
    })
}

fn token(signer: &Signer) -> String {
    token_with(signer, &header(signer), &claims(), false)
}

/// Claims with some members replaced (`null` removes one).
fn claims_with(changes: &Value) -> Value {
    let mut claims = claims();
    let object = claims.as_object_mut().expect("an object");
    for (name, value) in changes.as_object().expect("an object") {
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.clone(), value.clone());
        }
    }
    claims
}

// ---------------------------------------------------------------------------------------------
// DID documents and a stub resolver

fn method(id: &str, kind: &str, multibase: String) -> VerificationMethod {
    serde_json::from_value(json!({
        "id": id,
        "type": kind,
        "controller": ISSUER,
        "publicKeyMultibase": multibase,
    }))
    .expect("a verification method")
}

/// The document a PLC directory serves for `did`, with `key` as `#atproto`.
fn document(did: &str, key: &PublicKey) -> DidDocument {
    serde_json::from_value(json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": ["at://alice.test"],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.to_multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com",
        }],
    }))
    .expect("a DID document")
}

/// Serves documents from a map, counting lookups; a DID it does not hold is not found.
#[derive(Default)]
struct Stub {
    documents: Mutex<HashMap<String, DidDocument>>,
    resolves: AtomicUsize,
    fresh: AtomicUsize,
}

impl Stub {
    fn with(document: DidDocument) -> Stub {
        let stub = Stub::default();
        stub.set(document);
        stub
    }

    fn set(&self, document: DidDocument) {
        self.documents
            .lock()
            .expect("not poisoned")
            .insert(document.id.clone(), document);
    }

    fn lookup(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        let documents = self.documents.lock().expect("not poisoned");
        documents
            .get(did.as_str())
            .cloned()
            .ok_or_else(|| ResolveError::NotFound {
                did: did.as_str().to_owned(),
                status: 404,
            })
    }

    fn lookups(&self) -> (usize, usize) {
        (
            self.resolves.load(Ordering::SeqCst),
            self.fresh.load(Ordering::SeqCst),
        )
    }
}

impl DidResolver for Stub {
    fn resolve<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        self.resolves.fetch_add(1, Ordering::SeqCst);
        let answer = self.lookup(did);
        Box::pin(async move { answer })
    }

    fn resolve_fresh<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<DidDocument, ResolveError>> {
        self.fresh.fetch_add(1, Ordering::SeqCst);
        let answer = self.lookup(did);
        Box::pin(async move { answer })
    }
}

/// A `ServiceAuth` for SERVICE whose resolver knows ISSUER with `signer`'s key. The stub is
/// shared so the test can count lookups.
fn auth_for(signer: &Signer) -> (ServiceAuth, std::sync::Arc<Stub>) {
    let stub = std::sync::Arc::new(Stub::with(document(ISSUER, &signer.public())));
    (ServiceAuth::new(did(SERVICE), stub.clone()), stub)
}

async fn verify(auth: &ServiceAuth, token: &str) -> Result<Caller, AuthError> {
    auth.verify_at(token, METHOD, at(NOW + 1)).await
}

// ---------------------------------------------------------------------------------------------
// Tokens that pass

#[tokio::test]
async fn an_es256k_token_verifies_and_names_the_caller() {
    let signer = Signer::k256(7);
    let (auth, stub) = auth_for(&signer);
    let caller = verify(&auth, &format!("Bearer {}", token(&signer)))
        .await
        .expect("a valid ES256K token");
    assert_eq!(
        caller,
        Caller {
            did: did(ISSUER),
            service: None,
            aud: SERVICE.to_owned(),
            lxm: Some(METHOD.to_owned()),
            exp: NOW + 60,
            iat: Some(NOW),
            jti: Some("2d4c8e0f6a1b3c5d7e9f".to_owned()),
        }
    );
    assert_eq!(stub.lookups(), (1, 0), "one lookup, no fresh one");
}

#[tokio::test]
async fn an_es256_token_verifies() {
    // Several keys, so that p256's raw signatures are high-S for some of them: the signer
    // here normalizes, as atproto signers must.
    for seed in 1..=8 {
        let signer = Signer::p256(seed);
        let (auth, _) = auth_for(&signer);
        let caller = verify(&auth, &token(&signer))
            .await
            .unwrap_or_else(|error| panic!("P-256 key {seed}: {error}"));
        assert_eq!(caller.did, did(ISSUER));
    }
}

#[tokio::test]
async fn the_authorization_header_may_name_the_scheme_in_any_case_or_be_the_bare_token() {
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token(&signer);
    for form in [
        format!("Bearer {jwt}"),
        format!("bearer {jwt}"),
        format!("BEARER   {jwt}  "),
        jwt.clone(),
    ] {
        verify(&auth, &form)
            .await
            .unwrap_or_else(|error| panic!("{form:?}: {error}"));
    }
    for missing in ["", "   ", "Bearer", "Bearer   "] {
        let error = verify(&auth, missing).await.expect_err("no token");
        assert!(matches!(error, AuthError::Missing), "{missing:?}: {error}");
        assert_eq!(error.error_name(), "AuthMissing");
    }
    let error = verify(&auth, &format!("Basic {jwt}"))
        .await
        .expect_err("another scheme");
    assert!(matches!(error, AuthError::Malformed(_)), "{error}");
    let error = verify(&auth, &format!("DPoP {jwt}"))
        .await
        .expect_err("another scheme");
    assert!(matches!(error, AuthError::Malformed(_)), "{error}");
}

#[tokio::test]
async fn an_extra_audience_is_taken_beside_the_service_did() {
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let auth = auth.with_audience(format!("{SERVICE}#bsky_fg"));
    for aud in [SERVICE.to_owned(), format!("{SERVICE}#bsky_fg")] {
        let jwt = token_with(
            &signer,
            &header(&signer),
            &claims_with(&json!({"aud": aud})),
            false,
        );
        let caller = verify(&auth, &jwt)
            .await
            .unwrap_or_else(|error| panic!("aud {aud}: {error}"));
        assert_eq!(caller.aud, aud);
    }
    let jwt = token_with(
        &signer,
        &header(&signer),
        &claims_with(&json!({"aud": format!("{SERVICE}#other")})),
        false,
    );
    let error = verify(&auth, &jwt).await.expect_err("another fragment");
    assert!(matches!(error, AuthError::WrongAudience { .. }), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Refusals, each with the check that failed

#[tokio::test]
async fn a_token_for_another_audience_is_refused_before_any_lookup() {
    let signer = Signer::k256(7);
    let (auth, stub) = auth_for(&signer);
    let jwt = token_with(
        &signer,
        &header(&signer),
        &claims_with(&json!({"aud": "did:web:elsewhere.example.com"})),
        false,
    );
    let error = verify(&auth, &jwt).await.expect_err("wrong aud");
    match &error {
        AuthError::WrongAudience { expected, found } => {
            assert_eq!(expected, SERVICE);
            assert_eq!(found, "did:web:elsewhere.example.com");
        }
        other => panic!("expected WrongAudience, got {other:?}"),
    }
    assert_eq!(error.error_name(), "BadJwtAudience");
    assert_eq!(error.status(), 401);
    assert_eq!(stub.lookups(), (0, 0));
}

#[tokio::test]
async fn an_expired_token_is_refused_past_the_leeway() {
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token(&signer);
    let exp = NOW + 60;
    // Within the default leeway of 5 s: taken.
    auth.verify_at(&jwt, METHOD, at(exp + 5))
        .await
        .expect("within the leeway");
    let error = auth
        .verify_at(&jwt, METHOD, at(exp + 6))
        .await
        .expect_err("expired");
    assert!(
        matches!(error, AuthError::Expired { exp: e, now } if e == exp && now == exp + 6),
        "{error:?}"
    );
    assert_eq!(error.error_name(), "JwtExpired");

    let strict = auth.clone().with_leeway(Duration::ZERO);
    strict
        .verify_at(&jwt, METHOD, at(exp))
        .await
        .expect("valid up to exp itself");
    let error = strict
        .verify_at(&jwt, METHOD, at(exp + 1))
        .await
        .expect_err("a second late");
    assert!(matches!(error, AuthError::Expired { .. }), "{error:?}");
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token_with(
        &signer,
        &header(&signer),
        &claims_with(&json!({"nbf": NOW + 30})),
        false,
    );
    let error = verify(&auth, &jwt).await.expect_err("nbf ahead");
    assert!(matches!(error, AuthError::NotYetValid { .. }), "{error:?}");
    auth.verify_at(&jwt, METHOD, at(NOW + 30))
        .await
        .expect("valid from nbf on");
}

#[tokio::test]
async fn a_token_for_another_method_or_none_is_refused() {
    let signer = Signer::k256(7);
    let (auth, stub) = auth_for(&signer);
    let error = auth
        .verify_at(&token(&signer), "app.bsky.feed.getPosts", at(NOW))
        .await
        .expect_err("another method");
    match &error {
        AuthError::WrongMethod { expected, found } => {
            assert_eq!(expected, "app.bsky.feed.getPosts");
            assert_eq!(found.as_deref(), Some(METHOD));
        }
        other => panic!("expected WrongMethod, got {other:?}"),
    }
    assert_eq!(error.error_name(), "BadJwtLexiconMethod");

    let unbound = token_with(
        &signer,
        &header(&signer),
        &claims_with(&json!({"lxm": null})),
        false,
    );
    let error = verify(&auth, &unbound).await.expect_err("no lxm");
    assert!(
        matches!(&error, AuthError::WrongMethod { found: None, .. }),
        "{error:?}"
    );
    assert_eq!(stub.lookups(), (0, 0));

    let lenient = auth.allow_missing_method(true);
    let caller = verify(&lenient, &unbound).await.expect("allowed");
    assert_eq!(caller.lxm, None);
    // Allowing tokens without lxm does not let a token for another method through.
    let error = lenient
        .verify_at(&token(&signer), "app.bsky.feed.getPosts", at(NOW))
        .await
        .expect_err("still another method");
    assert!(matches!(error, AuthError::WrongMethod { .. }), "{error:?}");
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused_after_one_fresh_lookup() {
    let signer = Signer::k256(7);
    let (auth, stub) = auth_for(&signer);
    let forger = Signer::k256(8);
    let error = verify(&auth, &token(&forger))
        .await
        .expect_err("another key");
    match &error {
        AuthError::BadSignature { did, error } => {
            assert_eq!(did, ISSUER);
            assert_eq!(*error, SignatureError::Mismatch);
        }
        other => panic!("expected BadSignature, got {other:?}"),
    }
    assert_eq!(error.error_name(), "BadJwtSignature");
    assert_eq!(
        stub.lookups(),
        (1, 1),
        "looked up again, past any cache, once"
    );
}

#[tokio::test]
async fn a_changed_claim_breaks_the_signature() {
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token(&signer);
    let mut parts: Vec<&str> = jwt.split('.').collect();
    // The same claims for a longer time, with the original signature.
    let longer = B64.encode(claims_with(&json!({"exp": NOW + 3600})).to_string());
    parts[1] = &longer;
    let error = verify(&auth, &parts.join(".")).await.expect_err("tampered");
    assert!(
        matches!(
            error,
            AuthError::BadSignature {
                error: SignatureError::Mismatch,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn high_s_signatures_are_refused_unless_allowed() {
    for signer in [Signer::k256(7), Signer::p256(7)] {
        let (auth, _) = auth_for(&signer);
        let high = token_with(&signer, &header(&signer), &claims(), true);
        let error = verify(&auth, &high).await.expect_err("high-S");
        assert!(
            matches!(
                error,
                AuthError::BadSignature {
                    error: SignatureError::HighS,
                    ..
                }
            ),
            "{}: {error:?}",
            signer.alg()
        );
        let lenient = auth.allow_high_s(true);
        verify(&lenient, &high)
            .await
            .unwrap_or_else(|error| panic!("{} high-S allowed: {error}", signer.alg()));
        // Allowing high-S lets no other key through.
        let other = match signer {
            Signer::K256(_) => Signer::k256(9),
            Signer::P256(_) => Signer::p256(9),
        };
        let forged = token_with(&other, &header(&other), &claims(), true);
        assert!(verify(&lenient, &forged).await.is_err());
    }
}

#[test]
fn the_curve_crates_differ_on_high_s_which_is_why_the_runtime_checks_it_itself() {
    // k256 refuses high-S signatures on its own; p256 takes them. The runtime refuses them
    // for both, before either crate verifies (the test above).
    // (k256 and p256 share the one `signature` crate, so one import of the trait serves both.)
    use k256::ecdsa::signature::Verifier as _;
    let message = b"a message";
    for (seed, signer) in [(1u8, Signer::k256(1)), (2, Signer::p256(2))] {
        let high = signer.sign(message, true);
        match &signer {
            Signer::K256(key) => {
                let signature = k256::ecdsa::Signature::from_slice(&high).expect("64 bytes");
                assert!(key.verifying_key().verify(message, &signature).is_err());
            }
            Signer::P256(key) => {
                let signature = p256::ecdsa::Signature::from_slice(&high).expect("64 bytes");
                assert!(key.verifying_key().verify(message, &signature).is_ok());
            }
        }
        assert_eq!(
            signer.public().verify(message, &high),
            Err(SignatureError::HighS),
            "key {seed}"
        );
        assert_eq!(
            signer
                .public()
                .verify(message, &signer.sign(message, false)),
            Ok(())
        );
    }
}

#[tokio::test]
async fn signatures_not_of_64_raw_bytes_are_refused() {
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token(&signer);
    let (signed, signature) = jwt.rsplit_once('.').expect("three parts");
    let raw = B64.decode(signature).expect("base64url");
    // A DER encoding of the same signature: 0x30 len 0x02 len r 0x02 len s.
    let der_like = {
        let mut der = vec![0x30, 68, 0x02, 32];
        der.extend_from_slice(&raw[..32]);
        der.extend_from_slice(&[0x02, 32]);
        der.extend_from_slice(&raw[32..]);
        der
    };
    for (what, bytes) in [
        ("DER", der_like),
        ("short", raw[..63].to_vec()),
        ("empty", Vec::new()),
    ] {
        let error = verify(&auth, &format!("{signed}.{}", B64.encode(&bytes)))
            .await
            .expect_err(what);
        assert!(
            matches!(
                error,
                AuthError::BadSignature {
                    error: SignatureError::Length(n),
                    ..
                } if n == bytes.len()
            ),
            "{what}: {error:?}"
        );
    }
    // r = 0 is out of range.
    let mut zero_r = raw.clone();
    zero_r[..32].fill(0);
    let error = verify(&auth, &format!("{signed}.{}", B64.encode(&zero_r)))
        .await
        .expect_err("r = 0");
    assert!(
        matches!(
            error,
            AuthError::BadSignature {
                error: SignatureError::OutOfRange,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn algorithms_other_than_es256k_and_es256_are_refused_before_any_lookup() {
    let signer = Signer::k256(7);
    let (auth, stub) = auth_for(&signer);
    for alg in ["none", "HS256", "RS256", "EdDSA", "es256k", "ES384", ""] {
        let jwt = token_with(
            &signer,
            &json!({"typ": "JWT", "alg": alg}),
            &claims(),
            false,
        );
        let error = verify(&auth, &jwt).await.expect_err(alg);
        assert!(
            matches!(&error, AuthError::BadAlgorithm(found) if found == alg),
            "{alg}: {error:?}"
        );
        assert_eq!(error.error_name(), "BadJwt");
    }
    // `alg: none` with an empty signature, the classic forgery.
    let unsigned = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none"}).to_string()),
        B64.encode(claims().to_string())
    );
    let error = verify(&auth, &unsigned).await.expect_err("alg none");
    assert!(matches!(error, AuthError::BadAlgorithm(_)), "{error:?}");
    assert_eq!(stub.lookups(), (0, 0));
}

#[tokio::test]
async fn a_token_whose_alg_is_not_the_curve_of_the_issuers_key_is_refused() {
    // The document holds a secp256k1 key; the token is signed with a P-256 key and says ES256.
    let signer = Signer::k256(7);
    let (auth, stub) = auth_for(&signer);
    let error = verify(&auth, &token(&Signer::p256(7)))
        .await
        .expect_err("another curve");
    assert!(matches!(error, AuthError::UnknownKey { .. }), "{error:?}");
    assert_eq!(error.error_name(), "BadJwtSignature");
    assert_eq!(
        stub.lookups(),
        (1, 1),
        "a key change is worth a fresh lookup"
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused_saying_what_is_wrong() {
    let signer = Signer::k256(7);
    let (auth, stub) = auth_for(&signer);
    let good = token(&signer);
    let parts: Vec<&str> = good.split('.').collect();
    let encode = |value: &Value| B64.encode(value.to_string());
    let sig = parts[2];
    let mut cases: Vec<(&str, String)> = vec![
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("four parts", format!("{good}.{sig}")),
        ("padded base64", format!("{}=.{}.{sig}", parts[0], parts[1])),
        (
            "standard base64",
            format!("{}.{}.{}+/", parts[0], parts[1], sig),
        ),
        (
            "header not JSON",
            format!("{}.{}.{sig}", B64.encode("{alg"), parts[1]),
        ),
        (
            "header an array",
            format!("{}.{}.{sig}", encode(&json!(["ES256K"])), parts[1]),
        ),
        (
            "claims an array",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&json!([ISSUER, SERVICE, NOW + 60, null, null, METHOD]))
            ),
        ),
        (
            "claims not JSON",
            format!("{}.{}.{sig}", parts[0], B64.encode("iss=me")),
        ),
        (
            "no exp",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&claims_with(&json!({"exp": null})))
            ),
        ),
        (
            "no iss",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&claims_with(&json!({"iss": null})))
            ),
        ),
        (
            "no aud",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&claims_with(&json!({"aud": null})))
            ),
        ),
        (
            "aud a list",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&claims_with(&json!({"aud": [SERVICE]})))
            ),
        ),
        (
            "exp a string",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&claims_with(&json!({"exp": "tomorrow"})))
            ),
        ),
        (
            "iss not a DID",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&claims_with(&json!({"iss": "alice.test"})))
            ),
        ),
        (
            "iss with an empty fragment",
            format!(
                "{}.{}.{sig}",
                parts[0],
                encode(&claims_with(&json!({"iss": format!("{ISSUER}#")})))
            ),
        ),
        (
            "session token",
            format!(
                "{}.{}.{sig}",
                encode(&json!({"typ": "at+jwt", "alg": "ES256K"})),
                parts[1]
            ),
        ),
        (
            "DPoP proof",
            format!(
                "{}.{}.{sig}",
                encode(&json!({"typ": "dpop+jwt", "alg": "ES256K"})),
                parts[1]
            ),
        ),
        (
            "critical extension",
            format!(
                "{}.{}.{sig}",
                encode(&json!({"alg": "ES256K", "crit": ["b64"], "b64": false})),
                parts[1]
            ),
        ),
        (
            "oversized",
            format!("{}.{}.{sig}", parts[0], B64.encode(vec![b' '; 9000])),
        ),
        ("not base64 at all", "!!!.???.***".to_owned()),
    ];
    // The same claim twice: two parsers could read different audiences.
    let twice = format!(
        r#"{{"iss":"{ISSUER}","aud":"did:web:elsewhere.example.com","aud":"{SERVICE}","exp":{},"lxm":"{METHOD}"}}"#,
        NOW + 60
    );
    cases.push((
        "aud twice",
        format!("{}.{}.{sig}", parts[0], B64.encode(twice)),
    ));
    for (what, jwt) in &cases {
        let error = verify(&auth, jwt).await.expect_err(what);
        assert!(
            matches!(error, AuthError::Malformed(_)),
            "{what}: expected Malformed, got {error:?}"
        );
        assert_eq!(error.error_name(), "BadJwt", "{what}");
        assert!(!error.to_string().is_empty());
    }
    assert_eq!(stub.lookups(), (0, 0), "no malformed token costs a lookup");
}

#[tokio::test]
async fn claims_of_another_shape_that_still_mean_the_same_are_taken() {
    // `typ` left out, exp as a fraction, unknown claims and header members: all fine.
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token_with(
        &signer,
        &json!({"alg": "ES256K", "kid": "ignored"}),
        &claims_with(&json!({"exp": (NOW + 60) as f64 + 0.5, "scope": "whatever"})),
        false,
    );
    let caller = verify(&auth, &jwt).await.expect("taken");
    assert_eq!(caller.exp, NOW + 60);
}

#[tokio::test]
async fn an_issuer_that_cannot_be_resolved_is_refused_with_the_reason() {
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token_with(
        &signer,
        &header(&signer),
        &claims_with(&json!({"iss": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"})),
        false,
    );
    let error = verify(&auth, &jwt).await.expect_err("unknown DID");
    assert!(
        matches!(&error, AuthError::Resolve(ResolveError::NotFound { did, .. }) if did == "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"),
        "{error:?}"
    );
    assert_eq!(error.error_name(), "BadJwtIss");
}

#[tokio::test]
async fn the_key_is_found_under_either_id_form_and_in_the_legacy_types() {
    let secp = Signer::k256(7);
    let p256 = Signer::p256(7);
    let bare = |key: &PublicKey| {
        let point = key.to_sec1_compressed();
        format!("z{}", multibase_b58(&point))
    };
    let uncompressed_p256 = match p256.public() {
        PublicKey::P256(key) => format!("z{}", multibase_b58(key.to_sec1_point(false).as_bytes())),
        PublicKey::Secp256k1(_) => unreachable!(),
    };
    let cases = [
        (
            &secp,
            method("#atproto", "Multikey", secp.public().to_multikey()),
        ),
        (
            &secp,
            method(
                &format!("{ISSUER}#atproto"),
                "Multikey",
                secp.public().to_multikey(),
            ),
        ),
        (
            &secp,
            method(
                "#atproto",
                "EcdsaSecp256k1VerificationKey2019",
                bare(&secp.public()),
            ),
        ),
        (
            &p256,
            method(
                "#atproto",
                "EcdsaSecp256r1VerificationKey2019",
                bare(&p256.public()),
            ),
        ),
        (
            &p256,
            method(
                "#atproto",
                "EcdsaSecp256r1VerificationKey2019",
                uncompressed_p256,
            ),
        ),
        (
            &p256,
            method(
                "#atproto",
                "EcdsaSecp256r1VerificationKey2019",
                p256.public().to_multikey(),
            ),
        ),
    ];
    for (signer, vm) in cases {
        let mut doc = document(ISSUER, &signer.public());
        doc.verification_method = vec![vm.clone()];
        let auth = ServiceAuth::new(did(SERVICE), Stub::with(doc));
        verify(&auth, &token(signer))
            .await
            .unwrap_or_else(|error| panic!("{vm:?}: {error}"));
    }
}

fn multibase_b58(bytes: &[u8]) -> String {
    atproto_api::runtime::cid::multibase::Base::Base58Btc.encode(bytes)
}

#[tokio::test]
async fn documents_without_a_usable_key_say_why() {
    let signer = Signer::k256(7);
    let key = signer.public();
    let other_did = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz";
    let cases: Vec<(&str, Vec<VerificationMethod>)> = vec![
        ("no methods", vec![]),
        (
            "another fragment",
            vec![method("#signing", "Multikey", key.to_multikey())],
        ),
        (
            "another DID's #atproto",
            vec![method(
                &format!("{other_did}#atproto"),
                "Multikey",
                key.to_multikey(),
            )],
        ),
        (
            "an unknown type",
            vec![method("#atproto", "JsonWebKey2020", key.to_multikey())],
        ),
        (
            "not base58btc",
            vec![method(
                "#atproto",
                "Multikey",
                format!("f{}", "ab".repeat(35)),
            )],
        ),
        (
            "bad base58",
            vec![method("#atproto", "Multikey", "z0OIl".to_owned())],
        ),
        (
            "an Ed25519 key",
            vec![method(
                "#atproto",
                "Multikey",
                format!(
                    "z{}",
                    multibase_b58(&[&[0xed, 0x01][..], &[1u8; 32][..]].concat())
                ),
            )],
        ),
        (
            "an uncompressed multikey",
            vec![method(
                "#atproto",
                "Multikey",
                format!(
                    "z{}",
                    multibase_b58(
                        &[
                            &[0xe7, 0x01][..],
                            match &key {
                                PublicKey::Secp256k1(k) =>
                                    k.to_sec1_point(false).as_bytes().to_vec(),
                                PublicKey::P256(_) => unreachable!(),
                            }
                            .as_slice()
                        ]
                        .concat()
                    )
                ),
            )],
        ),
        (
            "not a point",
            vec![method(
                "#atproto",
                "Multikey",
                format!(
                    "z{}",
                    multibase_b58(&[&[0xe7, 0x01][..], &[0x05u8; 33][..]].concat())
                ),
            )],
        ),
    ];
    for (what, methods) in cases {
        let mut doc = document(ISSUER, &key);
        doc.verification_method = methods;
        let stub = std::sync::Arc::new(Stub::with(doc));
        let auth = ServiceAuth::new(did(SERVICE), stub.clone());
        let error = verify(&auth, &token(&signer)).await.expect_err(what);
        match &error {
            AuthError::UnknownKey { did, reason } => {
                assert_eq!(did, ISSUER, "{what}");
                assert!(!reason.is_empty(), "{what}");
            }
            other => panic!("{what}: expected UnknownKey, got {other:?}"),
        }
        assert_eq!(stub.lookups(), (1, 1), "{what}");
    }
}

#[tokio::test]
async fn a_method_without_a_multibase_key_is_skipped_not_fatal_to_the_document() {
    // A verification method given by reference only (a string) is skipped by the lenient
    // reader; the #atproto one still works.
    let signer = Signer::k256(7);
    let document: DidDocument = serde_json::from_value(json!({
        "id": ISSUER,
        "verificationMethod": [
            "did:example:123#key-1",
            {"id": "#atproto", "type": "Multikey", "controller": ISSUER,
             "publicKeyMultibase": signer.public().to_multikey()},
        ],
        "service": [{"id": "#map", "type": "X", "serviceEndpoint": {"a": "b"}}],
        "alsoKnownAs": null,
    }))
    .expect("read leniently");
    assert_eq!(document.verification_method.len(), 1);
    assert!(document.service.is_empty());
    let auth = ServiceAuth::new(did(SERVICE), Stub::with(document));
    verify(&auth, &token(&signer)).await.expect("verified");
}

#[tokio::test]
async fn a_labeler_signs_with_its_labeling_key() {
    let labeling = Signer::k256(11);
    let signing = Signer::k256(12);
    let mut doc = document(ISSUER, &signing.public());
    doc.verification_method.push(method(
        "#atproto_label",
        "Multikey",
        labeling.public().to_multikey(),
    ));
    let auth = ServiceAuth::new(did(SERVICE), Stub::with(doc));
    let iss = format!("{ISSUER}#atproto_labeler");
    let labeler_token = |signer: &Signer| {
        token_with(
            signer,
            &header(signer),
            &claims_with(&json!({"iss": iss})),
            false,
        )
    };
    let caller = verify(&auth, &labeler_token(&labeling))
        .await
        .expect("the labeling key");
    assert_eq!(caller.did, did(ISSUER));
    assert_eq!(caller.service.as_deref(), Some("atproto_labeler"));
    let error = verify(&auth, &labeler_token(&signing))
        .await
        .expect_err("the account key is not the labeling key");
    assert!(matches!(error, AuthError::BadSignature { .. }), "{error:?}");
    // Any other service fragment uses #atproto.
    let other = token_with(
        &signing,
        &header(&signing),
        &claims_with(&json!({"iss": format!("{ISSUER}#atproto_pds")})),
        false,
    );
    assert!(verify(&auth, &other).await.is_ok());
}

#[tokio::test]
async fn the_verify_future_is_send_and_errors_are_std_errors() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    let signer = Signer::k256(7);
    let (auth, _) = auth_for(&signer);
    let jwt = token(&signer);
    let future = auth.verify(&jwt, METHOD);
    assert_send(&future);
    drop(future);
    assert_error::<AuthError>();
    assert_error::<ResolveError>();
}

// ---------------------------------------------------------------------------------------------
// The cache, key rotation

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_one_fresh_lookup_past_the_cache() {
    let old = Signer::k256(21);
    let new = Signer::p256(22);
    let stub = std::sync::Arc::new(Stub::with(document(ISSUER, &old.public())));
    let cache = std::sync::Arc::new(
        CachingResolver::new(stub.clone()).with_refresh_interval(Duration::ZERO),
    );
    let auth = ServiceAuth::new(did(SERVICE), cache.clone());
    verify(&auth, &token(&old)).await.expect("the old key");
    verify(&auth, &token(&old)).await.expect("cached");
    assert_eq!(stub.lookups(), (1, 0), "the second check used the cache");

    // The account rotates its key (to another curve, even).
    stub.set(document(ISSUER, &new.public()));
    verify(&auth, &token(&new))
        .await
        .expect("the new key, after a fresh lookup");
    assert_eq!(stub.lookups(), (1, 1));
    verify(&auth, &token(&new)).await.expect("now cached");
    assert_eq!(stub.lookups(), (1, 1));
    let error = verify(&auth, &token(&old))
        .await
        .expect_err("the old key is gone");
    assert!(matches!(error, AuthError::UnknownKey { .. }), "{error:?}");
}

#[tokio::test]
async fn bad_signatures_cannot_make_the_cache_look_a_did_up_again_and_again() {
    let signer = Signer::k256(21);
    let stub = std::sync::Arc::new(Stub::with(document(ISSUER, &signer.public())));
    let cache = CachingResolver::new(stub.clone()).with_refresh_interval(Duration::from_secs(600));
    let auth = ServiceAuth::new(did(SERVICE), cache);
    let forged = token(&Signer::k256(99));
    for _ in 0..5 {
        let error = verify(&auth, &forged).await.expect_err("forged");
        assert!(matches!(error, AuthError::BadSignature { .. }), "{error:?}");
    }
    assert_eq!(
        stub.lookups(),
        (1, 0),
        "the copy fetched moments ago stands in for a fresh lookup"
    );
}

#[tokio::test]
async fn the_cache_keeps_documents_for_their_time_to_live_and_no_more_than_its_capacity() {
    let key = Signer::k256(3).public();
    let dids = [
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb",
        "did:plc:cccccccccccccccccccccccc",
    ];
    let stub = Stub::default();
    for d in dids {
        stub.set(document(d, &key));
    }
    let cache = CachingResolver::new(stub)
        .with_ttl(Duration::from_secs(2))
        .with_capacity(2);
    for d in dids {
        cache.resolve(&did(d)).await.expect("resolved");
        // A little apart, so that "oldest" is well defined.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(cache.inner().lookups(), (3, 0));
    assert_eq!(cache.len(), 2, "the capacity holds");
    // The first was pushed out, the two others are still there.
    cache.resolve(&did(dids[2])).await.expect("cached");
    cache.resolve(&did(dids[1])).await.expect("cached");
    assert_eq!(cache.inner().lookups(), (3, 0));
    cache.resolve(&did(dids[0])).await.expect("looked up again");
    assert_eq!(cache.inner().lookups(), (4, 0));

    // Past the time to live, a document is looked up again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    cache
        .resolve(&did(dids[0]))
        .await
        .expect("expired, looked up");
    assert_eq!(cache.inner().lookups(), (5, 0));

    // forget() drops one at once; failed lookups are not kept.
    cache.forget(dids[0]);
    cache.resolve(&did(dids[0])).await.expect("looked up");
    assert_eq!(cache.inner().lookups(), (6, 0));
    let missing = did("did:plc:dddddddddddddddddddddddd");
    assert!(cache.resolve(&missing).await.is_err());
    assert!(cache.resolve(&missing).await.is_err());
    assert_eq!(cache.inner().lookups(), (8, 0));
}

// ---------------------------------------------------------------------------------------------
// Keys

#[test]
fn keys_round_trip_through_multikey_and_did_key() {
    for signer in [Signer::k256(5), Signer::p256(5)] {
        let key = signer.public();
        let did_key = key.to_did_key();
        let expected_start = match key.key_type() {
            KeyType::Secp256k1 => "did:key:zQ3s",
            KeyType::P256 => "did:key:zDna",
        };
        assert!(did_key.starts_with(expected_start), "{did_key}");
        assert_eq!(PublicKey::from_did_key(&did_key), Ok(key.clone()));
        assert_eq!(
            PublicKey::from_multikey(&key.to_multikey()),
            Ok(key.clone())
        );
        assert_eq!(format!("{key}"), did_key);
        assert_eq!(format!("{key:?}"), format!("PublicKey({did_key})"));
    }
    assert!(PublicKey::from_did_key("did:web:example.com").is_err());
    assert!(PublicKey::from_multikey("").is_err());
    assert!(PublicKey::from_multikey("z").is_err());
}

// ---------------------------------------------------------------------------------------------
// The HTTP resolver

/// Answers every request with one canned response, recording the URLs asked for.
struct Fixed {
    status: u16,
    body: Vec<u8>,
    urls: Mutex<Vec<String>>,
}

impl Transport for Fixed {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.urls
            .lock()
            .expect("not poisoned")
            .push(request.url.clone());
        let response = HttpResponse {
            status: self.status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: self.body.clone(),
        };
        Box::pin(async move { Ok(response) })
    }
}

fn canned(status: u16, body: &Value) -> HttpResolver<Fixed> {
    HttpResolver::with_transport(Fixed {
        status,
        body: body.to_string().into_bytes(),
        urls: Mutex::new(Vec::new()),
    })
}

#[test]
fn documents_are_fetched_from_the_plc_directory_or_the_web_host() {
    let resolver = canned(200, &json!({}))
        .with_plc_url("http://127.0.0.1:2582/")
        .with_localhost(true);
    let url = |text: &str| resolver.document_url(&Did::from_unchecked(text));
    assert_eq!(
        url(ISSUER).expect("plc"),
        format!("http://127.0.0.1:2582/{ISSUER}")
    );
    assert_eq!(
        url("did:web:feed.example.com").expect("web"),
        "https://feed.example.com/.well-known/did.json"
    );
    assert_eq!(
        url("did:web:localhost%3A8080").expect("localhost with a port"),
        "http://localhost:8080/.well-known/did.json"
    );
    assert_eq!(
        url("did:web:localhost").expect("localhost"),
        "http://localhost/.well-known/did.json"
    );
    assert_eq!(
        HttpResolver::with_transport(Fixed {
            status: 200,
            body: Vec::new(),
            urls: Mutex::new(Vec::new())
        })
        .document_url(&did(ISSUER))
        .expect("plc"),
        format!("https://plc.directory/{ISSUER}")
    );
    for refused in [
        "did:web:example.com:users:alice",
        "did:web:example.com%3A8443",
        "did:web:evil.example%2Fpath",
        "did:web:evil.example%40other.example",
        "did:web:-bad.example",
        "did:web:localhost%3A99999",
        "did:web:10.0.0.1",
        "did:web:127.0.0.1",
        "did:web:intranet",
        "did:web:evil.localhost",
        "did:web:localhost%3A",
        "did:plc:short",
        "did:plc:ABCDEFGHIJKLMNOPQRSTUVWX",
        "did:plc:abcdefghijklmnopqrstuvw1",
        "did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc",
        "did:example:123",
        "not a did",
    ] {
        match url(refused) {
            Err(ResolveError::Unsupported { did, reason }) => {
                assert_eq!(did, refused);
                assert!(!reason.is_empty());
            }
            other => panic!("{refused}: expected Unsupported, got {other:?}"),
        }
    }
    // localhost only when allowed: a token's iss must not point the server at its loopback.
    let default = canned(200, &json!({}));
    for local in ["did:web:localhost", "did:web:localhost%3A8080"] {
        let error = default
            .document_url(&did(local))
            .expect_err("localhost is off by default");
        assert!(
            matches!(error, ResolveError::Unsupported { .. }),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn the_http_resolver_reads_documents_and_says_what_went_wrong() {
    let key = Signer::k256(3).public();
    let good = serde_json::to_value(document(ISSUER, &key)).expect("JSON");
    let resolver = canned(200, &good).with_plc_url("http://plc.test");
    let read = resolver.resolve(&did(ISSUER)).await.expect("read");
    assert_eq!(read.signing_key(), Ok(key.clone()));
    assert_eq!(
        read.service_endpoint("atproto_pds"),
        Some("https://pds.example.com")
    );
    assert_eq!(read.handle(), Some("alice.test"));

    let cases: Vec<(HttpResolver<Fixed>, &str)> = vec![
        (
            canned(404, &json!({"message": "DID not registered"})),
            "NotFound",
        ),
        (
            canned(410, &json!({"message": "DID not available"})),
            "NotFound",
        ),
        (canned(500, &json!({})), "Status"),
        (canned(200, &json!({"no": "id"})), "Document"),
        (canned(200, &json!(["a list"])), "Document"),
        (
            canned(
                200,
                &serde_json::to_value(document("did:plc:zzzzzzzzzzzzzzzzzzzzzzzz", &key))
                    .expect("JSON"),
            ),
            "Document",
        ),
    ];
    for (resolver, expected) in cases {
        let error = resolver.resolve(&did(ISSUER)).await.expect_err(expected);
        let kind = match &error {
            ResolveError::NotFound { .. } => "NotFound",
            ResolveError::Status { .. } => "Status",
            ResolveError::Document { .. } => "Document",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(kind, expected, "{error}");
        assert_eq!(error.did(), ISSUER);
    }

    // Nothing listens on port 9 of 127.0.0.1: a transport error, not a panic.
    let unreachable = HttpResolver::new()
        .with_plc_url("http://127.0.0.1:9")
        .with_timeout(Duration::from_secs(5));
    let error = unreachable
        .resolve(&did(ISSUER))
        .await
        .expect_err("no server");
    assert!(matches!(error, ResolveError::Transport { .. }), "{error:?}");
}

#[tokio::test]
async fn a_did_web_issuer_is_resolved_from_its_host() {
    // The issuer is did:web:localhost%3A{port}; its document is served by a local listener,
    // bound first since the document names the port.
    let signer = Signer::p256(31);
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = socket.local_addr().expect("an address").port();
    let issuer = format!("did:web:localhost%3A{port}");
    let served = serde_json::to_value(document(&issuer, &signer.public())).expect("JSON");
    let listener = Listener::serve(socket, vec![Canned::json(200, &served)]).expect("serving");
    let resolver = HttpResolver::new().with_localhost(true);
    let auth = ServiceAuth::new(did(SERVICE), CachingResolver::new(resolver));
    let jwt = token_with(
        &signer,
        &header(&signer),
        &claims_with(&json!({"iss": issuer})),
        false,
    );
    let caller = verify(&auth, &jwt).await.expect("verified through did:web");
    assert_eq!(caller.did.as_str(), issuer);
    let request = listener.next_request().expect("the document was asked for");
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/.well-known/did.json");
}
