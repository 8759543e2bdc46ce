//! The Rust peer passes the same basic checks as asmkv: 201/204 on PUT, exact
//! GET, 404 for absent keys, HEAD, DELETE.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Peer(Child, String, tempfile::TempDir);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "peer",
            "--listen",
            "127.0.0.1:0",
            "--threads",
            "2",
            "--data",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    Peer(child, format!("http://{addr}"), dir)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

#[test]
fn peer_has_asmkv_semantics() {
    let p = start();
    let a = agent();
    let url = format!("{}/some%20key", p.1);
    assert_eq!(a.get(&url).call().unwrap().status(), 404);
    assert_eq!(a.put(&url).send(&b"first"[..]).unwrap().status(), 201);
    assert_eq!(a.put(&url).send(&b"v2"[..]).unwrap().status(), 204);
    let mut r = a.get(&url).call().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body_mut().read_to_vec().unwrap(), b"v2");
    let r = a.head(&url).call().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "2");
    assert_eq!(a.delete(&url).call().unwrap().status(), 204);
    assert_eq!(a.delete(&url).call().unwrap().status(), 404);
    assert_eq!(a.get(&url).call().unwrap().status(), 404);
    // the same file naming as asmkv
    a.put(&format!("{}/.x", p.1)).send(&b"dot"[..]).unwrap();
    assert!(p.2.path().join("%2Ex").is_file());
    // read whole (up to 4 MiB) and streamed (larger)
    for (name, len) in [("big", 3_000_000u32), ("bigger", 6_000_000)] {
        let big: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let url = format!("{}/{name}", p.1);
        assert_eq!(a.put(&url).send(&big[..]).unwrap().status(), 201);
        let mut r = a.get(&url).call().unwrap();
        assert_eq!(r.headers()["content-length"], len.to_string());
        assert_eq!(
            r.body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_vec()
                .unwrap(),
            big
        );
    }
}
