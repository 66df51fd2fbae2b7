//! linkboard: share a link on a board and list the board, with one client and one session for
//! atproto-api's endpoints and this app's own types (linkboard-api, layered on atproto-api).
//!
//! `cargo run -p linkboard -- SERVICE HANDLE PASSWORD URL TITLE`

use atproto_api::com::atproto::label::defs::{SelfLabel, SelfLabels};
use atproto_api::com::atproto::repo::{create_record, list_records};
use atproto_api::runtime::client::Client;
use atproto_api::runtime::{Datetime, Nsid, Unknown, Uri};
use linkboard_api::com::example::linkboard::{defs, link};
use std::error::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [service, handle, password, url, title] = args.as_slice() else {
        eprintln!("usage: linkboard SERVICE HANDLE PASSWORD URL TITLE");
        std::process::exit(2);
    };
    let client = Client::with_reqwest(service.as_str());
    let session = client.login(handle, password).await?;

    // The app's record; its board, labels and facets are types of both crates, as they are.
    let mut shared = link::Record::new(Uri::new(url.as_str())?, title.as_str(), Datetime::now());
    shared.board = Some(defs::BoardRef::new(defs::BoardRefName::Front));
    let labels = SelfLabels::new(vec![SelfLabel::new("no-unauthenticated")]);
    shared.labels = Some(link::RecordLabels::DefsSelfLabels(Box::new(labels)));
    let input = create_record::Input::new(
        session.did.clone().into(),
        Nsid::new(link::Record::NSID)?,
        Unknown::from_typed(&shared)?,
    );
    let created = client.com().atproto().repo().create_record(&input).await?;
    println!("shared {}", created.uri);

    let params = list_records::Params::new(session.did.into(), Nsid::new(link::Record::NSID)?);
    let listed = client.com().atproto().repo().list_records(&params).await?;
    for record in listed.records {
        let link: link::Record = record.value.into_typed()?;
        println!("{}  {}  {}", record.uri, link.title, link.url);
    }
    Ok(())
}
