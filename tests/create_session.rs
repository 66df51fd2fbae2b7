//! The generated createSession types against the seed example: `seed/createSession.example.json`
//! beside this file is `shared/seed/createSession.example.json` byte for byte, committed so that
//! the test runs anywhere and cannot drift into a shortened copy.

use atproto_api::com::atproto::server::create_session::{Input, Output, OutputStatus};
use integration_tests::http::{Canned, Listener};
use serde_json::{Value, json};

const SEED: &str = include_str!("seed/createSession.example.json");

fn seed() -> Value {
    serde_json::from_str(SEED).expect("the seed example is JSON")
}

fn request_body() -> Value {
    seed()["request"]["body"].clone()
}

fn response_body() -> Value {
    seed()["response"]["body"].clone()
}

#[test]
fn the_committed_seed_is_the_shared_one_byte_for_byte() {
    // The shared folder sits beside the project root (CI lays it out the same way).
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/seed/createSession.example.json"
    );
    match std::fs::read(shared) {
        Ok(bytes) => assert!(bytes == SEED.as_bytes(), "tests/seed differs from {shared}"),
        Err(error) => panic!("the shared seed example must be readable at {shared}: {error}"),
    }
}

/// The request the generated client sends, seen on the wire, is the seed's request: method,
/// path, content type and body; the seed's response comes back typed and whole.
#[tokio::test]
async fn the_client_sends_the_seed_request_and_reads_the_seed_response() {
    let seed = seed();
    let response = &seed["response"];
    let canned = Canned {
        status: u16::try_from(response["status"].as_u64().unwrap()).unwrap(),
        content_type: "application/json",
        body: response["body"].to_string().into_bytes(),
    };
    assert_eq!(response["headers"]["Content-Type"], canned.content_type);
    let listener = Listener::start(vec![canned]).unwrap();
    let client = atproto_api::runtime::client::Client::with_reqwest(listener.url.clone());

    let input: Input = serde_json::from_value(request_body()).unwrap();
    let output = client
        .com()
        .atproto()
        .server()
        .create_session(&input)
        .await
        .unwrap();

    let request = listener
        .next_request()
        .expect("the listener saw the request");
    let (method, url) = seed["endpoint"].as_str().unwrap().split_once(' ').unwrap();
    let path = &url[url.find("/xrpc/").expect("an XRPC endpoint")..];
    assert_eq!(request.method, method);
    assert_eq!(request.target, path);
    assert_eq!(
        request.header("content-type"),
        seed["request"]["headers"]["Content-Type"].as_str()
    );
    let sent: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sent, request_body());
    assert_eq!(serde_json::to_value(&output).unwrap(), response_body());
}

#[test]
fn input_serializes_to_the_request_body() {
    let input = Input::new("alice.bsky.social", "hunter2");
    assert_eq!(serde_json::to_value(&input).unwrap(), request_body());
    let read: Input = serde_json::from_value(request_body()).unwrap();
    assert_eq!(read, input);
}

#[test]
fn output_reads_every_field_typed_and_writes_back_equal_json() {
    let output: Output = serde_json::from_value(response_body()).unwrap();
    assert!(output.access_jwt.ends_with("EXAMPLE_SIGNATURE"));
    assert!(output.refresh_jwt.starts_with("eyJ"));
    assert_eq!(output.handle.as_str(), "alice.bsky.social");
    assert!(output.handle.is_valid());
    assert_eq!(output.did.as_str(), "did:plc:z72i7hdynmk6r22z27h6tvur");
    assert!(output.did.is_valid());
    let did_doc = output.did_doc.as_ref().expect("didDoc is present");
    assert_eq!(
        did_doc.get("id"),
        Some(&json!("did:plc:z72i7hdynmk6r22z27h6tvur"))
    );
    assert_eq!(output.email.as_deref(), Some("alice@example.com"));
    assert_eq!(output.email_confirmed, Some(true));
    assert_eq!(output.email_auth_factor, Some(false));
    assert_eq!(output.active, Some(true));
    assert_eq!(output.status, None);
    assert!(
        output.extra.is_empty(),
        "every field of the example is typed, none is extra"
    );
    assert_eq!(serde_json::to_value(&output).unwrap(), response_body());
}

#[test]
fn status_keeps_unknown_values() {
    let mut body = response_body();
    body["active"] = json!(false);
    body["status"] = json!("deactivated");
    let output: Output = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(output.status, Some(OutputStatus::Deactivated));

    body["status"] = json!("on-vacation");
    let output: Output = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(
        output.status,
        Some(OutputStatus::Other("on-vacation".into()))
    );
    assert_eq!(serde_json::to_value(&output).unwrap(), body);
}

#[test]
fn fields_unknown_to_the_lexicon_are_kept() {
    let mut body = response_body();
    body["someFutureField"] = json!({ "nested": [1, 2, 3] });
    let output: Output = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(
        output.extra.get("someFutureField"),
        Some(&json!({ "nested": [1, 2, 3] }))
    );
    assert_eq!(serde_json::to_value(&output).unwrap(), body);
}

#[test]
fn a_missing_required_field_is_an_error() {
    let mut body = response_body();
    body.as_object_mut().unwrap().remove("accessJwt");
    let error = serde_json::from_value::<Output>(body).unwrap_err();
    assert!(error.to_string().contains("accessJwt"), "{error}");
}

/// Credentials never reach logs through `Debug` (the choice of fields: `codegen::secrets`).
#[test]
fn debug_redacts_credentials_and_keeps_the_rest() {
    let input: Input = serde_json::from_value(request_body()).unwrap();
    let printed = format!("{input:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("alice.bsky.social"), "{printed}");

    let output: Output = serde_json::from_value(response_body()).unwrap();
    let printed = format!("{output:?}");
    assert!(!printed.contains("EXAMPLE_SIGNATURE"), "{printed}");
    assert!(
        printed.contains("did:plc:z72i7hdynmk6r22z27h6tvur"),
        "{printed}"
    );

    use atproto_api::com::atproto::server::create_account;
    let signup: create_account::Input = serde_json::from_value(json!({
        "handle": "alice.test",
        "password": "hunter2",
        "inviteCode": "bsky-social-abcde-fghij",
        "verificationCode": "123456",
        "recoveryKey": "did:key:zQ3shPublicRotationKey",
    }))
    .unwrap();
    let printed = format!("{signup:?}");
    for secret in ["hunter2", "bsky-social-abcde-fghij", "123456"] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
    }
    // A recovery key here is the public rotation key put into the PLC operation.
    assert!(
        printed.contains("did:key:zQ3shPublicRotationKey"),
        "{printed}"
    );
}
