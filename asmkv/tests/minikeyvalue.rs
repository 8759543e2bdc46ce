//! asmkv as the volume servers of minikeyvalue (vendor/minikeyvalue), the
//! distributed coordinator it scales out with: minikeyvalue's own test suite
//! passes unmodified over asmkv volumes; `mkv rebuild` recreates the index from
//! the volumes' listings (nginx `autoindex_format json`); `mkv rebalance`
//! moves keys onto an added volume. Every key reads back after each.
//!
//! Needs Go and minikeyvalue's libraries (Debian: golang-go
//! golang-github-syndtr-goleveldb-dev golang-github-google-uuid-dev) and
//! python3 with requests (python3-requests). Uses the ports minikeyvalue's
//! test suite is written for: 3000 (the master) to 3005 (volumes).
mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const TEST: &str = "minikeyvalue_runs_on_asmkv_volumes";
const GO_PACKAGES: &str =
    "golang-go golang-github-syndtr-goleveldb-dev golang-github-google-uuid-dev";

fn vendored() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vendor/minikeyvalue")
}

/// Builds `mkv` from the vendored source (as its VENDORED note says), once.
fn mkv() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("minikeyvalue");
    let bin = dir.join("mkv");
    if bin.exists() {
        return Ok(bin);
    }
    if !Path::new("/usr/share/gocode/src/github.com/syndtr/goleveldb").exists()
        || !Path::new("/usr/share/gocode/src/github.com/google/uuid").exists()
    {
        return Err("minikeyvalue's Go libraries are missing".into());
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(vendored().join("src"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", dir.join("gocache"))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(bin)
}

/// A python3 that has requests: the one on PATH, or Debian's.
fn python() -> Option<String> {
    ["python3", "/usr/bin/python3"].into_iter().find_map(|p| {
        Command::new(p)
            .args(["-c", "import requests"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| p.to_string())
    })
}

fn wait_port(port: u16) {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Master(Child);

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        // the port is free again once nothing accepts on it
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect("127.0.0.1:3000").is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn volumes_arg(n: usize) -> String {
    (1..=n)
        .map(|i| format!("localhost:{}", 3000 + i))
        .collect::<Vec<_>>()
        .join(",")
}

fn master(mkv: &Path, db: &Path, volumes: usize) -> Master {
    let child = Command::new(mkv)
        .args(["-volumes", &volumes_arg(volumes), "-db"])
        .arg(db)
        .args(["-port", "3000", "server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mkv");
    wait_port(3000);
    Master(child)
}

/// Runs `mkv rebuild` or `mkv rebalance` to its end.
fn mkv_command(mkv: &Path, db: &Path, volumes: usize, command: &str) {
    let out = Command::new(mkv)
        .args(["-volumes", &volumes_arg(volumes), "-db"])
        .arg(db)
        .arg(command)
        .output()
        .expect("run mkv");
    assert!(
        out.status.success(),
        "mkv {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_back(keys: &[(String, Vec<u8>)], when: &str) {
    let a = agent();
    for (k, v) in keys {
        let r = get(&a, &format!("http://127.0.0.1:3000/{k}"));
        assert_eq!(r.status, 200, "{when}: {k}");
        assert_eq!(&r.body, v, "{when}: {k}");
    }
}

#[test]
fn minikeyvalue_runs_on_asmkv_volumes() {
    if !need(TEST, "go", GO_PACKAGES) {
        return;
    }
    let Some(python) = python() else {
        skip(
            TEST,
            "needs python3 with requests (apt-get install python3-requests)",
        );
        return;
    };
    let mkv = match mkv() {
        Ok(bin) => bin,
        Err(why) => {
            skip(TEST, &format!("{why} (apt-get install {GO_PACKAGES})"));
            return;
        }
    };
    for port in 3000..=3005 {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is taken: minikeyvalue's test suite needs 3000-3005"
        );
    }
    // five asmkv volumes on the ports minikeyvalue's suite waits for; the
    // master uses the first three, the fourth is added later
    let tmp = tempfile::tempdir().unwrap();
    let volumes: Vec<Server> = (1..=5)
        .map(|i| {
            let listen = format!("127.0.0.1:{}", 3000 + i);
            Server::start_in(&tmp.path().join(format!("vol{i}")), &["--listen", &listen])
        })
        .collect();
    let db = tmp.path().join("indexdb");
    let m = master(&mkv, &db, 3);

    // 1. minikeyvalue's own tests, unmodified
    let out = Command::new(&python)
        .arg("tools/test.py")
        .current_dir(vendored())
        .output()
        .expect("run test.py");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tools/test.py failed:\n{report}");
    assert!(report.contains("OK"), "{report}");
    eprintln!(
        "{}",
        report.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
    );

    // keys of our own, through the master
    let a = agent();
    let mut keys = Vec::new();
    for i in 0..200u32 {
        let k = format!("scale-{i:03}-{}", "x".repeat((i % 7) as usize));
        let v = format!("value {i} ")
            .repeat(1 + (i % 50) as usize)
            .into_bytes();
        let r = a
            .put(&format!("http://127.0.0.1:3000/{k}"))
            .send(&v[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{k}");
        keys.push((k, v));
    }
    read_back(&keys, "written");
    // each volume holds a replica of every key (3 replicas on 3 volumes), in
    // minikeyvalue's layout: /svXX/ab/cd/BASE64
    for v in &volumes[..3] {
        let top = get(&a, &v.url("/"));
        assert_eq!(top.status, 200);
        assert!(String::from_utf8_lossy(&top.body).contains("\"name\":\"sv"));
    }

    // 2. the index is lost: rebuild it from the volumes' listings
    drop(m);
    std::fs::remove_dir_all(&db).unwrap();
    mkv_command(&mkv, &db, 3, "rebuild");
    let m = master(&mkv, &db, 3);
    read_back(&keys, "after rebuild");
    drop(m);

    // 3. a fourth volume: rebalance moves a share of the keys onto it
    assert!(list_is_empty(&volumes[3]));
    mkv_command(&mkv, &db, 4, "rebalance");
    let m = master(&mkv, &db, 4);
    read_back(&keys, "after rebalance");
    assert!(!list_is_empty(&volumes[3]), "the new volume got keys");
    drop(m);
}

fn list_is_empty(v: &Server) -> bool {
    let r = get(&agent(), &v.url("/"));
    assert_eq!(r.status, 200);
    r.body == b"[]"
}
