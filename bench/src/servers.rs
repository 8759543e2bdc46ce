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
    NginxDav,
    Peer,
    PeerNoSync,
    Seed,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Asmkv,
        Kind::AsmkvNoSync,
        Kind::NginxDav,
        Kind::Peer,
        Kind::PeerNoSync,
        Kind::Seed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Asmkv => "asmkv",
            Kind::AsmkvNoSync => "asmkv --sync none",
            Kind::NginxDav => "nginx-dav (no fsync)",
            Kind::Peer => "rust-peer",
            Kind::PeerNoSync => "rust-peer no fsync",
            Kind::Seed => "seed",
        }
    }

    pub fn is_asmkv(self) -> bool {
        matches!(self, Kind::Asmkv | Kind::AsmkvNoSync)
    }
}

/// Paths of the programs the harness runs.
pub struct Tools {
    pub asmkv: PathBuf,
    pub bench: PathBuf,
    pub nginx: PathBuf,
    pub seed_source: Option<PathBuf>,
}

pub struct Running {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub child: Child,
    pub data: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
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

/// Stores a value before a server is measured: with a PUT for asmkv (whose
/// values live in its log), else straight into its data directory.
pub fn preload(run: &Running, key: &str, value: &[u8]) -> anyhow::Result<()> {
    if matches!(run.kind, Kind::Asmkv | Kind::AsmkvNoSync) {
        let status = ureq::put(&format!("http://{}/{key}", run.addr))
            .send(value)?
            .status();
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

pub fn start(kind: Kind, tools: &Tools, workers: usize) -> anyhow::Result<Running> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    let w = workers.to_string();
    let (mut child, addr) = match kind {
        Kind::Asmkv | Kind::AsmkvNoSync => {
            let mut cmd = Command::new(&tools.asmkv);
            cmd.args(["--listen", "127.0.0.1:0", "--workers", &w, "--data"])
                .arg(&data);
            if kind == Kind::AsmkvNoSync {
                cmd.args(["--sync", "none"]);
            }
            let mut child = cmd.stdout(Stdio::piped()).process_group(0).spawn()?;
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
            let prefix = dir.path();
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
            let s = dir.path().join("seed.s");
            std::fs::write(
                &s,
                text.replace(".equ PORT, 8080", &format!(".equ PORT, {port}")),
            )?;
            let o = dir.path().join("seed.o");
            let bin = dir.path().join("seed");
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
        data,
        dir: Some(dir),
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
    access_log off;
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
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"#,
        data = data.display()
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
