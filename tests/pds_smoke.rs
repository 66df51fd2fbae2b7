//! The PDS harness itself: a real PDS starts, answers XRPC, runs beside another one, honours
//! a short access-token lifetime, and leaves nothing behind when dropped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use integration_tests::pds::{Pds, PdsOptions};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP/1.1 exchange with the PDS on 127.0.0.1, `Connection: close`, no client library.
/// Returns the status code and the JSON body.
fn request(
    pds: &Pds,
    method: &str,
    nsid: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, pds.port()));
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).expect("connect to the PDS");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} /xrpc/{nsid} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n",
        pds.port(),
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send the request");
    stream.write_all(body.as_bytes()).expect("send the body");

    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read the response");
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("end of the response head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut body = response[split + 4..].to_vec();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    let json = serde_json::from_slice(&body).unwrap_or_else(|error| {
        panic!(
            "{method} {nsid} answered {status} with a body that is not JSON ({error}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, json)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size");
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

fn describe_server(pds: &Pds) -> Value {
    let (status, body) = request(pds, "GET", "com.atproto.server.describeServer", None, None);
    assert_eq!(status, 200, "describeServer answered {status}: {body}");
    body
}

fn start(options: &PdsOptions) -> Pds {
    let started = Instant::now();
    let pds = Pds::start_with(options).unwrap_or_else(|error| panic!("{error}"));
    eprintln!("PDS at {} ready in {:.2?}", pds.url(), started.elapsed());
    pds
}

#[test]
fn pds_answers_describe_server_and_leaves_nothing_behind() {
    let pds = start(&PdsOptions::default());
    assert!(pds.url().starts_with("http://localhost:"), "{}", pds.url());
    assert!(!pds.admin_password().is_empty());
    assert!(!format!("{pds:?}").contains(pds.admin_password()));

    let body = describe_server(&pds);
    let domains = body["availableUserDomains"]
        .as_array()
        .unwrap_or_else(|| panic!("no availableUserDomains in {body}"));
    assert!(!domains.is_empty(), "{body}");

    let port = pds.port();
    let data_dir = pds.data_dir().to_path_buf();
    assert!(data_dir.is_dir());
    let stopped = Instant::now();
    drop(pds);
    eprintln!("PDS stopped in {:.2?}", stopped.elapsed());

    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(
        TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err(),
        "port {port} still accepts connections after the drop"
    );
    assert!(!data_dir.exists(), "{} is still there", data_dir.display());
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let pds = start(&PdsOptions::default());
        tx.send((pds.port(), pds.data_dir().to_path_buf()))
            .expect("send");
        panic!("a test failing while its PDS runs");
    })
    .join();
    assert!(outcome.is_err(), "the thread was meant to panic");
    let (port, data_dir) = rx.recv().expect("the PDS started");
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(
        TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err(),
        "port {port} still accepts connections after the panic"
    );
    assert!(!data_dir.exists(), "{} is still there", data_dir.display());
}

#[test]
fn two_instances_run_at_once() {
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| start(&PdsOptions::default()));
        let b = scope.spawn(|| start(&PdsOptions::default()));
        (a.join().expect("first PDS"), b.join().expect("second PDS"))
    });
    assert_ne!(a.port(), b.port());
    assert_ne!(a.plc_url(), b.plc_url());
    assert_ne!(a.data_dir(), b.data_dir());
    describe_server(&a);
    describe_server(&b);
    a.stop().expect("first PDS stops cleanly");
    describe_server(&b);
    b.stop().expect("second PDS stops cleanly");
}

#[test]
fn access_tokens_can_be_made_short_lived() {
    let lifetime = Duration::from_secs(2);
    let pds = start(&PdsOptions::default().access_token_lifetime(lifetime));
    let account = json!({
        "handle": "smoke.test",
        "email": "smoke@example.com",
        "password": "smoke-password",
    });
    let (status, session) = request(
        &pds,
        "POST",
        "com.atproto.server.createAccount",
        None,
        Some(&account),
    );
    assert_eq!(status, 200, "createAccount answered {status}: {session}");
    let created = Instant::now();
    let access = session["accessJwt"].as_str().expect("accessJwt");
    let refresh = session["refreshJwt"].as_str().expect("refreshJwt");

    let (status, body) = request(
        &pds,
        "GET",
        "com.atproto.server.getSession",
        Some(access),
        None,
    );
    assert_eq!(status, 200, "getSession answered {status}: {body}");
    assert_eq!(body["handle"], "smoke.test");

    // Token times are whole seconds: wait one more so the expiry has certainly passed.
    std::thread::sleep((lifetime + Duration::from_secs(1)).saturating_sub(created.elapsed()));
    let (status, body) = request(
        &pds,
        "GET",
        "com.atproto.server.getSession",
        Some(access),
        None,
    );
    assert_eq!(body["error"], "ExpiredToken", "{status}: {body}");

    let (status, body) = request(
        &pds,
        "POST",
        "com.atproto.server.refreshSession",
        Some(refresh),
        None,
    );
    assert_eq!(status, 200, "refreshSession answered {status}: {body}");
    let fresh = body["accessJwt"].as_str().expect("a new accessJwt");
    let (status, body) = request(
        &pds,
        "GET",
        "com.atproto.server.getSession",
        Some(fresh),
        None,
    );
    assert_eq!(status, 200, "getSession answered {status}: {body}");
}
