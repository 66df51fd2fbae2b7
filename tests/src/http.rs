//! A tiny HTTP/1.1 listener on 127.0.0.1 that records requests and answers with canned
//! responses: enough to see exactly what the generated client puts on the wire.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, e.g. `/xrpc/com.atproto.server.createSession`.
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the listener answers.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Canned {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
    }
}

/// Serves one canned response per connection, in order, then stops.
pub struct Listener {
    pub url: String,
    requests: mpsc::Receiver<Recorded>,
}

impl Listener {
    pub fn start(responses: Vec<Canned>) -> std::io::Result<Listener> {
        Listener::serve(TcpListener::bind("127.0.0.1:0")?, responses)
    }

    /// Serves on a socket bound by the caller, who may need its port before choosing the
    /// responses (a `did:web:localhost%3APORT` document names it).
    pub fn serve(listener: TcpListener, responses: Vec<Canned>) -> std::io::Result<Listener> {
        let url = format!("http://{}", listener.local_addr()?);
        let (sender, requests) = mpsc::channel();
        thread::spawn(move || {
            for canned in responses {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(stream);
                let Some(recorded) = read_request(&mut reader) else {
                    return;
                };
                let _ = sender.send(recorded);
                let mut stream = reader.into_inner();
                let head = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    canned.status,
                    canned.content_type,
                    canned.body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&canned.body);
            }
        });
        Ok(Listener { url, requests })
    }

    /// The next request the listener received (waits up to 10 s).
    pub fn next_request(&self) -> Option<Recorded> {
        self.requests.recv_timeout(Duration::from_secs(10)).ok()
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Recorded> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

/// Accepts connections and reads what arrives, but never answers: a server that hangs.
/// Connections stay open until the process ends.
pub struct Silent {
    pub url: String,
    /// The first bytes of each connection, as they arrive.
    received: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl Silent {
    pub fn start() -> std::io::Result<Silent> {
        use std::io::Read;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let record = std::sync::Arc::clone(&record);
                thread::spawn(move || {
                    let mut buffer = [0; 512];
                    let index = {
                        let mut received = record.lock().unwrap();
                        received.push(Vec::new());
                        received.len() - 1
                    };
                    while let Ok(n @ 1..) = stream.read(&mut buffer) {
                        record.lock().unwrap()[index].extend_from_slice(&buffer[..n]);
                    }
                });
            }
        });
        Ok(Silent { url, received })
    }

    /// The port, to reach the same listener with another scheme.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("the url ends with the port")
    }

    /// What each connection sent so far.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}
