//! The generated client against the official PDS, started on 127.0.0.1 by the harness in
//! `tests/src/pds.rs` (Node.js and npm needed: without them these tests fail saying what to
//! install). The tests share one PDS (each with its own account) except the expired-token
//! test, which needs short-lived tokens and starts its own.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atproto_api::app::bsky::embed::images;
use atproto_api::app::bsky::feed::post;
use atproto_api::com::atproto::repo::{
    create_record, delete_record, get_record, list_records, put_record,
};
use atproto_api::com::atproto::server::{create_account, create_session};
use atproto_api::com::atproto::sync::{get_blob, get_repo};
use atproto_api::runtime::client::{
    BoxFuture, Client, Error, HttpRequest, HttpResponse, ReqwestTransport, Session, Transport,
    TransportError, TransportErrorKind, XrpcError,
};
use atproto_api::runtime::{AtIdentifier, Blob, Datetime, Handle, Nsid, RecordKey, Unknown};
use integration_tests::PNG;
use integration_tests::pds::{Pds, PdsOptions};
use lexicon_fixtures::com::example::lexgen::note;

const PASSWORD: &str = "e2e-password-1";

fn shared_pds() -> Arc<Pds> {
    Pds::shared().unwrap_or_else(|error| panic!("cannot start the PDS: {error}"))
}

/// A handle no other test of this process uses: `<prefix><n>.test`.
fn unique_handle(prefix: &str) -> Handle {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Handle::new(format!("{prefix}{n}.test")).expect("a valid handle")
}

/// Creates an account (through the generated createAccount) and logs in to it.
async fn new_account<T: Transport>(client: &Client<T>, prefix: &str) -> Session {
    let handle = unique_handle(prefix);
    let mut input = create_account::Input::new(handle.clone());
    input.email = Some(format!("{}@example.com", handle.as_str()));
    input.password = Some(PASSWORD.to_owned());
    let created = client
        .com()
        .atproto()
        .server()
        .create_account(&input)
        .await
        .unwrap_or_else(|error| panic!("createAccount {handle}: {error}"));
    assert_eq!(created.handle, handle);
    let session = client
        .login(handle.as_str(), PASSWORD)
        .await
        .unwrap_or_else(|error| panic!("login {handle}: {error}"));
    assert_eq!(session.did, created.did);
    session
}

fn me(session: &Session) -> AtIdentifier {
    session.did.clone().into()
}

fn nsid(text: &str) -> Nsid {
    Nsid::new(text).expect("a valid NSID")
}

fn rkey_of(uri: &str) -> RecordKey {
    RecordKey::new(uri.rsplit('/').next().unwrap_or_default()).expect("a record key")
}

fn note(title: &str) -> note::Record {
    // The note's crate (the test fixtures) has a runtime of its own, so its own `Datetime`.
    let mut note = note::Record::new(title, lexicon_fixtures::runtime::Datetime::now());
    note.body = Some(format!("The body of {title}."));
    note.tags = Some(vec!["e2e".into(), "lexgen".into()]);
    note.status = Some(note::RecordStatus::Draft);
    note
}

/// The same blob reference, in the note's crate's own runtime type.
fn attachment(blob: &atproto_api::runtime::Blob) -> lexicon_fixtures::runtime::Blob {
    serde_json::from_value(serde_json::to_value(blob).unwrap()).unwrap()
}

async fn create<T: Transport, R: serde::Serialize>(
    client: &Client<T>,
    session: &Session,
    collection: &str,
    rkey: Option<&str>,
    record: &R,
) -> create_record::Output {
    let mut input = create_record::Input::new(
        me(session),
        nsid(collection),
        Unknown::from_typed(record).expect("a record is an object"),
    );
    input.rkey = rkey.map(|key| RecordKey::new(key).expect("a record key"));
    client
        .com()
        .atproto()
        .repo()
        .create_record(&input)
        .await
        .unwrap_or_else(|error| panic!("createRecord in {collection}: {error}"))
}

async fn get<T: Transport>(
    client: &Client<T>,
    session: &Session,
    collection: &str,
    rkey: &RecordKey,
) -> Result<get_record::Output, Error<get_record::Error>> {
    let params = get_record::Params::new(me(session), nsid(collection), rkey.clone());
    client.com().atproto().repo().get_record(&params).await
}

#[tokio::test]
async fn describe_server_lists_the_test_domain() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let server = client
        .com()
        .atproto()
        .server()
        .describe_server()
        .await
        .unwrap();
    assert!(
        server.available_user_domains.iter().any(|d| d == ".test"),
        "{:?}",
        server.available_user_domains
    );
    assert!(server.did.as_str().starts_with("did:"), "{}", server.did);
    assert_eq!(server.invite_code_required, Some(false));
}

#[tokio::test]
async fn create_account_login_get_session_and_refresh() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "sess").await;

    let server = client.com().atproto().server();
    let current = server.get_session().await.unwrap();
    assert_eq!(current.did, session.did);
    assert_eq!(current.handle, session.handle);
    assert_eq!(
        current.email.as_deref(),
        Some(format!("{}@example.com", session.handle).as_str())
    );

    // The generated createSession gives the same account, with every field typed.
    let output = server
        .create_session(&create_session::Input::new(
            session.handle.as_str(),
            PASSWORD,
        ))
        .await
        .unwrap();
    assert_eq!(output.did, session.did);
    assert_eq!(output.active, Some(true));
    assert!(output.did_doc.is_some(), "the harness asks for didDoc");

    // An explicit refresh, then the generated refreshSession: each gives new tokens, and the
    // client keeps them.
    let refreshed = client.refresh().await.unwrap();
    assert_ne!(refreshed.refresh_jwt, session.refresh_jwt);
    assert_eq!(refreshed.did, session.did);
    let again = server.refresh_session().await.unwrap();
    assert_ne!(again.refresh_jwt, refreshed.refresh_jwt);
    assert_eq!(client.session().unwrap().access_jwt, again.access_jwt);
    assert_eq!(server.get_session().await.unwrap().did, session.did);
}

#[tokio::test]
async fn a_wrong_password_is_a_typed_error() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "pw").await;
    client.set_session(None);

    match client
        .login(session.handle.as_str(), "not-the-password")
        .await
    {
        Err(Error::Xrpc {
            status: 401,
            error: XrpcError { error, message },
        }) => {
            assert_eq!(error, "AuthenticationRequired");
            assert!(message.is_some());
        }
        other => panic!("expected AuthenticationRequired, got {other:?}"),
    }
    assert_eq!(client.session(), None);

    let input = create_session::Input::new(session.handle.as_str(), "not-the-password");
    match client.com().atproto().server().create_session(&input).await {
        Err(Error::Xrpc {
            status: 401,
            error: create_session::Error::Other { error, .. },
        }) => assert_eq!(error, "AuthenticationRequired"),
        other => panic!("expected AuthenticationRequired, got {other:?}"),
    }
}

#[tokio::test]
async fn a_post_is_created_and_read_back_typed() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "post").await;

    let mut record = post::Record::new("Hello from the generated client 👋", Datetime::now());
    record.langs = Some(vec!["en".parse().unwrap()]);
    record.tags = Some(vec!["e2e".into()]);
    let created = create(&client, &session, post::Record::NSID, None, &record).await;
    assert_eq!(
        created.validation_status,
        Some(create_record::OutputValidationStatus::Valid),
        "the PDS knows app.bsky.feed.post and checks it"
    );
    let rkey = rkey_of(created.uri.as_str());
    assert!(
        atproto_api::runtime::Tid::is_valid_str(rkey.as_str()),
        "{rkey}"
    );

    let fetched = get(&client, &session, post::Record::NSID, &rkey)
        .await
        .unwrap();
    assert_eq!(fetched.uri, created.uri);
    assert_eq!(fetched.cid.as_ref(), Some(&created.cid));
    assert_eq!(fetched.value.type_name(), Some(post::Record::NSID));
    let read: post::Record = fetched.value.into_typed().unwrap();
    assert_eq!(read, record);
}

#[tokio::test]
async fn a_custom_record_is_created_replaced_and_deleted() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "note").await;
    let repo = client.com().atproto().repo();

    let first = note("First draft");
    let created = create(&client, &session, note::Record::NSID, Some("first"), &first).await;
    assert!(
        created
            .uri
            .as_str()
            .ends_with("/com.example.lexgen.note/first")
    );
    assert_eq!(
        created.validation_status,
        Some(create_record::OutputValidationStatus::Unknown),
        "the PDS does not know our lexicon"
    );
    let rkey = RecordKey::new("first").unwrap();
    let read: note::Record = get(&client, &session, note::Record::NSID, &rkey)
        .await
        .unwrap()
        .value
        .into_typed()
        .unwrap();
    assert_eq!(read, first);

    // putRecord replaces it, and can point at the record it replaces.
    let mut second = note("Final version");
    second.status = Some(note::RecordStatus::Published);
    second.priority = Some(3);
    let mut input = put_record::Input::new(
        me(&session),
        nsid(note::Record::NSID),
        rkey.clone(),
        Unknown::from_typed(&second).unwrap(),
    );
    input.swap_record = Some(Some(created.cid.clone()));
    let put = repo.put_record(&input).await.unwrap();
    assert_eq!(put.uri, created.uri);
    assert_ne!(put.cid, created.cid);
    let read: note::Record = get(&client, &session, note::Record::NSID, &rkey)
        .await
        .unwrap()
        .value
        .into_typed()
        .unwrap();
    assert_eq!(read, second);

    // Swapping from a CID that is no longer current is the declared InvalidSwap error. (The
    // record must differ: the PDS answers a put of the current record without looking.)
    second.title = "Not written".into();
    input.record = Unknown::from_typed(&second).unwrap();
    match repo.put_record(&input).await {
        Err(Error::Xrpc {
            error: put_record::Error::InvalidSwap { .. },
            ..
        }) => {}
        other => panic!("expected InvalidSwap, got {other:?}"),
    }

    repo.delete_record(&delete_record::Input::new(
        me(&session),
        nsid(note::Record::NSID),
        rkey.clone(),
    ))
    .await
    .unwrap();
    match get(&client, &session, note::Record::NSID, &rkey).await {
        Err(Error::Xrpc {
            status: 400,
            error: get_record::Error::RecordNotFound { .. },
        }) => {}
        other => panic!("expected RecordNotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn list_records_pages_with_the_cursor_to_the_end() {
    const RECORDS: usize = 11;
    const PAGE: i64 = 4;
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "list").await;

    let mut expected = Vec::new();
    for i in 0..RECORDS {
        let key = format!("n{i:02}");
        let created = create(
            &client,
            &session,
            note::Record::NSID,
            Some(&key),
            &note(&format!("Note {i}")),
        )
        .await;
        expected.push(created.uri.to_string());
    }

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut params = list_records::Params::new(me(&session), nsid(note::Record::NSID));
    params.limit = Some(PAGE);
    loop {
        pages += 1;
        assert!(pages <= RECORDS, "the cursor never ends");
        let page = client
            .com()
            .atproto()
            .repo()
            .list_records(&params)
            .await
            .unwrap();
        assert!(page.records.len() <= PAGE as usize);
        for record in &page.records {
            let read: note::Record = record.value.to_typed().unwrap();
            assert!(read.title.starts_with("Note "), "{}", read.title);
            seen.push(record.uri.to_string());
        }
        match page.cursor {
            Some(cursor) if !page.records.is_empty() => params.cursor = Some(cursor),
            _ => break,
        }
    }
    // Newest first by default; each record once.
    expected.reverse();
    assert_eq!(seen, expected);
    assert!(pages >= RECORDS.div_ceil(PAGE as usize), "{pages} pages");
}

#[tokio::test]
async fn blobs_upload_are_referenced_and_download_unchanged() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "blob").await;
    let repo = client.com().atproto().repo();

    // A text attachment on our own record type.
    let text = "Some notes, attached.\n".repeat(40).into_bytes();
    let uploaded = repo
        .upload_blob(text.clone(), "text/plain")
        .await
        .unwrap()
        .blob;
    assert_eq!(uploaded.mime_type, "text/plain");
    assert_eq!(uploaded.size, text.len() as u64);
    assert!(!uploaded.is_legacy());
    let mut with_file = note("With a file");
    let attachment = attachment(&uploaded);
    with_file.attachment = Some(attachment.clone());
    let created = create(&client, &session, note::Record::NSID, None, &with_file).await;
    let read: note::Record = get(
        &client,
        &session,
        note::Record::NSID,
        &rkey_of(created.uri.as_str()),
    )
    .await
    .unwrap()
    .value
    .into_typed()
    .unwrap();
    assert_eq!(read.attachment.as_ref(), Some(&attachment));
    assert_downloads(&client, &session, &uploaded, &text).await;

    // An image in a post: the PDS checks the embed (a union member) and the blob against the
    // app.bsky lexicons.
    let image = repo
        .upload_blob(PNG.to_vec(), "image/png")
        .await
        .unwrap()
        .blob;
    assert_eq!(image.mime_type, "image/png");
    let mut record = post::Record::new("A picture", Datetime::now());
    record.embed = Some(post::RecordEmbed::Images(Box::new(images::Main::new(
        vec![images::Image::new(image.clone(), "a single pixel")],
    ))));
    let created = create(&client, &session, post::Record::NSID, None, &record).await;
    assert_eq!(
        created.validation_status,
        Some(create_record::OutputValidationStatus::Valid)
    );
    let read: post::Record = get(
        &client,
        &session,
        post::Record::NSID,
        &rkey_of(created.uri.as_str()),
    )
    .await
    .unwrap()
    .value
    .into_typed()
    .unwrap();
    assert_eq!(read, record);
    assert_downloads(&client, &session, &image, PNG).await;
}

async fn assert_downloads<T: Transport>(
    client: &Client<T>,
    session: &Session,
    blob: &Blob,
    bytes: &[u8],
) {
    let params = get_blob::Params::new(session.did.clone(), blob.cid().clone());
    let raw = client
        .com()
        .atproto()
        .sync()
        .get_blob(&params)
        .await
        .unwrap();
    assert_eq!(raw.bytes, bytes);
    let content_type = raw.content_type.unwrap_or_default();
    assert!(
        content_type.starts_with(&blob.mime_type),
        "content type {content_type:?} for a {} blob",
        blob.mime_type
    );
}

#[tokio::test]
async fn get_repo_returns_the_car_file() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "car").await;
    create(
        &client,
        &session,
        note::Record::NSID,
        None,
        &note("In the CAR"),
    )
    .await;

    let car = client
        .com()
        .atproto()
        .sync()
        .get_repo(&get_repo::Params::new(session.did.clone()))
        .await
        .unwrap();
    assert_eq!(
        car.content_type.as_deref(),
        Some("application/vnd.ipld.car")
    );
    // A CAR v1 starts with the varint length of its DAG-CBOR header {roots, version: 1}.
    assert!(car.bytes.len() > 100, "{} bytes", car.bytes.len());
    let header = &car.bytes[1..usize::from(car.bytes[0]) + 1];
    assert!(
        header.windows(7).any(|w| w == b"version"),
        "{:?}",
        String::from_utf8_lossy(header)
    );
    // The record we wrote is in it.
    assert!(car.bytes.windows(10).any(|w| w == b"In the CAR"));
}

/// Counts what goes through a transport.
#[derive(Default)]
struct Counts {
    refreshes: AtomicUsize,
    expired: AtomicUsize,
    log: Mutex<Vec<String>>,
}

struct Counting {
    inner: ReqwestTransport,
    counts: Arc<Counts>,
}

impl Transport for Counting {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let nsid = request
                .url
                .split("/xrpc/")
                .nth(1)
                .and_then(|rest| rest.split('?').next())
                .unwrap_or_default()
                .to_owned();
            if nsid == "com.atproto.server.refreshSession" {
                self.counts.refreshes.fetch_add(1, Ordering::SeqCst);
            }
            let response = self.inner.send(request).await?;
            let error = serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|body| body["error"].as_str().map(str::to_owned));
            if error.as_deref() == Some("ExpiredToken") {
                self.counts.expired.fetch_add(1, Ordering::SeqCst);
            }
            self.counts.log.lock().unwrap().push(format!(
                "{nsid} -> {} {}",
                response.status,
                error.unwrap_or_default()
            ));
            Ok(response)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_access_token_is_refreshed_once_for_many_calls() {
    const CALLS: usize = 8;
    let lifetime = Duration::from_secs(2);
    let pds = Pds::start_with(&PdsOptions::default().access_token_lifetime(lifetime))
        .unwrap_or_else(|error| panic!("cannot start the PDS: {error}"));
    let counts = Arc::new(Counts::default());
    let client = Arc::new(Client::new(
        pds.url(),
        Counting {
            inner: ReqwestTransport::default(),
            counts: Arc::clone(&counts),
        },
    ));
    let changes = Arc::new(AtomicUsize::new(0));
    let changed = Arc::clone(&changes);
    client.on_session_change(move |_| {
        changed.fetch_add(1, Ordering::SeqCst);
    });
    let session = new_account(&client, "exp").await;
    let logged_in = Instant::now();
    client.com().atproto().server().get_session().await.unwrap();

    // Token times are whole seconds: wait one more so the expiry has certainly passed.
    std::thread::sleep((lifetime + Duration::from_secs(1)).saturating_sub(logged_in.elapsed()));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let client = Arc::clone(&client);
        let session = session.clone();
        calls.spawn(async move {
            if i % 2 == 0 {
                client
                    .com()
                    .atproto()
                    .server()
                    .get_session()
                    .await
                    .map(drop)
                    .map_err(Error::into_kind::<XrpcError>)
            } else {
                let input = create_record::Input::new(
                    me(&session),
                    nsid(note::Record::NSID),
                    Unknown::from_typed(&note(&format!("Written late {i}"))).unwrap(),
                );
                client
                    .com()
                    .atproto()
                    .repo()
                    .create_record(&input)
                    .await
                    .map(drop)
                    .map_err(Error::into_kind::<XrpcError>)
            }
        });
    }
    while let Some(result) = calls.join_next().await {
        result
            .unwrap()
            .unwrap_or_else(|error| panic!("a call failed: {error}"));
    }

    let log = counts.log.lock().unwrap().join("\n");
    assert_eq!(counts.refreshes.load(Ordering::SeqCst), 1, "{log}");
    assert!(
        counts.expired.load(Ordering::SeqCst) > 1,
        "several calls met the expired token:\n{log}"
    );
    let refreshed = client.session().unwrap();
    assert_ne!(refreshed.access_jwt, session.access_jwt);
    assert_eq!(refreshed.did, session.did);
    // login, then the one refresh
    assert_eq!(changes.load(Ordering::SeqCst), 2);
    eprintln!(
        "{} calls met ExpiredToken; one refresh; log:\n{log}",
        counts.expired.load(Ordering::SeqCst)
    );
    pds.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_bodies_stream_past_the_limit_that_stops_buffered_reads() {
    let pds = shared_pds();
    let client = Client::with_reqwest(pds.url());
    let session = new_account(&client, "big").await;
    let repo = client.com().atproto().repo();

    // A blob well above the limit below, referenced by a record so the PDS serves it.
    let bytes: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let blob = repo
        .upload_blob(bytes.clone(), "application/octet-stream")
        .await
        .unwrap()
        .blob;
    let mut with_file = note("Big attachment");
    with_file.attachment = Some(attachment(&blob));
    create(&client, &session, note::Record::NSID, None, &with_file).await;

    let limited = Client::with_reqwest(pds.url()).with_response_limit(64 * 1024);
    limited.set_session(Some(session.clone()));
    let sync = limited.com().atproto().sync();
    let params = get_blob::Params::new(session.did.clone(), blob.cid().clone());
    match sync.get_blob(&params).await {
        Err(Error::Transport(error)) => {
            assert_eq!(
                error.kind(),
                TransportErrorKind::BodyTooLarge { limit: 64 * 1024 }
            );
            assert!(error.to_string().contains("65536 bytes"), "{error}");
        }
        other => panic!("expected the limit error, got {other:?}"),
    }

    let mut stream = sync.get_blob_stream(&params).await.unwrap();
    assert_eq!(stream.status, 200);
    let mut read = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.chunk().await.unwrap() {
        chunks += 1;
        read.extend_from_slice(&chunk);
    }
    assert_eq!(read.len(), bytes.len());
    assert!(read == bytes, "the streamed blob differs from the upload");
    eprintln!("{} bytes in {chunks} chunks", read.len());

    // The repository as a CAR file, streamed, is the same as the CAR read whole.
    let whole = client
        .com()
        .atproto()
        .sync()
        .get_repo(&get_repo::Params::new(session.did.clone()))
        .await
        .unwrap();
    let mut stream = sync
        .get_repo_stream(&get_repo::Params::new(session.did.clone()))
        .await
        .unwrap();
    assert_eq!(stream.content_type(), Some("application/vnd.ipld.car"));
    let car = stream.body.read_to_end(u64::MAX).await.unwrap();
    assert!(car.windows(14).any(|w| w == b"Big attachment"));
    // Same header and the same record in both reads (the repo did not change in between).
    assert_eq!(car.len(), whole.bytes.len());
}

/// A PDS whose access tokens live 2 s, shared by the tests of this file that need expiry.
fn short_lived_pds() -> Arc<Pds> {
    static SHARED: Mutex<std::sync::Weak<Pds>> = Mutex::new(std::sync::Weak::new());
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pds) = shared.upgrade() {
        return pds;
    }
    let pds = Arc::new(
        Pds::start_with(&PdsOptions::default().access_token_lifetime(Duration::from_secs(2)))
            .unwrap_or_else(|error| panic!("cannot start the PDS: {error}")),
    );
    *shared = Arc::downgrade(&pds);
    pds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_calls_on_a_revoked_session_share_one_refused_refresh() {
    const CALLS: usize = 8;
    let pds = short_lived_pds();
    let counts = Arc::new(Counts::default());
    let client = Arc::new(Client::new(
        pds.url(),
        Counting {
            inner: ReqwestTransport::default(),
            counts: Arc::clone(&counts),
        },
    ));
    let session = new_account(&client, "rev").await;
    let logged_in = Instant::now();
    // deleteSession revokes the refresh token; then the saved session is restored, as an
    // app would after a restart.
    client.logout().await.unwrap();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&changes);
    client.on_session_change(move |session| log.lock().unwrap().push(session.is_some()));
    client.set_session(Some(session.clone()));
    std::thread::sleep(Duration::from_secs(3).saturating_sub(logged_in.elapsed()));

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        let client = Arc::clone(&client);
        calls.spawn(async move {
            client
                .com()
                .atproto()
                .server()
                .get_session()
                .await
                .map(drop)
                .map_err(Error::into_kind::<XrpcError>)
        });
    }
    let mut errors = Vec::new();
    while let Some(result) = calls.join_next().await {
        errors.push(result.unwrap().unwrap_err());
    }
    let log = counts.log.lock().unwrap().join("\n");
    assert_eq!(counts.refreshes.load(Ordering::SeqCst), 1, "{log}");
    for error in &errors {
        // The refused refresh's own error, or (for calls sent after the session ended) the
        // server's answer to a call without a token: never a second refresh.
        let name = error.error_name().unwrap_or_default();
        assert!(
            ["ExpiredToken", "InvalidToken", "AuthMissing"].contains(&name),
            "{error}\n{log}"
        );
    }
    assert_eq!(client.session(), None, "a refused refresh ends the session");
    assert_eq!(*changes.lock().unwrap(), [false]);
}
