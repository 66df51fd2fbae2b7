//! The generated createSession types against the example login request and response
//! (the shape of `shared/seed/createSession.example.json`, kept here so the test runs anywhere).

use atproto_api::com::atproto::server::create_session::{Input, Output, OutputStatus};
use serde_json::{Value, json};

fn request_body() -> Value {
    json!({ "identifier": "alice.bsky.social", "password": "hunter2" })
}

fn response_body() -> Value {
    json!({
        "accessJwt": "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NksifQ.eyJzY29wZSI6ImNvbS5hdHByb3RvLmFjY2VzcyJ9.EXAMPLE_SIGNATURE",
        "refreshJwt": "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NksifQ.eyJzY29wZSI6ImNvbS5hdHByb3RvLnJlZnJlc2gifQ.EXAMPLE_SIGNATURE",
        "handle": "alice.bsky.social",
        "did": "did:plc:z72i7hdynmk6r22z27h6tvur",
        "didDoc": {
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                "https://w3id.org/security/suites/secp256k1-2019/v1"
            ],
            "id": "did:plc:z72i7hdynmk6r22z27h6tvur",
            "alsoKnownAs": ["at://alice.bsky.social"],
            "verificationMethod": [],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://bsky.social"
            }]
        },
        "email": "alice@example.com",
        "emailConfirmed": true,
        "emailAuthFactor": false,
        "active": true
    })
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
