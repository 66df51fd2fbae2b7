//! Service auth against the official PDS (started on 127.0.0.1 by `tests/src/pds.rs`; Node.js
//! and npm needed): the PDS mints tokens for an account with
//! `com.atproto.server.getServiceAuth`, called through the generated client, and our
//! `ServiceAuth` checks them, resolving the account's `did:plc` through the PLC directory the
//! harness runs. A token for another audience or method, an expired one and one signed by
//! another key are refused, each for its own reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atproto_api::com::atproto::server::{create_account, get_service_auth};
use atproto_api::runtime::client::{Client, Error, ReqwestTransport, Session};
use atproto_api::runtime::did::{
    CachingResolver, DidResolver, HttpResolver, KeyType, PublicKey, SignatureError, k256,
};
use atproto_api::runtime::service_auth::{AuthError, ServiceAuth};
use atproto_api::runtime::{Did, Handle, Nsid};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use integration_tests::pds::Pds;

const PASSWORD: &str = "service-auth-password-1";
/// The service the tokens are for: a feed generator of our own.
const SERVICE: &str = "did:web:feed.linkboard.test";
const METHOD: &str = "app.bsky.feed.getFeedSkeleton";

fn shared_pds() -> Arc<Pds> {
    Pds::shared().unwrap_or_else(|error| panic!("cannot start the PDS: {error}"))
}

/// Creates an account on the PDS and logs the client in to it.
async fn new_account(client: &Client<ReqwestTransport>) -> Session {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let handle = Handle::new(format!("svcauth{n}.test")).expect("a valid handle");
    let mut input = create_account::Input::new(handle.clone());
    input.email = Some(format!("svcauth{n}@example.com"));
    input.password = Some(PASSWORD.to_owned());
    client
        .com()
        .atproto()
        .server()
        .create_account(&input)
        .await
        .unwrap_or_else(|error| panic!("createAccount {handle}: {error}"));
    client
        .login(handle.as_str(), PASSWORD)
        .await
        .unwrap_or_else(|error| panic!("login {handle}: {error}"))
}

/// Asks the PDS for a token for `aud` and `lxm`, expiring at `exp` if given.
async fn mint(
    client: &Client<ReqwestTransport>,
    aud: &str,
    lxm: &str,
    exp: Option<i64>,
) -> Result<String, Error<get_service_auth::Error>> {
    let mut params = get_service_auth::Params::new(aud);
    params.lxm = Some(Nsid::new(lxm).expect("a valid NSID"));
    params.exp = exp;
    let output = client
        .com()
        .atproto()
        .server()
        .get_service_auth(&params)
        .await?;
    Ok(output.token)
}

fn unix_now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_secs()).expect("fits")
}

/// Our service's checker, resolving issuers through the harness's PLC directory.
fn service_auth(pds: &Pds) -> ServiceAuth {
    let resolver = HttpResolver::new().with_plc_url(pds.plc_url());
    ServiceAuth::new(
        Did::new(SERVICE).expect("a valid DID"),
        CachingResolver::new(resolver),
    )
}

#[tokio::test]
async fn a_token_the_pds_mints_verifies_and_names_the_account() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client).await;
    let token = mint(&client, SERVICE, METHOD, None)
        .await
        .unwrap_or_else(|error| panic!("getServiceAuth: {error}"));

    let auth = service_auth(&pds);
    let caller = auth
        .verify(&format!("Bearer {token}"), METHOD)
        .await
        .unwrap_or_else(|error| panic!("the PDS's token was refused: {error}"));
    assert_eq!(caller.did, session.did);
    assert_eq!(caller.service, None);
    assert_eq!(caller.aud, SERVICE);
    assert_eq!(caller.lxm.as_deref(), Some(METHOD));
    let now = unix_now();
    assert!(
        caller.exp > now && caller.exp <= now + 120,
        "exp {} is about a minute ahead of {now}",
        caller.exp
    );
    assert!(caller.jti.is_some(), "the PDS writes a nonce");

    // The key that checked it is the account's, as the PLC directory publishes it.
    let resolver = HttpResolver::new().with_plc_url(pds.plc_url());
    let document = resolver
        .resolve(&session.did)
        .await
        .unwrap_or_else(|error| panic!("resolving {}: {error}", session.did));
    assert_eq!(document.id, session.did.as_str());
    let key = document.signing_key().expect("an #atproto key");
    assert_eq!(
        key.key_type(),
        KeyType::Secp256k1,
        "the PDS makes secp256k1 keys"
    );
    assert_eq!(
        document.service_endpoint("atproto_pds"),
        Some(pds.url()),
        "the document names the PDS"
    );
    let header = token.split('.').next().expect("a header");
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(header).expect("base64url")).expect("JSON");
    assert_eq!(header["alg"], "ES256K");
}

#[tokio::test]
async fn tokens_for_another_audience_or_method_are_refused() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    new_account(&client).await;
    let auth = service_auth(&pds);

    let elsewhere = mint(&client, "did:web:elsewhere.linkboard.test", METHOD, None)
        .await
        .expect("a token for another service");
    let error = auth
        .verify(&elsewhere, METHOD)
        .await
        .expect_err("another audience");
    match &error {
        AuthError::WrongAudience { expected, found } => {
            assert_eq!(expected, SERVICE);
            assert_eq!(found, "did:web:elsewhere.linkboard.test");
        }
        other => panic!("expected WrongAudience, got {other:?}"),
    }

    let other_method = mint(&client, SERVICE, "app.bsky.feed.getPosts", None)
        .await
        .expect("a token for another method");
    let error = auth
        .verify(&other_method, METHOD)
        .await
        .expect_err("another method");
    match &error {
        AuthError::WrongMethod { expected, found } => {
            assert_eq!(expected, METHOD);
            assert_eq!(found.as_deref(), Some("app.bsky.feed.getPosts"));
        }
        other => panic!("expected WrongMethod, got {other:?}"),
    }
    // The same token is good for the method it names.
    auth.verify(&other_method, "app.bsky.feed.getPosts")
        .await
        .expect("its own method");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    new_account(&client).await;
    let auth = service_auth(&pds).with_leeway(Duration::ZERO);

    // The PDS refuses to mint a token that has already expired.
    let refused = mint(&client, SERVICE, METHOD, Some(unix_now() - 10))
        .await
        .expect_err("an expiry in the past");
    assert_eq!(refused.status(), Some(400), "{refused}");
    assert!(
        matches!(
            &refused,
            Error::Xrpc {
                error: get_service_auth::Error::BadExpiration { .. },
                ..
            }
        ),
        "{refused:?}"
    );

    // So: a token two seconds long, checked while good and again after.
    let exp = unix_now() + 2;
    let token = mint(&client, SERVICE, METHOD, Some(exp))
        .await
        .expect("a short token");
    let caller = auth.verify(&token, METHOD).await.expect("still good");
    assert_eq!(caller.exp, exp);
    while unix_now() <= exp {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let error = auth.verify(&token, METHOD).await.expect_err("expired");
    assert!(
        matches!(error, AuthError::Expired { exp: e, .. } if e == exp),
        "{error:?}"
    );
    assert_eq!(error.error_name(), "JwtExpired");
}

#[tokio::test]
async fn a_token_re_signed_by_another_key_is_refused() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client).await;
    let token = mint(&client, SERVICE, METHOD, None).await.expect("a token");
    let auth = service_auth(&pds);
    auth.verify(&token, METHOD).await.expect("the real token");

    // The same header and claims, signed by a key that is not the account's.
    let (signed, _) = token.rsplit_once('.').expect("three parts");
    let forger = k256::ecdsa::SigningKey::from_slice(&[42; 32]).expect("a scalar");
    let signature: k256::ecdsa::Signature = {
        use k256::ecdsa::signature::Signer as _;
        forger.sign(signed.as_bytes())
    };
    let forged = format!(
        "{signed}.{}",
        B64.encode(signature.normalize_s().to_bytes())
    );
    let error = auth.verify(&forged, METHOD).await.expect_err("forged");
    match &error {
        AuthError::BadSignature { did, error } => {
            assert_eq!(did, session.did.as_str());
            assert_eq!(*error, SignatureError::Mismatch);
        }
        other => panic!("expected BadSignature, got {other:?}"),
    }
    assert_eq!(error.error_name(), "BadJwtSignature");

    // And a token naming another account, signed by the first: the second account's key
    // does not check it.
    let other_client = Client::with_reqwest(pds.url());
    let other = new_account(&other_client).await;
    let claims_b64 = signed.split_once('.').expect("two parts").1;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(claims_b64).expect("base64url")).expect("JSON");
    claims["iss"] = serde_json::Value::String(other.did.as_str().to_owned());
    let header_b64 = signed.split_once('.').expect("two parts").0;
    let impersonating = format!("{header_b64}.{}", B64.encode(claims.to_string()));
    // Signed with a key the test holds, standing in for the first account's: either way it is
    // not the second account's key.
    let signature: k256::ecdsa::Signature = {
        use k256::ecdsa::signature::Signer as _;
        forger.sign(impersonating.as_bytes())
    };
    let impersonating = format!(
        "{impersonating}.{}",
        B64.encode(signature.normalize_s().to_bytes())
    );
    let error = auth
        .verify(&impersonating, METHOD)
        .await
        .expect_err("impersonation");
    assert!(
        matches!(&error, AuthError::BadSignature { did, .. } if did == other.did.as_str()),
        "{error:?}"
    );
    // The forger's key is a valid key, just not the one the directory publishes.
    let forger_key = PublicKey::Secp256k1(*forger.verifying_key());
    assert_ne!(
        Some(forger_key),
        HttpResolver::new()
            .with_plc_url(pds.plc_url())
            .resolve(&other.did)
            .await
            .ok()
            .and_then(|document| document.signing_key().ok())
    );
}
