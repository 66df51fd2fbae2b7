//! An app's own lexicons on the real PDS: the example's crates (`examples/linkboard`, layered
//! on atproto-api) with one client and one session. The app's records go in through
//! atproto-api's `createRecord` and come back typed from `getRecord` and `listRecords`; their
//! upstream parts (a strong ref, self labels, a facet) are atproto-api's own types.

use atproto_api::app::bsky::richtext::facet;
use atproto_api::com::atproto::label::defs::{SelfLabel, SelfLabels};
use atproto_api::com::atproto::repo::{create_record, get_record, list_records, strong_ref};
use atproto_api::com::atproto::server::create_account;
use atproto_api::runtime::client::{Client, Error, ReqwestTransport, Session};
use atproto_api::runtime::{AtIdentifier, Datetime, Did, Handle, Nsid, RecordKey, Unknown, Uri};
use integration_tests::pds::Pds;
use linkboard_api::com::example::linkboard::{defs, get_board, link};
use linkboard_api::prelude::*;
use linkboard_polls_api::com::example::linkboard::polls::poll;
use linkboard_polls_api::prelude::*;

async fn logged_in(pds: &Pds) -> (Client<ReqwestTransport>, Session) {
    let client = Client::with_reqwest(pds.url());
    let handle = Handle::new("linkboard.test").expect("a handle");
    let mut input = create_account::Input::new(handle.clone());
    input.email = Some("linkboard@example.com".to_owned());
    input.password = Some("linkboard-password".to_owned());
    client
        .com()
        .atproto()
        .server()
        .create_account(&input)
        .await
        .expect("createAccount");
    let session = client
        .login(handle.as_str(), "linkboard-password")
        .await
        .expect("login");
    (client, session)
}

async fn create<R: serde::Serialize>(
    client: &Client<ReqwestTransport>,
    did: &Did,
    collection: &str,
    record: &R,
) -> create_record::Output {
    let input = create_record::Input::new(
        AtIdentifier::from(did.clone()),
        Nsid::new(collection).expect("an NSID"),
        Unknown::from_typed(record).expect("a record is an object"),
    );
    let repo = client.com().atproto().repo();
    repo.create_record(&input)
        .await
        .unwrap_or_else(|e| panic!("createRecord {collection}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_records_through_one_client_and_session() {
    let pds = Pds::shared().unwrap_or_else(|error| panic!("cannot start the PDS: {error}"));
    let (client, session) = logged_in(&pds).await;

    // An atproto endpoint of the base crate, with the session.
    let current = client
        .com()
        .atproto()
        .server()
        .get_session()
        .await
        .expect("getSession");
    assert_eq!(current.did, session.did);

    let first = link::Record::new(
        Uri::new("https://example.com/first").unwrap(),
        "First",
        Datetime::now(),
    );
    let first_created = create(&client, &session.did, link::Record::NSID, &first).await;

    let mut second = link::Record::new(
        Uri::new("https://example.com/second").unwrap(),
        "Second",
        Datetime::now(),
    );
    second.note = Some("thanks @linkboard.test".to_owned());
    let mention = facet::Mention::new(session.did.clone());
    let mut slice = facet::ByteSlice::new(7, 22);
    slice
        .extra
        .insert("kept".to_owned(), serde_json::json!(true));
    second.note_facets = Some(vec![facet::Main::new(
        slice,
        vec![facet::MainFeaturesItem::Mention(Box::new(mention))],
    )]);
    second.board = Some(defs::BoardRef::new(defs::BoardRefName::Ask));
    second.reply_to = Some(strong_ref::Main::new(
        first_created.uri.clone(),
        first_created.cid.clone(),
    ));
    let labels = SelfLabels::new(vec![SelfLabel::new("no-unauthenticated")]);
    second.labels = Some(link::RecordLabels::DefsSelfLabels(Box::new(labels)));
    second.preview = Some(link::Preview::Quote(Box::new(link::Quote::new("a quote"))));
    let second_created = create(&client, &session.did, link::Record::NSID, &second).await;

    // getRecord: the record that was written, typed, field for field.
    let rkey = RecordKey::new(second_created.uri.as_str().rsplit('/').next().unwrap()).unwrap();
    let params = get_record::Params::new(
        session.did.clone().into(),
        Nsid::new(link::Record::NSID).unwrap(),
        rkey,
    );
    let got = client
        .com()
        .atproto()
        .repo()
        .get_record(&params)
        .await
        .expect("getRecord");
    assert_eq!(got.cid.as_ref(), Some(&second_created.cid));
    let read: link::Record = got.value.into_typed().expect("the record reads typed");
    assert_eq!(read, second);
    let reply: &strong_ref::Main = read.reply_to.as_ref().unwrap();
    assert_eq!(reply.cid, first_created.cid);

    // A second layer's record, pointing at the first link.
    let mut vote = poll::Record::new(
        strong_ref::Main::new(first_created.uri.clone(), first_created.cid.clone()),
        "Worth it?",
        vec!["yes".to_owned(), "no".to_owned()],
        Datetime::now(),
    );
    vote.board = Some(defs::BoardRef::new(defs::BoardRefName::Front));
    create(&client, &session.did, poll::Record::NSID, &vote).await;

    // listRecords: both links, typed, with their keys; nothing else.
    let params = list_records::Params::new(
        session.did.clone().into(),
        Nsid::new(link::Record::NSID).unwrap(),
    );
    let listed = client
        .com()
        .atproto()
        .repo()
        .list_records(&params)
        .await
        .expect("listRecords");
    let mut titles: Vec<String> = listed
        .records
        .into_iter()
        .map(|r| r.value.into_typed::<link::Record>().expect("typed").title)
        .collect();
    titles.sort();
    assert_eq!(titles, ["First", "Second"]);
    let params = list_records::Params::new(
        session.did.clone().into(),
        Nsid::new(poll::Record::NSID).unwrap(),
    );
    let polls = client
        .com()
        .atproto()
        .repo()
        .list_records(&params)
        .await
        .expect("listRecords");
    let read: poll::Record = polls.records[0].value.to_typed().expect("typed");
    assert_eq!(read, vote);

    // The app's own query goes out through the same client (the PDS has no such method, so
    // the answer is its typed error, not a transport failure) and so does the second layer's.
    let board = client
        .com()
        .example()
        .linkboard()
        .get_board(&get_board::Params::new("front"))
        .await
        .expect_err("the PDS does not serve the app's methods");
    assert!(
        matches!(
            board,
            Error::Xrpc {
                status: 400..=599,
                ..
            }
        ),
        "{board:?}"
    );
    let results = client
        .com()
        .example()
        .linkboard()
        .polls()
        .get_results(
            &linkboard_polls_api::com::example::linkboard::polls::get_results::Params::new(
                first_created.uri.clone(),
            ),
        )
        .await
        .expect_err("nor the plugin's");
    assert!(
        matches!(
            results,
            Error::Xrpc {
                status: 400..=599,
                ..
            }
        ),
        "{results:?}"
    );
}
