//! Binary-size benchmark, atrium side: log in, read one page of the home timeline, write a
//! post, with atrium-api's `AtpAgent` over reqwest 0.13.
//!
//!     atrium SERVICE_URL HANDLE PASSWORD
//!
//! `../ours/src/main.rs` is the same program on our generated crate; keep the two in step.

use atrium_api::agent::atp_agent::AtpAgent;
use atrium_api::agent::atp_agent::store::MemorySessionStore;
use atrium_api::app::bsky::feed::{Post, get_timeline, post};
use atrium_api::com::atproto::repo::create_record;
use atrium_api::types::string::Datetime;
use atrium_api::types::{Collection, TryIntoUnknown};
use atrium_xrpc::http::{Request, Response};
use atrium_xrpc::{HttpClient, XrpcClient};
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
    let http = Reqwest {
        client: reqwest::Client::builder().build()?,
        base_uri: service,
    };
    let agent = AtpAgent::new(http, MemorySessionStore::default());

    // createSession; the agent keeps the session and sends its token from now on.
    let session = agent.login(&handle, &password).await?;

    let params = get_timeline::ParametersData {
        algorithm: None,
        cursor: None,
        limit: Some(10.try_into()?),
    };
    let timeline = agent.api.app.bsky.feed.get_timeline(params.into()).await?;
    println!("timeline: {} items", timeline.feed.len());

    let post = post::RecordData {
        created_at: Datetime::now(),
        embed: None,
        entities: None,
        facets: None,
        labels: None,
        langs: None,
        reply: None,
        tags: None,
        text: "Hello from the binary-size benchmark".into(),
    };
    let input = create_record::InputData {
        collection: Post::nsid(),
        record: post.try_into_unknown()?,
        repo: session.data.did.clone().into(),
        rkey: None,
        swap_commit: None,
        validate: None,
    };
    let created = agent
        .api
        .com
        .atproto
        .repo
        .create_record(input.into())
        .await?;
    println!("posted {}", created.uri);
    Ok(())
}

/// The three command-line arguments, or a usage message.
fn arguments() -> Result<[String; 3], Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    <[String; 3]>::try_from(args).map_err(|_| "usage: atrium SERVICE_URL HANDLE PASSWORD".into())
}

/// atrium-xrpc's HTTP client traits over reqwest 0.13 (what atrium-xrpc-client does for the
/// reqwest it pins): the request goes out as it is, and the whole body comes back.
struct Reqwest {
    client: reqwest::Client,
    base_uri: String,
}

impl HttpClient for Reqwest {
    async fn send_http(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, Box<dyn Error + Send + Sync + 'static>> {
        let response = self.client.execute(request.try_into()?).await?;
        let mut builder = Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        Ok(builder.body(response.bytes().await?.to_vec())?)
    }
}

impl XrpcClient for Reqwest {
    fn base_uri(&self) -> String {
        self.base_uri.clone()
    }
}
