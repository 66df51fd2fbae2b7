//! The generated createSession method on the wire, against a local HTTP listener:
//! method, path, headers and body going out; typed output and typed errors coming back.

use atproto_api::com::atproto::server::create_session::{Error as CreateSessionError, Input};
use atproto_api::runtime::client::{Client, Error};
use integration_tests::http::{Canned, Listener};
use serde_json::json;

fn session_json() -> serde_json::Value {
    json!({
        "accessJwt": "access-token",
        "refreshJwt": "refresh-token",
        "handle": "alice.test",
        "did": "did:plc:abcdefghijklmnopqrstuvwx",
        "active": true
    })
}

#[tokio::test]
async fn create_session_posts_json_and_reads_the_session() {
    let listener = Listener::start(vec![Canned::json(200, &session_json())]).unwrap();
    let client = Client::with_reqwest(format!("{}/", listener.url));

    let output = client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("alice.test", "hunter2"))
        .await
        .unwrap();

    let request = listener
        .next_request()
        .expect("the listener saw the request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/xrpc/com.atproto.server.createSession");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(
        request.header("authorization"),
        None,
        "no token before login"
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({ "identifier": "alice.test", "password": "hunter2" })
    );

    assert_eq!(output.access_jwt, "access-token");
    assert_eq!(output.handle.as_str(), "alice.test");
    assert_eq!(output.did.as_str(), "did:plc:abcdefghijklmnopqrstuvwx");
    assert_eq!(output.active, Some(true));
}

#[tokio::test]
async fn bearer_token_is_sent_once_set() {
    let listener = Listener::start(vec![Canned::json(200, &session_json())]).unwrap();
    let client = Client::with_reqwest(listener.url.clone());
    client.set_bearer_token(Some("secret-token".into()));
    client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("alice.test", "pw"))
        .await
        .unwrap();
    let request = listener.next_request().unwrap();
    assert_eq!(request.header("authorization"), Some("Bearer secret-token"));
    assert!(
        !format!("{client:?}").contains("secret-token"),
        "Debug must not print the token"
    );
}

#[tokio::test]
async fn declared_errors_are_typed_and_others_keep_name_and_message() {
    let listener = Listener::start(vec![
        Canned::json(400, &json!({ "error": "AccountTakedown", "message": "gone" })),
        Canned::json(401, &json!({ "error": "AuthenticationRequired", "message": "Invalid identifier or password" })),
        Canned { status: 502, content_type: "text/html", body: b"<html>Bad gateway</html>".to_vec() },
    ])
    .unwrap();
    let client = Client::with_reqwest(listener.url.clone());
    let server = client.com().atproto().server();
    let input = Input::new("alice.test", "wrong");

    match server.create_session(&input).await {
        Err(Error::Xrpc {
            status: 400,
            error: CreateSessionError::AccountTakedown { message },
        }) => {
            assert_eq!(message.as_deref(), Some("gone"))
        }
        other => panic!("expected AccountTakedown, got {other:?}"),
    }
    match server.create_session(&input).await {
        Err(Error::Xrpc {
            status: 401,
            error: CreateSessionError::Other { error, message },
        }) => {
            assert_eq!(error, "AuthenticationRequired");
            assert_eq!(message.as_deref(), Some("Invalid identifier or password"));
        }
        other => panic!("expected a fallback error, got {other:?}"),
    }
    match server.create_session(&input).await {
        Err(Error::Xrpc {
            status: 502,
            error: CreateSessionError::Other { error, message },
        }) => {
            assert_eq!(error, "UpstreamFailure");
            assert_eq!(message.as_deref(), Some("<html>Bad gateway</html>"));
        }
        other => panic!("expected a non-JSON error to be kept, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_that_does_not_match_the_output_is_a_decode_error() {
    let listener = Listener::start(vec![Canned::json(200, &json!({ "accessJwt": 5 }))]).unwrap();
    let client = Client::with_reqwest(listener.url.clone());
    match client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("a", "b"))
        .await
    {
        Err(Error::Decode {
            status: 200,
            message,
        }) => assert!(message.contains("invalid type"), "{message}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::with_reqwest(format!("http://127.0.0.1:{port}"));
    let result = client
        .com()
        .atproto()
        .server()
        .create_session(&Input::new("a", "b"))
        .await;
    assert!(matches!(result, Err(Error::Transport(_))), "{result:?}");
}
