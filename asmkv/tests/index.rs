//! The index at scale: its table grows as keys are added (the buckets double,
//! no key moves, nothing stops), every key is found again by many clients at
//! once, listings see every key, and a restart builds the same table again.
mod common;
use common::*;

use std::net::SocketAddr;

const KEYS: usize = 200_000;
const THREADS: usize = 8;
const BATCH: usize = 250;

fn key(i: usize) -> String {
    format!("g/{i:06}")
}

fn value(i: usize) -> Vec<u8> {
    format!("value of {i}").into_bytes()
}

/// Runs `f(first, last)` over the keys split between THREADS threads.
fn in_parallel(f: impl Fn(usize, usize) + Send + Sync + Copy + 'static) {
    let per = KEYS.div_ceil(THREADS);
    let threads: Vec<_> = (0..THREADS)
        .map(|t| std::thread::spawn(move || f(t * per, ((t + 1) * per).min(KEYS))))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// PUTs the keys [from, to), BATCH pipelined requests at a time.
fn put_range(addr: SocketAddr, from: usize, to: usize) {
    let mut c = Raw::connect(addr);
    for start in (from..to).step_by(BATCH) {
        let end = (start + BATCH).min(to);
        let mut batch = Vec::new();
        for i in start..end {
            let v = value(i);
            batch.extend_from_slice(
                format!(
                    "PUT /{} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    key(i),
                    v.len()
                )
                .as_bytes(),
            );
            batch.extend_from_slice(&v);
        }
        c.send(&batch);
        for i in start..end {
            assert_eq!(c.response().status, 201, "{}", key(i));
        }
    }
}

/// GETs the keys [from, to), pipelined, and checks every value.
fn check_range(addr: SocketAddr, from: usize, to: usize) {
    let mut c = Raw::connect(addr);
    for start in (from..to).step_by(BATCH) {
        let end = (start + BATCH).min(to);
        let mut batch = Vec::new();
        for i in start..end {
            batch.extend_from_slice(
                format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", key(i)).as_bytes(),
            );
        }
        c.send(&batch);
        for i in start..end {
            let w = c.response();
            assert_eq!(w.status, 200, "{}", key(i));
            assert_eq!(w.body, value(i), "{}", key(i));
        }
    }
}

/// A gauge or counter from the metrics socket.
fn metric(m: SocketAddr, name: &str) -> f64 {
    let text = get(&agent(), &format!("http://{m}/metrics")).body;
    let text = String::from_utf8(text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// The table starts with 1,024 buckets and doubles whenever it holds more
/// than four keys a bucket on average.
fn buckets_for(keys: usize) -> f64 {
    let mut b = 1024;
    while keys > 4 * b {
        b *= 2;
    }
    b as f64
}

#[test]
fn the_table_grows_and_every_key_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--sync", "none", "--metrics", "127.0.0.1:0"];
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    assert_eq!(metric(m, "asmkv_index_buckets"), 1024.0);
    let addr = s.addr;
    in_parallel(move |a, b| put_range(addr, a, b));
    assert_eq!(metric(m, "asmkv_keys"), KEYS as f64);
    assert_eq!(metric(m, "asmkv_index_buckets"), buckets_for(KEYS));
    in_parallel(move |a, b| check_range(addr, a, b));
    // a page of the listing, and the whole of it
    let page = get(&agent(), &s.url("/g/?limit=1000&after=100000")).body;
    let page = String::from_utf8(page).unwrap();
    assert!(page.starts_with("[{\"name\":\"100001\""), "{}", &page[..60]);
    assert_eq!(page.matches("\"name\"").count(), 1000);
    let all = String::from_utf8(get(&agent(), &s.url("/g/")).body).unwrap();
    assert_eq!(all.matches("\"name\"").count(), KEYS);
    // a restart builds the table again from the segments: the same keys
    s.stop();
    wait_unlocked(&dir);
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    assert_eq!(metric(m, "asmkv_keys"), KEYS as f64);
    assert_eq!(metric(m, "asmkv_index_buckets"), buckets_for(KEYS));
    let addr = s.addr;
    in_parallel(move |a, b| check_range(addr, a, b));
    assert_eq!(get(&agent(), &s.url("/g/missing")).status, 404);
}
