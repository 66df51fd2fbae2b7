//! Binary-size benchmark, our side: log in, read one page of the home timeline, write a post,
//! with the client of the generated crate on its reqwest transport.
//!
//!     ours SERVICE_URL HANDLE PASSWORD
//!
//! `../atrium/src/main.rs` is the same program on atrium-api; keep the two in step.

use atproto_api::app::bsky::feed::{get_timeline, post};
use atproto_api::com::atproto::repo::create_record;
use atproto_api::runtime::client::Client;
use atproto_api::runtime::{Datetime, Nsid, Unknown};
use std::error::Error;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let [service, handle, password] = arguments()?;
    let client = Client::with_reqwest(service);

    // createSession; the client keeps the session and sends its token from now on.
    let session = client.login(&handle, &password).await?;

    let mut params = get_timeline::Params::new();
    params.limit = Some(10);
    let timeline = client.app().bsky().feed().get_timeline(&params).await?;
    println!("timeline: {} items", timeline.feed.len());

    let post = post::Record::new("Hello from the binary-size benchmark", Datetime::now());
    let input = create_record::Input::new(
        session.did.into(),
        Nsid::new(post::Record::NSID)?,
        Unknown::from_typed(&post)?,
    );
    let created = client.com().atproto().repo().create_record(&input).await?;
    println!("posted {}", created.uri);
    Ok(())
}

/// The three command-line arguments, or a usage message.
fn arguments() -> Result<[String; 3], Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    <[String; 3]>::try_from(args).map_err(|_| "usage: ours SERVICE_URL HANDLE PASSWORD".into())
}
