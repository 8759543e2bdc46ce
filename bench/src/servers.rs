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
use nix::unistd::{chown, Pid, User};

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
        let deadline = Instant::now() + Duration::from_secs(5);
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
fn spawn_on_port(cmd: &mut Command, port: u16) -> anyhow::Result<(Child, SocketAddr)> {
    let mut child = cmd.process_group(0).spawn()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    wait_listening(addr, &mut child)?;
    Ok((child, addr))
}

/// Reads "... listening on [http://]ADDR" from the first line of stdout.
fn read_address(child: &mut Child) -> anyhow::Result<SocketAddr> {
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or("")
        .trim_start_matches("http://");
    addr.parse()
        .with_context(|| format!("unexpected startup line {line:?}"))
}

fn nobody() -> anyhow::Result<(nix::unistd::Uid, nix::unistd::Gid)> {
    let u = User::from_name("nobody")?.context("no user nobody")?;
    Ok((u.uid, u.gid))
}

/// Makes `path` usable by nginx's workers, which run as nobody when started as root.
fn give_to_nobody(path: &Path) -> anyhow::Result<()> {
    if nix::unistd::geteuid().is_root() {
        let (uid, gid) = nobody()?;
        chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Stores a value before a server is measured: over HTTP for the stores
/// that keep values in their own files (asmkv's log, Redis, etcd), else
/// straight into the data directory.
pub fn preload(run: &Running, key: &str, value: &[u8]) -> anyhow::Result<()> {
    let a = run.addr;
    let status = match run.kind {
        Kind::Asmkv | Kind::AsmkvNoSync => ureq::put(&format!("http://{a}/{key}"))
            .send(value)?
            .status(),
        Kind::RedisWebdis => ureq::put(&format!("http://{a}/SET/{key}"))
            .send(value)?
            .status(),
        Kind::Etcd => {
            let mut form = b"value=".to_vec();
            for &b in value {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    form.push(b);
                } else {
                    form.extend_from_slice(format!("%{b:02X}").as_bytes());
                }
            }
            ureq::put(&format!("http://{a}/v2/keys/{key}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(&form[..])?
                .status()
        }
        _ => ureq::http::StatusCode::OK,
    };
    if !matches!(
        run.kind,
        Kind::NginxDav | Kind::Peer | Kind::PeerNoSync | Kind::Seed
    ) {
        anyhow::ensure!(status.is_success(), "preloading {key}: {status}");
        return Ok(());
    }
    let path = run.data.join(key);
    std::fs::write(&path, value)?;
    if run.kind == Kind::NginxDav {
        give_to_nobody(&path)?;
    }
    Ok(())
}

/// Whether the next servers started log every request: asmkv to
/// `--access-log FILE`, nginx to `access_log FILE` (its default, combined).
pub static ACCESS_LOG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn access_log_on() -> bool {
    ACCESS_LOG.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn start(kind: Kind, tools: &Tools, workers: usize) -> anyhow::Result<Running> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
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
    let data = data.to_path_buf();
    let scratch = tempfile::tempdir()?;
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))?;
    let w = workers.to_string();
    let mut front = None;
    let (mut child, addr) = match kind {
        Kind::RedisWebdis => {
            let (redis, webdis) = tools
                .redis
                .as_ref()
                .context("redis-server/webdis not installed")?;
            let rport = free_port()?;
            let mut cmd = Command::new(redis);
            cmd.args(["--bind", "127.0.0.1", "--port", &rport.to_string(), "--dir"])
                .arg(&data)
                .args([
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--save",
                    "",
                    "--daemonize",
                    "no",
                    "--maxclients",
                    "20000",
                ])
                .stdout(Stdio::null());
            let (redis_child, _) = spawn_on_port(&mut cmd, rport)?;
            let port = free_port()?;
            let conf = scratch.path().join("webdis.json");
            std::fs::write(
                &conf,
                format!(
                    r#"{{"redis_host":"127.0.0.1","redis_port":{rport},"http_host":"127.0.0.1","http_port":{port},"threads":{workers},"pool_size":{pool},"daemonize":false,"websockets":false,"database":0,"verbosity":0,"logfile":"{log}"}}"#,
                    pool = 8 * workers,
                    log = scratch.path().join("webdis.log").display()
                ),
            )?;
            let mut cmd = Command::new(webdis);
            cmd.arg(&conf).stdout(Stdio::null()).stderr(Stdio::null());
            let (webdis_child, addr) = spawn_on_port(&mut cmd, port)?;
            front = Some(webdis_child);
            (redis_child, addr)
        }
        Kind::Etcd => {
            let etcd = tools.etcd.as_ref().context("etcd not installed")?;
            let port = free_port()?;
            let peer = free_port()?;
            let mut cmd = Command::new(etcd);
            cmd.arg("--data-dir")
                .arg(data.join("etcd"))
                .arg("--listen-client-urls")
                .arg(format!("http://127.0.0.1:{port}"))
                .arg("--advertise-client-urls")
                .arg(format!("http://127.0.0.1:{port}"))
                .arg("--listen-peer-urls")
                .arg(format!("http://127.0.0.1:{peer}"))
                .arg("--initial-advertise-peer-urls")
                .arg(format!("http://127.0.0.1:{peer}"))
                .arg("--initial-cluster")
                .arg(format!("default=http://127.0.0.1:{peer}"))
                .args(["--enable-v2", "--log-level", "error"])
                .args(["--max-request-bytes", "8388608"]) // room for the 1 MiB value
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            spawn_on_port(&mut cmd, port)?
        }
        Kind::Asmkv | Kind::AsmkvNoSync => {
            let mut cmd = Command::new(&tools.asmkv);
            cmd.args(["--listen", "127.0.0.1:0", "--workers", &w, "--data"])
                .arg(&data);
            if kind == Kind::AsmkvNoSync {
                cmd.args(["--sync", "none"]);
            }
            if access_log_on() {
                cmd.arg("--access-log")
                    .arg(scratch.path().join("access.log"));
            }
            // its error log, out of the harness's own output
            let errors = std::fs::File::create(scratch.path().join("error.log"))?;
            let mut child = cmd
                .stdout(Stdio::piped())
                .stderr(errors)
                .process_group(0)
                .spawn()?;
            let addr = read_address(&mut child)?;
            (child, addr)
        }
        Kind::Peer | Kind::PeerNoSync => {
            let mut cmd = Command::new(&tools.bench);
            cmd.args(["peer", "--listen", "127.0.0.1:0", "--threads", &w, "--data"])
                .arg(&data);
            if kind == Kind::PeerNoSync {
                cmd.arg("--no-sync");
            }
            let mut child = cmd.stdout(Stdio::piped()).process_group(0).spawn()?;
            let addr = read_address(&mut child)?;
            (child, addr)
        }
        Kind::NginxDav => {
            let port = free_port()?;
            let prefix = scratch.path();
            for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                std::fs::create_dir(prefix.join(sub))?;
                give_to_nobody(&prefix.join(sub))?;
            }
            give_to_nobody(&data)?;
            let conf = nginx_conf(prefix, &data, port, workers);
            std::fs::write(prefix.join("nginx.conf"), conf)?;
            let mut cmd = Command::new(&tools.nginx);
            cmd.arg("-p")
                .arg(prefix)
                .arg("-c")
                .arg(prefix.join("nginx.conf"))
                .arg("-e")
                .arg(prefix.join("error.log"))
                .stdout(Stdio::null());
            spawn_on_port(&mut cmd, port)?
        }
        Kind::Seed => {
            let src = tools.seed_source.as_ref().context("no seed source")?;
            let port = free_port()?;
            let text = std::fs::read_to_string(src)?;
            if !text.contains(".equ PORT, 8080") {
                bail!("seed source has no '.equ PORT, 8080' to retarget");
            }
            let seed_dir = data.parent().context("data directory")?;
            let s = seed_dir.join("seed.s");
            std::fs::write(
                &s,
                text.replace(".equ PORT, 8080", &format!(".equ PORT, {port}")),
            )?;
            let o = seed_dir.join("seed.o");
            let bin = seed_dir.join("seed");
            let ok = Command::new("as")
                .arg("-o")
                .arg(&o)
                .arg(&s)
                .status()?
                .success()
                && Command::new("ld")
                    .arg("-o")
                    .arg(&bin)
                    .arg(&o)
                    .status()?
                    .success();
            if !ok {
                bail!("assembling the seed failed");
            }
            let mut cmd = Command::new(&bin);
            cmd.current_dir(&data).stdout(Stdio::null());
            spawn_on_port(&mut cmd, port)?
        }
    };
    if let Ok(Some(status)) = child.try_wait() {
        bail!("{} exited at startup: {status}", kind.label());
    }
    Ok(Running {
        kind,
        addr,
        child,
        front,
        data,
        dir,
        _scratch: scratch,
    })
}

fn nginx_conf(prefix: &Path, data: &Path, port: u16, workers: usize) -> String {
    let p = prefix.display();
    format!(
        r#"worker_processes {workers};
daemon off;
pid {p}/nginx.pid;
worker_rlimit_nofile 20000;
events {{ worker_connections 20000; }}
http {{
    access_log {access_log};
    error_log {p}/error.log warn;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {data};
        location / {{
            autoindex on;
            autoindex_format json;
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"#,
        data = data.display(),
        access_log = if access_log_on() {
            format!("{p}/access.log")
        } else {
            "off".to_string()
        }
    )
}

/// Resident memory of a process and all its descendants, in KiB.
pub fn tree_rss_kib(root: i32) -> u64 {
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
    tree.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}
