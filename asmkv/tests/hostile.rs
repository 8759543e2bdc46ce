//! Property test: hostile bytes — mutated valid requests and plain garbage —
//! never crash a worker, never get anything but a well-formed HTTP/1.1 answer
//! or a close, and leave the server serving correctly.
mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const SEEDS: &[&[u8]] = &[
    b"GET /k HTTP/1.1\r\nHost: t\r\n\r\n",
    b"PUT /k HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    b"PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"POST /a%2Fb?q HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"DELETE /k HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    b"HEAD /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /k HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /k HTTP/1.1\r\nHost: t\r\nRange: bytes=1-3\r\n\r\nGET /k HTTP/1.1\r\nHost: t\r\nRange: bytes=-2\r\n\r\n",
    b"GET /k HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbodyDELETE /k HTTP/1.1\r\nHost: t\r\n\r\n",
    b"PUT /n HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\nContent-Length: 2\r\n\r\nhiGET /n HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n",
];

/// A seed request with a few byte-level edits, or arbitrary bytes.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<usize>(), any::<u8>(), 0..5u8);
    let mutated = (0..SEEDS.len(), prop::collection::vec(edit, 1..8)).prop_map(|(i, edits)| {
        let mut v = SEEDS[i].to_vec();
        for (pos, byte, op) in edits {
            let p = pos % (v.len() + 1);
            match op {
                0 if p < v.len() => v[p] = byte,
                1 => v.insert(p, byte),
                2 if p < v.len() => {
                    v.remove(p);
                }
                3 => v.truncate(p),
                _ => {
                    let tail = v[p..].to_vec();
                    v.extend_from_slice(&tail);
                }
            }
        }
        v
    });
    let garbage = prop::collection::vec(any::<u8>(), 0..3000);
    prop_oneof![4 => mutated, 1 => garbage]
}

#[test]
fn hostile_bytes_never_crash_a_worker() {
    let s = Server::start_with(&[
        "--max-body",
        "100000",
        "--request-timeout",
        "2",
        "--io-timeout",
        "2",
    ]);
    let mut before = s.workers();
    before.sort();
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    let addr = s.addr;
    runner
        .run(&hostile(), |bytes| {
            let mut c = TcpStream::connect(addr).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = c.write_all(&bytes);
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            if !got.is_empty() {
                prop_assert!(
                    got.starts_with(b"HTTP/1.1 "),
                    "not an HTTP answer: {:?}",
                    String::from_utf8_lossy(&got[..got.len().min(80)])
                );
                let status: u16 = String::from_utf8_lossy(&got[9..12]).parse().unwrap_or(0);
                prop_assert!((100..600).contains(&status), "status {status}");
            }
            Ok(())
        })
        .unwrap();
    let mut after = s.workers();
    after.sort();
    assert_eq!(before, after, "a worker died and was replaced");
    // and it still stores and serves exactly
    let a = agent();
    let v = pattern(50_000, 77);
    let st = put(&a, &s.url("/after-fuzz"), &v).status;
    assert!(st == 201 || st == 204);
    assert_eq!(get(&a, &s.url("/after-fuzz")).body, v);
    assert!(
        files_in(&s.data).iter().all(|f| !f.starts_with(".tmp")),
        "{:?}",
        files_in(&s.data)
    );
}
