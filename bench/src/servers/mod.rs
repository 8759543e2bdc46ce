//! The servers under test: each started on a free loopback port with a fresh
//! temporary data directory, in its own process group, and stopped afterwards.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

mod asmkv;
mod etcd;
mod nginx;
mod redis;
mod rust_peer;
mod seed;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Asmkv,
    AsmkvNoSync,
    RedisWebdis,
    Etcd,
    NginxDav,
    Peer,
    PeerNoSync,
    Seed,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Asmkv,
        Kind::AsmkvNoSync,
        Kind::RedisWebdis,
        Kind::Etcd,
        Kind::NginxDav,
        Kind::Peer,
        Kind::PeerNoSync,
        Kind::Seed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Asmkv => "asmkv",
            Kind::AsmkvNoSync => "asmkv --sync none",
            Kind::RedisWebdis => "redis+webdis (fsync always)",
            Kind::Etcd => "etcd v2",
            Kind::NginxDav => "nginx-dav (no fsync)",
            Kind::Peer => "rust-peer",
            Kind::PeerNoSync => "rust-peer no fsync",
            Kind::Seed => "seed",
        }
    }

    pub fn is_asmkv(self) -> bool {
        matches!(self, Kind::Asmkv | Kind::AsmkvNoSync)
    }

    /// Whether an acknowledged write is on disk (flushed before the answer).
    pub fn durable(self) -> bool {
        matches!(
            self,
            Kind::Asmkv | Kind::RedisWebdis | Kind::Etcd | Kind::Peer
        )
    }

    /// The HTTP API it speaks, for the load script: kv, webdis or etcd.
    pub fn style(self) -> &'static str {
        match self {
            Kind::RedisWebdis => "webdis",
            Kind::Etcd => "etcd",
            _ => "kv",
        }
    }
}

/// Paths of the programs the harness runs.
pub struct Tools {
    pub asmkv: PathBuf,
    pub bench: PathBuf,
    pub nginx: PathBuf,
    pub seed_source: Option<PathBuf>,
    /// redis-server and webdis (Debian: redis-server, webdis), if installed
    pub redis: Option<(PathBuf, PathBuf)>,
    /// etcd (Debian: etcd-server), if installed
    pub etcd: Option<PathBuf>,
}

pub struct Running {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub child: Child,
    /// a second process of the same server (webdis in front of redis)
    pub front: Option<Child>,
    pub data: PathBuf,
    dir: Option<tempfile::TempDir>,
    /// configuration and logs of the run (nginx, webdis)
    _scratch: tempfile::TempDir,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Resident memory of every process of the server, in KiB.
    pub fn rss_kib(&self) -> u64 {
        tree_rss_kib(self.pid())
            + self
                .front
                .as_ref()
                .map_or(0, |f| tree_rss_kib(f.id() as i32))
    }

    /// Takes the server's files out of its hands: they are deleted when the
    /// returned directory is dropped, not when the server stops.
    pub fn keep_files(&mut self) -> Option<tempfile::TempDir> {
        self.dir.take()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let pg = Pid::from_raw(self.pid());
        let _ = killpg(pg, Signal::SIGTERM);
        // (asmkv saves its index as it stops: a second or so a million keys)
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = killpg(pg, Signal::SIGKILL);
        let _ = self.child.wait();
        if let Some(front) = &mut self.front {
            let _ = front.kill();
            let _ = front.wait();
        }
    }
}

/// What starting one server is given: where its data and its own files go.
pub struct Launch<'a> {
    pub kind: Kind,
    pub tools: &'a Tools,
    pub workers: usize,
    pub data: &'a Path,
    /// configuration and logs of the run, deleted with it
    pub scratch: &'a Path,
}

/// The processes of a server that accepts connections, and where.
pub struct Started {
    pub child: Child,
    /// a second process of the same server (webdis in front of redis)
    pub front: Option<Child>,
    pub addr: SocketAddr,
}

impl Kind {
    /// Starts this kind of server; each kind's own module knows how.
    fn start(self, l: &Launch) -> anyhow::Result<Started> {
        match self {
            Kind::Asmkv | Kind::AsmkvNoSync => asmkv::start(l),
            Kind::RedisWebdis => redis::start(l),
            Kind::Etcd => etcd::start(l),
            Kind::NginxDav => nginx::start(l),
            Kind::Peer | Kind::PeerNoSync => rust_peer::start(l),
            Kind::Seed => seed::start(l),
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_listening(addr: SocketAddr, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("server exited at startup: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("server did not start listening on {addr}")
}

/// Starts a server that listens on a port it was told, in its own process
/// group, and waits until it accepts connections.
fn spawn_on_port(cmd: &mut Command, port: u16) -> anyhow::Result<Started> {
    let mut child = cmd.process_group(0).spawn()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    wait_listening(addr, &mut child)?;
    Ok(Started {
        child,
        front: None,
        addr,
    })
}

/// `--listen 127.0.0.1:0 WORKERS_FLAG N --data DATA`, the arguments of a
/// server that picks its own port (asmkv, the Rust peer).
fn any_port_args(cmd: &mut Command, workers_flag: &str, l: &Launch) {
    cmd.args(["--listen", "127.0.0.1:0", workers_flag])
        .arg(l.workers.to_string())
        .arg("--data")
        .arg(l.data);
}

/// Starts a server that picks its own port and says which on its first line
/// of stdout ("... listening on [http://]ADDR"), in its own process group;
/// `lines` lines in all are read (what it prints after the first, before it
/// serves: asmkv's metrics address).
fn spawn_announcing(cmd: &mut Command, lines: usize) -> anyhow::Result<Started> {
    let mut child = cmd.stdout(Stdio::piped()).process_group(0).spawn()?;
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().context("stdout")?);
    out.read_line(&mut line)?;
    for _ in 1..lines {
        out.read_line(&mut String::new())?;
    }
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or("")
        .trim_start_matches("http://");
    let addr = addr
        .parse()
        .with_context(|| format!("unexpected startup line {line:?}"))?;
    Ok(Started {
        child,
        front: None,
        addr,
    })
}

/// A temporary directory the servers' other users (nginx's workers) can enter.
fn open_tempdir() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// Stores a value before a server is measured: over HTTP for the stores
/// that keep values in their own files (asmkv's log, Redis, etcd), else
/// straight into the data directory.
/// The fields a `meta` scenario's writes carry (wrk.rs sends the same).
pub const METADATA: [(&str, &str); 3] = [
    ("Content-Type", "text/plain"),
    ("X-Object-Meta-Owner", "bench"),
    ("X-Object-Meta-Tag", "64"),
];

/// Stores `key` on an asmkv with the METADATA fields.
pub fn preload_with_metadata(run: &Running, key: &str, value: &[u8]) -> anyhow::Result<()> {
    let mut req = ureq::put(&format!("http://{}/{key}", run.addr));
    for (name, v) in METADATA {
        req = req.header(name, v);
    }
    let status = req.send(value)?.status();
    anyhow::ensure!(status.is_success(), "preloading {key}: {status}");
    Ok(())
}

pub fn preload(run: &Running, key: &str, value: &[u8]) -> anyhow::Result<()> {
    let a = run.addr;
    let status = match run.kind {
        Kind::Asmkv | Kind::AsmkvNoSync => ureq::put(&format!("http://{a}/{key}"))
            .send(value)?
            .status(),
        Kind::RedisWebdis => ureq::put(&format!("http://{a}/SET/{key}"))
            .send(value)?
            .status(),
        Kind::Etcd => ureq::put(&format!("http://{a}/v2/keys/{key}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(&etcd::form_value(value)[..])?
            .status(),
        Kind::NginxDav | Kind::Peer | Kind::PeerNoSync | Kind::Seed => {
            let path = run.data.join(key);
            std::fs::write(&path, value)?;
            if run.kind == Kind::NginxDav {
                nginx::give_to_nobody(&path)?;
            }
            return Ok(());
        }
    };
    anyhow::ensure!(status.is_success(), "preloading {key}: {status}");
    Ok(())
}

/// Whether the next servers started log every request: asmkv to
/// `--access-log FILE`, nginx to `access_log FILE` (its default, combined).
pub static ACCESS_LOG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn access_log_on() -> bool {
    ACCESS_LOG.load(std::sync::atomic::Ordering::Relaxed)
}

/// The port of the metrics socket of the next asmkv started (its
/// `--metrics`, for `GET /backup`), 0 for none.
pub static METRICS_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// A free loopback port, for a server's second socket.
pub fn spare_port() -> anyhow::Result<u16> {
    free_port()
}

pub fn start(kind: Kind, tools: &Tools, workers: usize) -> anyhow::Result<Running> {
    let dir = open_tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    start_on(kind, tools, workers, &data, Some(dir))
}

/// Starts a server on an existing data directory (`dir`, if given, holds it
/// and goes with the server).
pub fn start_on(
    kind: Kind,
    tools: &Tools,
    workers: usize,
    data: &Path,
    dir: Option<tempfile::TempDir>,
) -> anyhow::Result<Running> {
    let scratch = open_tempdir()?;
    let Started {
        mut child,
        front,
        addr,
    } = kind.start(&Launch {
        kind,
        tools,
        workers,
        data,
        scratch: scratch.path(),
    })?;
    if let Ok(Some(status)) = child.try_wait() {
        bail!("{} exited at startup: {status}", kind.label());
    }
    Ok(Running {
        kind,
        addr,
        child,
        front,
        data: data.to_path_buf(),
        dir,
        _scratch: scratch,
    })
}

/// A process and all its descendants.
fn tree_of(root: i32) -> Vec<i32> {
    let mut parent_of: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            if let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() {
                if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                    if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
                        if let Some(ppid) =
                            rest.split_whitespace().nth(1).and_then(|s| s.parse().ok())
                        {
                            parent_of.push((pid, ppid));
                        }
                    }
                }
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// The field `name` (in kB) of `/proc/PID/file`, summed over a process and
/// all its descendants.
fn tree_sum_kib(root: i32, file: &str, name: &str) -> u64 {
    tree_of(root)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}

/// Resident memory of a process and all its descendants, in KiB.
pub fn tree_rss_kib(root: i32) -> u64 {
    tree_sum_kib(root, "status", "VmRSS:")
}

/// Proportional memory (PSS) of a process and all its descendants, in KiB:
/// pages shared between them (asmkv's index) count once.
pub fn tree_pss_kib(root: i32) -> u64 {
    tree_sum_kib(root, "smaps_rollup", "Pss:")
}

pub fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

impl Kind {
    /// The program this kind runs and its size on disk, for the sizes table
    /// (the seed's is known once it is assembled); None for a variant of
    /// another kind's program, and for a peer that is not installed.
    pub fn program(self, tools: &Tools) -> Option<(String, u64)> {
        let (label, size) = match self {
            Kind::AsmkvNoSync | Kind::PeerNoSync => return None,
            Kind::Asmkv => ("`asmkv` (static)", file_size(&tools.asmkv)),
            Kind::NginxDav => ("`nginx` (+ shared libraries)", file_size(&tools.nginx)),
            Kind::Peer => ("`bench peer` (tokio + axum)", file_size(&tools.bench)),
            Kind::RedisWebdis => {
                let (r, w) = tools.redis.as_ref()?;
                (
                    "`redis-server` + `webdis` (+ shared libraries)",
                    file_size(r) + file_size(w),
                )
            }
            Kind::Etcd => ("`etcd` (Go, static)", file_size(tools.etcd.as_ref()?)),
            Kind::Seed => ("`seed` (as + ld)", 0),
        };
        Some((label.to_string(), size))
    }
}
