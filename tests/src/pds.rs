//! A real AT Protocol PDS (the official `@atproto/pds` from npm) with its own PLC directory,
//! started on 127.0.0.1 for end-to-end tests.
//!
//! ```no_run
//! let pds = integration_tests::pds::Pds::start()?;
//! let url = pds.url(); // "http://localhost:PORT"
//! // ... talk XRPC to it ...
//! drop(pds); // stops both servers and deletes the data directory
//! # Ok::<(), String>(())
//! ```
//!
//! Needs Node.js (18.7 or newer; 20 is what the pinned versions are checked on) and npm. The
//! first start installs the packages pinned in `tests/pds/package-lock.json` (about 250 MB,
//! a minute or two: `better-sqlite3` compiles from source) into
//! `<cargo target dir>/e2e-pds/<key>/`, where the key is a hash of the package files and the
//! Node version; later starts reuse it. A file lock makes parallel test processes install once.
//! `E2E_PDS_CACHE_DIR` puts that cache somewhere else.
//!
//! Each [`Pds`] is its own Node process (`tests/pds/launch.js`) with its own ports and its own
//! data directory, so tests may run many at once. The process also stops by itself when its
//! stdin closes, which happens when the test process dies, however it dies.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PACKAGE_JSON: &[u8] = include_bytes!("../pds/package.json");
const PACKAGE_LOCK: &[u8] = include_bytes!("../pds/package-lock.json");
const LAUNCH_JS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pds/launch.js");

/// Exit code of `launch.js` when another program took the PDS port before the PDS bound it.
const EXIT_PORT_TAKEN: i32 = 75;
/// Starts tried when the port is taken (see [`EXIT_PORT_TAKEN`]).
const START_ATTEMPTS: u32 = 3;
/// How much of the server's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 16 * 1024;
/// How long a stopping server gets after its stdin closed before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Marker written into an install directory once `npm ci` has succeeded there.
const INSTALLED_MARKER: &str = ".e2e-pds-installed";

/// How to start a [`Pds`]; [`PdsOptions::default`] is what [`Pds::start`] uses.
#[derive(Clone, Debug)]
pub struct PdsOptions {
    access_token_lifetime: Option<Duration>,
    startup_timeout: Duration,
}

impl Default for PdsOptions {
    fn default() -> Self {
        PdsOptions {
            access_token_lifetime: None,
            startup_timeout: Duration::from_secs(60),
        }
    }
}

impl PdsOptions {
    /// Lifetime of the access tokens (`accessJwt`) the PDS issues, in whole seconds (at least
    /// one). The PDS default is two hours; a few seconds lets a test see `ExpiredToken` and
    /// the refresh that follows. Refresh tokens keep their normal lifetime.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = Some(lifetime);
        self
    }

    /// How long to wait for the servers to be ready (default 60 s). The package install of
    /// the first start is not counted.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

/// A running PDS and PLC directory. Dropping it stops both and deletes the data directory.
pub struct Pds {
    url: String,
    plc_url: String,
    admin_password: String,
    port: u16,
    data_dir: PathBuf,
    process: Option<Process>,
}

/// The Node process and the threads draining its output.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<()>>,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
}

/// The line `launch.js` prints when both servers are ready.
struct Ready {
    pds_url: String,
    plc_url: String,
    admin_password: String,
}

impl Pds {
    /// Starts a PDS with default options. See [`Pds::start_with`].
    pub fn start() -> Result<Pds, String> {
        Pds::start_with(&PdsOptions::default())
    }

    /// A PDS with default options shared by the tests of this process that run at the same
    /// time: the first caller starts it, later ones get the same server while any test still
    /// holds it, and the last one to drop its `Arc` stops it (so a test that fails still
    /// cleans up). Tests sharing it should each create their own accounts.
    pub fn shared() -> Result<Arc<Pds>, String> {
        static SHARED: Mutex<Weak<Pds>> = Mutex::new(Weak::new());
        // Held while starting, so that tests arriving together wait for one server.
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pds) = shared.upgrade() {
            return Ok(pds);
        }
        let pds = Arc::new(Pds::start()?);
        *shared = Arc::downgrade(&pds);
        Ok(pds)
    }

    /// Checks for `node` and `npm`, installs the npm packages on first use, and starts
    /// `launch.js` with a fresh data directory. Returns once the PDS answers requests.
    pub fn start_with(options: &PdsOptions) -> Result<Pds, String> {
        let token_seconds = match options.access_token_lifetime {
            None => None,
            Some(lifetime) if lifetime.as_secs() == 0 => {
                return Err(format!(
                    "the access token lifetime must be at least one second, not {lifetime:?}"
                ));
            }
            // jose takes whole seconds; round a fraction up rather than down.
            Some(lifetime) => Some(lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0)),
        };
        let tools = Tools::find()?;
        let modules = install_packages(&tools)?;

        let mut attempt = 1;
        loop {
            let data_dir = create_data_dir()?;
            match spawn(&tools, &modules, &data_dir, token_seconds, options) {
                Ok(pds) => return Ok(pds),
                Err(Failure::PortTaken(_)) if attempt < START_ATTEMPTS => {
                    remove_dir(&data_dir);
                    attempt += 1;
                }
                Err(Failure::PortTaken(message) | Failure::Other(message)) => {
                    remove_dir(&data_dir);
                    return Err(message);
                }
            }
        }
    }

    /// Base URL of the PDS, `http://localhost:PORT` (no trailing slash). The PDS listens on
    /// 127.0.0.1; the name is `localhost` because that is the URL in its DID documents.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `{url}/xrpc/{nsid}`.
    pub fn xrpc_url(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.url)
    }

    /// The TCP port of the PDS on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Base URL of the PLC directory the PDS registers its `did:plc` identities with.
    pub fn plc_url(&self) -> &str {
        &self.plc_url
    }

    /// Password of the admin routes (HTTP Basic auth, user `admin`). Random per instance.
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// The data directory (databases and blobs), deleted when the `Pds` is dropped.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The end of what the server wrote to stderr so far (its logs are off unless the test
    /// runs with `LOG_ENABLED=true`), for failure messages.
    pub fn stderr_tail(&self) -> String {
        self.process
            .as_ref()
            .map(|process| tail_text(&process.stderr_tail))
            .unwrap_or_default()
    }

    /// Stops the servers and deletes the data directory, reporting what went wrong; dropping
    /// the `Pds` does the same and ignores errors.
    pub fn stop(mut self) -> Result<(), String> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Some(mut process) = self.process.take() {
            match process.stop() {
                Ok(status) if status.success() => {}
                Ok(status) => problems.push(format!(
                    "the PDS process exited with {status}; its stderr ends with:\n{}",
                    tail_text(&process.stderr_tail)
                )),
                Err(error) => problems.push(error),
            }
            // launch.js deletes the directory itself; this covers a killed process.
            match fs::remove_dir_all(&self.data_dir) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) => problems.push(format!(
                    "cannot delete the PDS data directory {}: {error}",
                    self.data_dir.display()
                )),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

impl Drop for Pds {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl fmt::Debug for Pds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pds")
            .field("url", &self.url)
            .field("plc_url", &self.plc_url)
            .field("admin_password", &"<redacted>")
            .field("data_dir", &self.data_dir)
            .field("pid", &self.process.as_ref().map(|p| p.child.id()))
            .finish()
    }
}

impl Process {
    /// Closes stdin (launch.js then stops both servers and exits), kills the process if it
    /// has not exited within [`STOP_GRACE`], and waits for it and its output readers.
    fn stop(&mut self) -> Result<ExitStatus, String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_GRACE;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    let _ = self.child.kill();
                    break self.child.wait().map_err(|error| {
                        format!("cannot wait for the killed PDS process: {error}")
                    });
                }
                Err(error) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break Err(format!("cannot wait for the PDS process: {error}"));
                }
            }
        };
        // The pipes are closed now that the process is gone, so the readers end.
        for reader in [self.stdout_reader.take(), self.stderr_reader.take()]
            .into_iter()
            .flatten()
        {
            let _ = reader.join();
        }
        status
    }
}

enum Failure {
    /// launch.js exited with [`EXIT_PORT_TAKEN`]: worth another try.
    PortTaken(String),
    Other(String),
}

fn spawn(
    tools: &Tools,
    modules: &Path,
    data_dir: &Path,
    token_seconds: Option<u64>,
    options: &PdsOptions,
) -> Result<Pds, Failure> {
    let mut command = Command::new(&tools.node);
    command
        .arg(LAUNCH_JS)
        .arg(data_dir)
        .current_dir(data_dir)
        .env("NODE_PATH", modules)
        .env("E2E_PDS_REMOVE_DATA_DIR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match token_seconds {
        Some(seconds) => command.env("E2E_PDS_ACCESS_TOKEN_SECONDS", seconds.to_string()),
        None => command.env_remove("E2E_PDS_ACCESS_TOKEN_SECONDS"),
    };
    let mut child = command.spawn().map_err(|error| {
        Failure::Other(format!(
            "cannot start `{} {LAUNCH_JS}`: {error}",
            tools.node.display()
        ))
    })?;

    let stdin = child.stdin.take();
    let (ready_tx, ready_rx) = mpsc::channel();
    let stdout_reader = child.stdout.take().map(|stdout| {
        thread::spawn(move || {
            // Hand over the first line that is the ready message, then keep draining so the
            // server never blocks on a full pipe.
            let mut ready_tx = Some(ready_tx);
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
                if ready_tx.is_some()
                    && let Some(ready) = parse_ready(&String::from_utf8_lossy(&line))
                    && let Some(tx) = ready_tx.take()
                {
                    let _ = tx.send(ready);
                }
            }
        })
    });
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    let stderr_reader = child.stderr.take().map(|stderr| {
        let tail = Arc::clone(&stderr_tail);
        thread::spawn(move || keep_tail(stderr, &tail))
    });
    let mut process = Process {
        child,
        stdin,
        stdout_reader,
        stderr_reader,
        stderr_tail,
    };

    let ready = match ready_rx.recv_timeout(options.startup_timeout) {
        Ok(ready) => ready,
        Err(RecvTimeoutError::Timeout) => {
            let _ = process.child.kill();
            let _ = process.stop();
            return Err(Failure::Other(format!(
                "the PDS was not ready within {:?}; its stderr ends with:\n{}",
                options.startup_timeout,
                tail_text(&process.stderr_tail)
            )));
        }
        Err(RecvTimeoutError::Disconnected) => {
            // stdout closed without a ready line: the process is exiting.
            let status = process.stop();
            let stderr = tail_text(&process.stderr_tail);
            return Err(match status {
                Ok(status) if status.code() == Some(EXIT_PORT_TAKEN) => {
                    Failure::PortTaken(format!("the PDS port was taken: {stderr}"))
                }
                Ok(status) => Failure::Other(format!(
                    "the PDS exited during startup ({status}); its stderr ends with:\n{stderr}"
                )),
                Err(error) => Failure::Other(format!("{error}; stderr:\n{stderr}")),
            });
        }
    };

    let port = match port_of(&ready.pds_url) {
        Some(port) => port,
        None => {
            let _ = process.stop();
            return Err(Failure::Other(format!(
                "the PDS reported a URL without a port: {}",
                ready.pds_url
            )));
        }
    };
    Ok(Pds {
        url: ready.pds_url,
        plc_url: ready.plc_url,
        admin_password: ready.admin_password,
        port,
        data_dir: data_dir.to_path_buf(),
        process: Some(process),
    })
}

fn parse_ready(line: &str) -> Option<Ready> {
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let field = |name: &str| value.get(name)?.as_str().map(str::to_owned);
    Some(Ready {
        pds_url: field("pdsUrl")?.trim_end_matches('/').to_owned(),
        plc_url: field("plcUrl")?.trim_end_matches('/').to_owned(),
        admin_password: field("adminPassword")?,
    })
}

fn port_of(url: &str) -> Option<u16> {
    let authority = url.split_once("://")?.1.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

fn keep_tail(mut from: impl Read, tail: &Mutex<VecDeque<u8>>) {
    let mut buffer = [0u8; 4096];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                tail.extend(&buffer[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
                tail.drain(..excess);
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

fn tail_text(tail: &Mutex<VecDeque<u8>>) -> String {
    let tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let bytes: Vec<u8> = tail.iter().copied().collect();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    if text.is_empty() {
        "(nothing)".to_owned()
    } else {
        text
    }
}

/// A fresh, empty directory of our own under the system temporary directory.
fn create_data_dir() -> Result<PathBuf, String> {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "e2e-pds-{}-{}-{nanos:08x}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let dir = base.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(format!(
                    "cannot create a PDS data directory in {}: {error}",
                    base.display()
                ));
            }
        }
    }
    Err(format!(
        "cannot find an unused name for a PDS data directory in {}",
        base.display()
    ))
}

fn remove_dir(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
}

/// The `node` and `npm` programs, checked to run.
struct Tools {
    node: PathBuf,
    npm: PathBuf,
    node_version: String,
}

impl Tools {
    fn find() -> Result<Tools, String> {
        const INSTALL: &str = "the end-to-end tests start a real PDS and need Node.js 18.7 or \
             newer (20 recommended) with npm on PATH: install them (for example the `nodejs` and \
             `npm` packages of your system, or from nodejs.org)";
        let node = PathBuf::from("node");
        let npm = PathBuf::from(if cfg!(windows) { "npm.cmd" } else { "npm" });
        let node_version = version_of(&node).map_err(|error| format!("{INSTALL}; {error}"))?;
        let major: Option<u32> = node_version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|major| major.parse().ok());
        if major.is_none_or(|major| major < 18) {
            return Err(format!("{INSTALL}; found node {node_version}"));
        }
        version_of(&npm).map_err(|error| format!("{INSTALL}; {error}"))?;
        Ok(Tools {
            node,
            npm,
            node_version,
        })
    }
}

fn version_of(program: &Path) -> Result<String, String> {
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|error| match error.kind() {
            ErrorKind::NotFound => format!("`{}` was not found", program.display()),
            _ => format!("cannot run `{} --version`: {error}", program.display()),
        })?;
    if !output.status.success() {
        return Err(format!(
            "`{} --version` failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs `script` with Node.js where it can `require` the pinned packages (the PDS's own
/// dependencies, such as `@ipld/dag-cbor`), with `args`; returns its standard output.
/// Independent counterparts for tests: data made by the official libraries.
pub fn run_node_script(script: &str, args: &[&str]) -> Result<String, String> {
    let tools = Tools::find()?;
    let modules = install_packages(&tools)?;
    let output = Command::new(&tools.node)
        .arg("-e")
        .arg(script)
        .args(args)
        .env("NODE_PATH", &modules)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run node: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "the node script failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| e.to_string())
}

/// Makes sure the pinned packages are installed and returns their `node_modules` folder.
fn install_packages(tools: &Tools) -> Result<PathBuf, String> {
    let cache = cache_root()?;
    fs::create_dir_all(&cache)
        .map_err(|error| format!("cannot create {}: {error}", cache.display()))?;
    // Absolute, because the server runs in its data directory.
    let cache = cache
        .canonicalize()
        .map_err(|error| format!("cannot resolve {}: {error}", cache.display()))?;
    let key = {
        let mut hash = Fnv64::new();
        for part in [PACKAGE_JSON, PACKAGE_LOCK, tools.node_version.as_bytes()] {
            hash.write(part);
            hash.write(&[0]);
        }
        format!("{:016x}", hash.finish())
    };
    let dir = cache.join(&key);
    let modules = dir.join("node_modules");
    let marker = dir.join(INSTALLED_MARKER);

    let lock_path = cache.join(format!("{key}.lock"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|error| format!("cannot open {}: {error}", lock_path.display()))?;
    lock_exclusive(&lock)
        .map_err(|error| format!("cannot lock {}: {error}", lock_path.display()))?;
    // Held until the end of this function: another process waits here while we install.
    if marker.is_file() && modules.is_dir() {
        return Ok(modules);
    }

    // Nothing, or what an interrupted install left: start over.
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(format!("cannot clear {}: {error}", dir.display())),
    }
    fs::create_dir_all(&dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    for (name, contents) in [
        ("package.json", PACKAGE_JSON),
        ("package-lock.json", PACKAGE_LOCK),
    ] {
        fs::write(dir.join(name), contents)
            .map_err(|error| format!("cannot write {name} into {}: {error}", dir.display()))?;
    }

    let started = Instant::now();
    let _ = writeln!(
        io::stderr(),
        "e2e-pds: installing the pinned PDS packages into {} (first run only, a minute or two)",
        dir.display()
    );
    let mut npm = Command::new(&tools.npm);
    npm.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdin(Stdio::null());
    // better-sqlite3 compiles from source; node-gyp needs the headers of the installed Node,
    // which it would otherwise try to download.
    if std::env::var_os("npm_config_nodedir").is_none()
        && let Some(nodedir) = node_headers_dir()
    {
        npm.env("npm_config_nodedir", nodedir);
    }
    let output = npm
        .output()
        .map_err(|error| format!("cannot run `npm ci` in {}: {error}", dir.display()))?;
    if !output.status.success() {
        let mut log = String::from_utf8_lossy(&output.stdout).into_owned();
        log.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(format!(
            "`npm ci` failed in {} ({}); it ended with:\n{}",
            dir.display(),
            output.status,
            last_chars(log.trim(), 4000)
        ));
    }
    fs::write(&marker, b"npm ci completed\n")
        .map_err(|error| format!("cannot write {}: {error}", marker.display()))?;
    let _ = writeln!(
        io::stderr(),
        "e2e-pds: installed in {:.0?}",
        started.elapsed()
    );
    Ok(modules)
}

fn lock_exclusive(file: &File) -> io::Result<()> {
    file.lock()
}

/// `E2E_PDS_CACHE_DIR`, or `e2e-pds` in the cargo target directory of the running test.
fn cache_root() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("E2E_PDS_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    // Cargo marks its target directory with CACHEDIR.TAG; test binaries live below it.
    if let Ok(exe) = std::env::current_exe()
        && let Some(target) = exe
            .ancestors()
            .skip(1)
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
    {
        return Ok(target.join("e2e-pds"));
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir).join("e2e-pds"));
    }
    match Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        Some(workspace) => Ok(workspace.join("target").join("e2e-pds")),
        None => Err(
            "cannot tell where the cargo target directory is; set E2E_PDS_CACHE_DIR to \
                     a folder for the PDS packages"
                .to_owned(),
        ),
    }
}

/// The prefix whose `include/node` holds the headers of the `node` found on PATH (for example
/// `/usr` for a system Node), if there is one.
fn node_headers_dir() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let node = std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())?;
    let node = node.canonicalize().ok()?;
    let prefix = node.parent()?.parent()?;
    prefix
        .join("include")
        .join("node")
        .join("node_version.h")
        .is_file()
        .then(|| prefix.to_path_buf())
}

fn last_chars(text: &str, count: usize) -> &str {
    if count == 0 {
        return "";
    }
    match text.char_indices().rev().nth(count - 1) {
        Some((index, _)) => &text[index..],
        None => text,
    }
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and Rust version, for cache keys.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_is_parsed() {
        let ready = parse_ready(
            r#"{"pdsUrl":"http://localhost:4000/","plcUrl":"http://localhost:4001","adminPassword":"secret"}"#,
        )
        .expect("a ready line");
        assert_eq!(ready.pds_url, "http://localhost:4000");
        assert_eq!(ready.plc_url, "http://localhost:4001");
        assert_eq!(ready.admin_password, "secret");
        assert!(parse_ready(r#"{"level":30,"msg":"log line"}"#).is_none());
        assert!(parse_ready("not json").is_none());
    }

    #[test]
    fn port_is_read_from_the_url() {
        assert_eq!(port_of("http://localhost:2583"), Some(2583));
        assert_eq!(port_of("http://localhost:2583/xrpc"), Some(2583));
        assert_eq!(port_of("http://localhost"), None);
    }

    #[test]
    fn fnv_matches_the_reference_values() {
        let hash = |bytes: &[u8]| {
            let mut hash = Fnv64::new();
            hash.write(bytes);
            hash.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn last_chars_keeps_the_end() {
        assert_eq!(last_chars("abcdef", 3), "def");
        assert_eq!(last_chars("ab", 3), "ab");
        assert_eq!(last_chars("ééé", 2), "éé");
        assert_eq!(last_chars("abc", 0), "");
    }
}
