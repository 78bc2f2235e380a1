//! Real Qdrant server processes on loopback, for the tests of the server backend (shared by
//! docket-index's tests and the binary's integration tests through `#[path]`).
//!
//! The binary is `$QDRANT_BIN`, else `<cache>/docket/qdrant/qdrant` (`$XDG_CACHE_HOME` or
//! `~/.cache`), where README's "Qdrant for the tests" section says to put one built from
//! Qdrant's release source. Without either, [`qdrant_binary`] is `None` and the tests say
//! they are skipped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Qdrant binary to test against, if there is one.
pub fn qdrant_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("QDRANT_BIN").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let bin = cache.join("docket/qdrant/qdrant");
    bin.is_file().then_some(bin)
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Ports of one node.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub http: u16,
    pub grpc: u16,
    pub p2p: u16,
}

impl Ports {
    pub fn free() -> Ports {
        Ports {
            http: free_port(),
            grpc: free_port(),
            p2p: free_port(),
        }
    }
}

/// One Qdrant process; killed when dropped.
#[derive(Debug)]
pub struct QdrantNode {
    bin: PathBuf,
    storage: PathBuf,
    pub ports: Ports,
    /// `Some(peer URL)` for a node that joins a cluster through that peer; `Some("")`
    /// for the cluster's first node; `None` for a single server.
    bootstrap: Option<String>,
    child: Option<Child>,
}

impl QdrantNode {
    /// A single server storing under `storage`.
    pub fn single(bin: &Path, storage: &Path) -> std::io::Result<QdrantNode> {
        Self::launch(bin, storage, Ports::free(), None)
    }

    /// The first node of a cluster.
    pub fn first_of_cluster(bin: &Path, storage: &Path) -> std::io::Result<QdrantNode> {
        Self::launch(bin, storage, Ports::free(), Some(String::new()))
    }

    /// A node joining the cluster of `peer`.
    pub fn joining(bin: &Path, storage: &Path, peer: &QdrantNode) -> std::io::Result<QdrantNode> {
        Self::launch(bin, storage, Ports::free(), Some(peer.p2p_url()))
    }

    fn launch(
        bin: &Path,
        storage: &Path,
        ports: Ports,
        bootstrap: Option<String>,
    ) -> std::io::Result<QdrantNode> {
        let mut node = QdrantNode {
            bin: bin.to_owned(),
            storage: storage.to_owned(),
            ports,
            bootstrap,
            child: None,
        };
        node.start()?;
        Ok(node)
    }

    /// Start (or restart, after [`kill`](Self::kill)) the process and wait until it
    /// answers.
    pub fn start(&mut self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.storage)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.storage.join("qdrant.log"))?;
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(&self.storage)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.ports.http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.ports.grpc.to_string())
            .env(
                "QDRANT__STORAGE__STORAGE_PATH",
                self.storage.join("storage"),
            )
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                self.storage.join("snapshots"),
            )
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__LOG_LEVEL", "WARN")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(peer) = &self.bootstrap {
            cmd.env("QDRANT__CLUSTER__ENABLED", "true")
                .env("QDRANT__CLUSTER__P2P__PORT", self.ports.p2p.to_string())
                .arg("--uri")
                .arg(self.p2p_url());
            // A restarted node already knows its peers from its storage.
            if !peer.is_empty() && !self.storage.join("storage/raft_state.json").exists() {
                cmd.arg("--bootstrap").arg(peer);
            }
        }
        self.child = Some(cmd.spawn()?);
        self.wait_ready(Duration::from_secs(60))
    }

    fn wait_ready(&mut self, limit: Duration) -> std::io::Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                return Err(std::io::Error::other(format!(
                    "qdrant exited with {status} (log: {})",
                    self.storage.join("qdrant.log").display()
                )));
            }
            if http_get(self.ports.http, "/readyz").is_some_and(|(code, _)| code == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(std::io::Error::other("qdrant did not become ready in time"))
    }

    /// SIGKILL the process (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The gRPC URL docket talks to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.grpc)
    }

    pub fn p2p_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.p2p)
    }

    /// GET a path of the REST API: status code and body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.ports.http, path)
    }

    /// POST a JSON body to a path of the REST API: status code and body.
    pub fn post(&self, path: &str, body: &str) -> Option<(u16, String)> {
        http(
            self.ports.http,
            &format!(
                "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    }
}

impl Drop for QdrantNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.0 GET on loopback.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
    )
}

/// Send one HTTP/1.0 request on loopback; status code and body of the response.
fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((code, body))
}
