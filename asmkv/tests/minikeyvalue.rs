//! asmkv as the volume servers of minikeyvalue (vendor/minikeyvalue), the
//! distributed coordinator it scales out with: minikeyvalue's own test suite
//! passes unmodified over asmkv volumes; `mkv rebuild` recreates the index from
//! the volumes' listings (nginx `autoindex_format json`); `mkv rebalance`
//! moves keys onto an added volume. Every key reads back after each. And
//! `mkv rebuild` of a volume holding 100,000 keys, in minikeyvalue's layout,
//! finds every key.
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

/// Builds `mkv` from the vendored source (as its VENDORED note says), once
/// (the tests run at once: one builds, the other waits).
fn mkv() -> Result<PathBuf, String> {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
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

struct Master(Child, u16);

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        // the port is free again once nothing accepts on it
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = format!("127.0.0.1:{}", self.1);
        while TcpStream::connect(&addr).is_ok() && Instant::now() < deadline {
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
    master_with(mkv, db, &["-volumes", &volumes_arg(volumes)], 3000)
}

/// `mkv server` with these flags, on `port`.
fn master_with(mkv: &Path, db: &Path, flags: &[&str], port: u16) -> Master {
    let child = Command::new(mkv)
        .args(flags)
        .arg("-db")
        .arg(db)
        .args(["-port", &port.to_string(), "server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mkv");
    wait_port(port);
    Master(child, port)
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

/// Where minikeyvalue puts `key` on `volume`, its only volume (one replica):
/// lib.go's `key2volume` picks the subvolume by the last four bytes of
/// md5(key, volume), `key2path` two directories by md5(key), then the key in
/// standard base64: `/svXX/aa/bb/KEY` (as the bench's `mkv.rs`).
fn key_path(key: &[u8], volume: &str, subvolumes: u32) -> String {
    use base64::Engine as _;
    use md5::{Digest, Md5};
    let score = Md5::new().chain_update(key).chain_update(volume).finalize();
    let sv = u32::from_be_bytes([score[12], score[13], score[14], score[15]]) % subvolumes;
    let m = Md5::digest(key);
    let name = base64::engine::general_purpose::STANDARD.encode(key);
    format!("/sv{sv:02X}/{:02x}/{:02x}/{name}", m[0], m[1])
}

const REBUILD: &str = "mkv_rebuilds_a_volume_of_100000_keys";

/// A volume holding 100,000 keys in minikeyvalue's layout (10 subvolumes:
/// nearly every one of the 655,360 possible leaf directories is listed, and
/// about 93,000 hold keys): `mkv rebuild` finds every key, and each reads
/// back through a master on the rebuilt index.
#[test]
fn mkv_rebuilds_a_volume_of_100000_keys() {
    if !need(REBUILD, "go", GO_PACKAGES) {
        return;
    }
    let mkv = match mkv() {
        Ok(bin) => bin,
        Err(why) => {
            skip(REBUILD, &format!("{why} (apt-get install {GO_PACKAGES})"));
            return;
        }
    };
    let v = Server::start_with(&["--sync", "none"]);
    let volume = v.addr.to_string();
    let keys: Vec<Vec<u8>> = (0..100_000u32)
        .map(|i| format!("/rebuild-{i:06}").into_bytes()) // (mkv's keys are paths)
        .filter(|k| {
            use base64::Engine as _;
            !base64::engine::general_purpose::STANDARD
                .encode(k)
                .contains('/')
        })
        .collect();
    // written straight to the volume, pipelined, as mkv would lay them out
    let mut raw = Raw::connect(v.addr);
    for chunk in keys.chunks(1000) {
        let mut batch = Vec::new();
        for k in chunk {
            batch.extend_from_slice(
                format!(
                    "PUT {} HTTP/1.1\r\nHost: v\r\nContent-Length: {}\r\n\r\n",
                    key_path(k, &volume, 10),
                    k.len()
                )
                .as_bytes(),
            );
            batch.extend_from_slice(k);
        }
        raw.send(&batch);
        for _ in chunk {
            assert_eq!(raw.response().status, 201);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("index");
    let flags = ["-volumes", &volume, "-replicas", "1", "-subvolumes", "10"];
    let started = Instant::now();
    let out = Command::new(&mkv)
        .args(flags)
        .arg("-db")
        .arg(&db)
        .arg("rebuild")
        .stdin(Stdio::null())
        .output()
        .expect("run mkv rebuild");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "mkv rebuild: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("/rebuild-"))
        .count();
    assert_eq!(found, keys.len(), "keys mkv rebuild found");
    eprintln!("mkv rebuild of {} keys took {took:?}", keys.len());
    // every key reads back through a master on the rebuilt index
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _m = master_with(&mkv, &db, &flags, port);
    let keys = std::sync::Arc::new(keys);
    let readers: Vec<_> = (0..4)
        .map(|t| {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let a = agent();
                for k in keys.iter().skip(t).step_by(4) {
                    let name = String::from_utf8_lossy(k);
                    let r = get(&a, &format!("http://127.0.0.1:{port}{name}"));
                    assert_eq!(r.status, 200, "{name}");
                    assert_eq!(&r.body, k, "{name}");
                }
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
}
