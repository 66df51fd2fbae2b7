//! The firehose against the official PDS (started on 127.0.0.1 by `tests/src/pds.rs`):
//! `subscribeRepos` over WebSocket with records written through the client, every commit
//! decoded to the typed records that were written, block CIDs verified and record CIDs
//! computed locally; resuming from a cursor; and `getRepo` walked to every record.

use std::collections::BTreeMap;
use std::time::Duration;

use atproto_api::AnyRecord;
use atproto_api::app::bsky::actor::profile;
use atproto_api::app::bsky::embed::images;
use atproto_api::app::bsky::feed::{like, post, repost};
use atproto_api::app::bsky::graph::follow;
use atproto_api::com::atproto::repo::{create_record, delete_record, put_record, strong_ref};
use atproto_api::com::atproto::server::create_account;
use atproto_api::com::atproto::sync::{get_repo, subscribe_repos};
use atproto_api::runtime::car::{Car, CarFile};
use atproto_api::runtime::cbor::{self, Frame};
use atproto_api::runtime::client::{Client, ReqwestTransport, Session};
use atproto_api::runtime::stream::Subscription;
use atproto_api::runtime::{Datetime, Handle, Nsid, RecordKey, Unknown};
use integration_tests::PNG;
use integration_tests::pds::Pds;

type Stream = Subscription<subscribe_repos::Message, subscribe_repos::Error>;

async fn account(client: &Client<ReqwestTransport>, name: &str) -> Session {
    let handle = Handle::new(format!("{name}.test")).unwrap();
    let mut input = create_account::Input::new(handle.clone());
    input.email = Some(format!("{name}@example.com"));
    input.password = Some("firehose-password".into());
    client
        .com()
        .atproto()
        .server()
        .create_account(&input)
        .await
        .unwrap();
    client
        .login(handle.as_str(), "firehose-password")
        .await
        .unwrap()
}

/// Writes `record` into `collection` and returns what the PDS answered.
async fn create<R: serde::Serialize>(
    client: &Client<ReqwestTransport>,
    session: &Session,
    collection: &str,
    record: &R,
) -> create_record::Output {
    let input = create_record::Input::new(
        session.did.clone().into(),
        Nsid::new(collection).unwrap(),
        Unknown::from_typed(record).unwrap(),
    );
    client
        .com()
        .atproto()
        .repo()
        .create_record(&input)
        .await
        .unwrap()
}

/// What a commit op carried, as read from the stream: the record decoded from its block.
#[derive(Debug)]
struct SeenOp {
    seq: i64,
    action: String,
    cid: Option<String>,
    record: Option<AnyRecord>,
}

/// Reads the stream until `done` says enough was seen; every commit's blocks are checked
/// (`Car::read` verifies each block against its CID) and its ops decoded.
async fn read_until(
    stream: &mut Stream,
    seen: &mut BTreeMap<String, Vec<SeenOp>>,
    mut done: impl FnMut(&BTreeMap<String, Vec<SeenOp>>) -> bool,
) {
    while !done(seen) {
        let item = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .expect("a frame within a minute")
            .expect("the stream goes on");
        let message = match item.expect("no stream error") {
            Frame::Message(message) => message,
            other => panic!("unexpected frame {other:?}"),
        };
        let subscribe_repos::Message::Commit(commit) = message else {
            continue;
        };
        let car = Car::read(commit.blocks.as_slice()).expect("the commit's blocks verify");
        for op in &commit.ops {
            let (collection, _) = op.path.split_once('/').unwrap();
            let cid = op.cid.as_ref().map(|cid| cid.cid().decode().unwrap());
            let record = cid.map(|cid| {
                let bytes = car.get(&cid).expect("the op's record is in the blocks");
                assert_eq!(cbor::cid_of(cbor::DAG_CBOR, bytes), cid);
                AnyRecord::from_cbor(collection, bytes).expect("the record reads typed")
            });
            seen.entry(op.path.clone()).or_default().push(SeenOp {
                seq: commit.seq,
                action: op.action.as_str().to_owned(),
                cid: cid.map(|c| c.to_string()),
                record,
            });
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_firehose_delivers_every_commit_with_its_typed_records() {
    let pds = Pds::start().unwrap_or_else(|e| panic!("cannot start the PDS: {e}"));
    let client = Client::with_reqwest(pds.url());
    let session = account(&client, "stream").await;
    let other = account(&Client::with_reqwest(pds.url()), "followed").await;
    let repo = client.com().atproto().repo();

    // From the start of the stream, so that nothing written below can be missed.
    let mut params = subscribe_repos::Params::new();
    params.cursor = Some(0);
    let mut stream = client.com().atproto().sync().subscribe_repos(&params);

    // A post with an image, a like, a repost, a follow, a profile with an avatar; then the
    // profile updated and the like deleted.
    let image = repo
        .upload_blob(PNG.to_vec(), "image/png")
        .await
        .unwrap()
        .blob;
    let mut post = post::Record::new("From the firehose test", Datetime::now());
    post.embed = Some(post::RecordEmbed::Images(Box::new(images::Main::new(
        vec![images::Image::new(image.clone(), "one pixel")],
    ))));
    let created_post = create(&client, &session, post::Record::NSID, &post).await;
    let subject = strong_ref::Main::new(created_post.uri.clone(), created_post.cid.clone());
    let like = like::Record::new(subject.clone(), Datetime::now());
    let created_like = create(&client, &session, like::Record::NSID, &like).await;
    let repost = repost::Record::new(subject, Datetime::now());
    let created_repost = create(&client, &session, repost::Record::NSID, &repost).await;
    let follow = follow::Record::new(other.did.clone(), Datetime::now());
    let created_follow = create(&client, &session, follow::Record::NSID, &follow).await;
    let mut profile = profile::Record::default();
    profile.display_name = Some("Stream".into());
    profile.avatar = Some(image.clone());
    let put = |record: &profile::Record| {
        put_record::Input::new(
            session.did.clone().into(),
            Nsid::new(profile::Record::NSID).unwrap(),
            RecordKey::new("self").unwrap(),
            Unknown::from_typed(record).unwrap(),
        )
    };
    let first_profile = repo.put_record(&put(&profile)).await.unwrap();
    profile.display_name = Some("Stream, renamed".into());
    let second_profile = repo.put_record(&put(&profile)).await.unwrap();
    let like_rkey = created_like.uri.rkey().unwrap().to_owned();
    repo.delete_record(&delete_record::Input::new(
        session.did.clone().into(),
        Nsid::new(like::Record::NSID).unwrap(),
        RecordKey::new(like_rkey.clone()).unwrap(),
    ))
    .await
    .unwrap();

    let like_path = format!("{}/{like_rkey}", like::Record::NSID);
    let profile_path = format!("{}/self", profile::Record::NSID);
    let mut seen = BTreeMap::new();
    read_until(&mut stream, &mut seen, |seen| {
        seen.get(&like_path)
            .is_some_and(|ops| ops.iter().any(|op| op.action == "delete"))
    })
    .await;

    // Each record arrived typed, equal to what was written, with the CID the PDS returned,
    // and that CID is the one computed locally from the typed record.
    let path_of = |uri: &atproto_api::runtime::AtUri| {
        format!("{}/{}", uri.collection().unwrap(), uri.rkey().unwrap())
    };
    let created =
        |path: &str| -> &SeenOp { seen[path].iter().find(|op| op.action == "create").unwrap() };
    let post_op = created(&path_of(&created_post.uri));
    assert_eq!(post_op.cid.as_deref(), Some(created_post.cid.as_str()));
    match &post_op.record {
        Some(AnyRecord::AppBskyFeedPost(read)) => assert_eq!(**read, post),
        other => panic!("expected the post, got {other:?}"),
    }
    assert_eq!(
        cbor::record_cid(&post).unwrap().to_string(),
        created_post.cid.as_str()
    );
    for (output, expected) in [
        (&created_like, cbor::record_cid(&like).unwrap()),
        (&created_repost, cbor::record_cid(&repost).unwrap()),
        (&created_follow, cbor::record_cid(&follow).unwrap()),
    ] {
        let op = created(&path_of(&output.uri));
        assert_eq!(op.cid.as_deref(), Some(output.cid.as_str()));
        assert_eq!(
            expected.to_string(),
            output.cid.as_str(),
            "CID computed locally"
        );
    }
    assert!(matches!(
        created(&path_of(&created_like.uri)).record,
        Some(AnyRecord::AppBskyFeedLike(_))
    ));
    assert!(matches!(
        created(&path_of(&created_repost.uri)).record,
        Some(AnyRecord::AppBskyFeedRepost(_))
    ));
    assert!(matches!(
        created(&path_of(&created_follow.uri)).record,
        Some(AnyRecord::AppBskyGraphFollow(_))
    ));

    // The profile: created, then updated; the update carries the renamed record.
    let profile_ops = &seen[&profile_path];
    assert_eq!(
        profile_ops[0].cid.as_deref(),
        Some(first_profile.cid.as_str())
    );
    let update = profile_ops
        .iter()
        .find(|op| op.action == "update")
        .expect("an update op");
    assert_eq!(update.cid.as_deref(), Some(second_profile.cid.as_str()));
    match &update.record {
        Some(AnyRecord::AppBskyActorProfile(read)) => {
            assert_eq!(**read, profile);
            assert_eq!(read.avatar.as_ref(), Some(&image));
        }
        other => panic!("expected the profile, got {other:?}"),
    }
    // The delete carries no record.
    let delete = seen[&like_path]
        .iter()
        .find(|op| op.action == "delete")
        .unwrap();
    assert!(delete.cid.is_none() && delete.record.is_none());

    // Resuming from the last cursor: a new subscription gets what came after it, nothing twice.
    let last = seen.values().flatten().map(|op| op.seq).max().unwrap();
    stream.close().await;
    let late = post::Record::new("Written while nobody listened", Datetime::now());
    let created_late = create(&client, &session, post::Record::NSID, &late).await;
    let mut params = subscribe_repos::Params::new();
    params.cursor = Some(last);
    let mut resumed = client.com().atproto().sync().subscribe_repos(&params);
    let late_path = path_of(&created_late.uri);
    let mut after = BTreeMap::new();
    read_until(&mut resumed, &mut after, |seen| {
        seen.contains_key(&late_path)
    })
    .await;
    assert!(
        after.values().flatten().all(|op| op.seq > last),
        "nothing delivered twice"
    );
    match &after[&late_path][0].record {
        Some(AnyRecord::AppBskyFeedPost(read)) => assert_eq!(**read, late),
        other => panic!("expected the late post, got {other:?}"),
    }
    resumed.close().await;

    // getRepo: the export walks to exactly the records the repository holds now.
    let export = client
        .com()
        .atproto()
        .sync()
        .get_repo(&get_repo::Params::new(session.did.clone()))
        .await
        .unwrap();
    let car = Car::read(&export.bytes).unwrap();
    let records = car.repo_records().unwrap();
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let mut expected = [
        path_of(&created_post.uri),
        path_of(&created_repost.uri),
        path_of(&created_follow.uri),
        profile_path.clone(),
        late_path.clone(),
    ];
    expected.sort();
    assert_eq!(
        keys,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for record in &records {
        let typed = AnyRecord::from_cbor(record.collection(), record.bytes).unwrap();
        assert!(typed.collection().is_some(), "{} reads typed", record.key);
    }
}

/// A TCP proxy on 127.0.0.1 in front of the PDS whose live connections can be cut, to drop a
/// subscription's WebSocket under it.
struct Proxy {
    url: String,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target_port: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let live = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                live.lock().unwrap().push(task);
            }
        });
        Proxy { url, connections }
    }

    /// Drops every connection open now.
    fn cut(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_resumes_from_the_last_cursor_without_loss_or_repeats() {
    let pds = Pds::start().unwrap_or_else(|e| panic!("cannot start the PDS: {e}"));
    let proxy = Proxy::start(pds.port()).await;
    let client = Client::with_reqwest(pds.url());
    let session = account(&client, "resume").await;
    // The stream goes through the proxy; the writes go straight to the PDS.
    let through_proxy = Client::with_reqwest(proxy.url.clone());
    let mut params = subscribe_repos::Params::new();
    params.cursor = Some(0);
    let mut stream = through_proxy
        .com()
        .atproto()
        .sync()
        .subscribe_repos(&params);

    let mut written = Vec::new();
    let mut seqs = Vec::new();
    let mut disconnects = 0;
    let mut delivered = Vec::new();
    for round in 0..3 {
        for i in 0..5 {
            let post = post::Record::new(format!("round {round}, post {i}"), Datetime::now());
            written.push(
                create(&client, &session, post::Record::NSID, &post)
                    .await
                    .uri,
            );
        }
        // Read until every post written so far has come through.
        let pending: Vec<String> = written
            .iter()
            .map(|uri| format!("{}/{}", uri.collection().unwrap(), uri.rkey().unwrap()))
            .collect();
        while pending.iter().any(|p| !delivered.contains(p)) {
            let item = tokio::time::timeout(Duration::from_secs(60), stream.next())
                .await
                .expect("a frame within a minute")
                .expect("the stream goes on");
            match item {
                Ok(Frame::Message(subscribe_repos::Message::Commit(commit))) => {
                    seqs.push(commit.seq);
                    delivered.extend(commit.ops.iter().map(|op| op.path.clone()));
                }
                Ok(Frame::Message(message)) => {
                    if let subscribe_repos::Message::Identity(m) = &message {
                        seqs.push(m.seq);
                    }
                }
                Ok(other) => panic!("unexpected frame {other:?}"),
                Err(atproto_api::runtime::stream::StreamError::Disconnected { .. }) => {
                    disconnects += 1;
                }
                Err(error) => panic!("{error}"),
            }
        }
        // Cut the stream's connection between rounds.
        proxy.cut();
    }
    assert!(
        disconnects >= 2,
        "the stream saw its connection dropped ({disconnects})"
    );
    let mut sorted = seqs.clone();
    sorted.dedup();
    assert_eq!(sorted, seqs, "no event twice");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    let mut paths = delivered.clone();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), delivered.len(), "no record delivered twice");
    assert_eq!(
        paths.len(),
        written.len(),
        "every record written, delivered"
    );
    stream.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_repo_after_hundreds_of_records_walks_to_each_of_them() {
    const RECORDS: usize = 300;
    let pds = Pds::start().unwrap_or_else(|e| panic!("cannot start the PDS: {e}"));
    let client = Client::with_reqwest(pds.url());
    let session = account(&client, "many").await;
    let mut expected = BTreeMap::new();
    for i in 0..RECORDS {
        let post = post::Record::new(format!("post number {i}"), Datetime::now());
        let created = create(&client, &session, post::Record::NSID, &post).await;
        expected.insert(
            format!("{}/{}", post::Record::NSID, created.uri.rkey().unwrap()),
            (created.cid, post),
        );
    }
    let export = client
        .com()
        .atproto()
        .sync()
        .get_repo(&get_repo::Params::new(session.did.clone()))
        .await
        .unwrap();
    let car = Car::read(&export.bytes).unwrap();
    let records = car.repo_records().unwrap();
    assert_eq!(records.len(), RECORDS, "every record, and nothing else");
    for record in &records {
        let (cid, post) = &expected[&record.key];
        assert_eq!(record.cid.to_string(), cid.as_str());
        match AnyRecord::from_cbor(record.collection(), record.bytes).unwrap() {
            AnyRecord::AppBskyFeedPost(read) => assert_eq!(&*read, post),
            other => panic!("{}: expected a post, got {other:?}", record.key),
        }
    }
    let keys: Vec<&String> = records.iter().map(|r| &r.key).collect();
    assert_eq!(keys, expected.keys().collect::<Vec<_>>(), "in key order");

    // The same export streamed to a file and walked from there, one record at a time.
    let mut body = client
        .com()
        .atproto()
        .sync()
        .get_repo_stream(&get_repo::Params::new(session.did.clone()))
        .await
        .unwrap()
        .body;
    let path = pds.data_dir().join("export.car");
    let mut file = std::fs::File::create(&path).unwrap();
    while let Some(chunk) = body.chunk().await.unwrap() {
        std::io::Write::write_all(&mut file, &chunk).unwrap();
    }
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let mut car = CarFile::open(file).unwrap();
    let from_file: Vec<_> = car.repo_records().unwrap().map(Result::unwrap).collect();
    assert_eq!(from_file.len(), records.len());
    for (read, walked) in from_file.iter().zip(&records) {
        assert_eq!(
            (&read.key, read.cid, &read.bytes[..]),
            (&walked.key, walked.cid, walked.bytes)
        );
    }
}
