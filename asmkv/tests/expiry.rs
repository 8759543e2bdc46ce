//! Expiry: `X-Delete-At: UNIX-SECONDS` or `X-Delete-After: SECONDS` on a
//! write makes its value expire then (wall clock, kept in the record). From
//! then on the key answers as one never written - 404, absent from listings,
//! `If-None-Match: *` succeeds, `If-Match` fails, DELETE 404 - and compaction
//! gives the record's room back, without ever letting an older value of the
//! key come back.
mod common;
use common::*;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn request(addr: SocketAddr, method: &str, key: &str, fields: &str, body: &[u8]) -> Wire {
    request_with(addr, method, key, fields, body)
}

fn status(addr: SocketAddr, method: &str, key: &str, fields: &str, body: &[u8]) -> u16 {
    request(addr, method, key, fields, body).status
}

/// The names a listing of `/` shows.
fn listed(addr: SocketAddr) -> Vec<String> {
    let w = get(&agent(), &format!("http://{addr}/"));
    assert_eq!(w.status, 200);
    parse_listing(&w.body)
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect()
}

fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sleeps until the wall clock's second is past `at`.
fn sleep_past(at: u64) {
    while now() <= at {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Before its time a value answers with `X-Delete-At`, is listed and read;
/// from then on its key is as one never written: GET and HEAD 404, not
/// listed, DELETE 404, If-Match fails, If-None-Match: * creates it (201), and
/// so does a plain PUT (201, not 204) - also a chunked one.
/// The same for a chunked upload and for an absolute X-Delete-At.
#[test]
fn an_expired_key_answers_as_one_never_written() {
    let s = Server::start_with(&["--workers", "1"]);
    let a = s.addr;
    let at = now() + 2;
    assert_eq!(
        status(a, "PUT", "after", "X-Delete-After: 2\r\n", b"soon gone"),
        201
    );
    let w = request(a, "PUT", "at", &format!("X-Delete-At: {at}\r\n"), b"also");
    assert_eq!(w.status, 201);
    let tag = w.header("etag").unwrap();
    let mut c = Raw::connect(a);
    c.send(b"PUT /chunked HTTP/1.1\r\nHost: t\r\nX-Delete-After: 2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(c.response().status, 201);
    assert_eq!(status(a, "PUT", "kept", "", b"kept"), 201);
    for key in ["after", "at", "chunked"] {
        let g = request(a, "GET", key, "", b"");
        assert_eq!(g.status, 200, "{key}");
        let when: u64 = g.header("x-delete-at").unwrap().parse().unwrap();
        assert!(
            (at - 1..=at + 1).contains(&when),
            "{key}: {when} against {at}"
        );
        let h = request(a, "HEAD", key, "", b"");
        assert_eq!(h.header("x-delete-at"), g.header("x-delete-at"), "{key}");
    }
    assert_eq!(listed(a), vec!["after", "at", "chunked", "kept"]);
    sleep_past(at + 1);
    for key in ["after", "at", "chunked"] {
        assert_eq!(status(a, "GET", key, "", b""), 404, "{key}");
        assert_eq!(status(a, "HEAD", key, "", b""), 404, "{key}");
    }
    assert_eq!(listed(a), vec!["kept"]);
    assert_eq!(status(a, "DELETE", "after", "", b""), 404);
    let if_match = format!("If-Match: {tag}\r\n");
    assert_eq!(status(a, "PUT", "at", &if_match, b"x"), 412);
    assert_eq!(status(a, "PUT", "at", "If-Match: *\r\n", b"x"), 412);
    assert_eq!(status(a, "PUT", "at", "If-None-Match: *\r\n", b"new"), 201);
    assert_eq!(
        status(a, "PUT", "at", "If-None-Match: *\r\n", b"newer"),
        412
    );
    let g = request(a, "GET", "at", "", b"");
    assert_eq!((g.status, g.body.as_slice()), (200, &b"new"[..]));
    assert_eq!(g.header("x-delete-at"), None);
    assert_eq!(status(a, "PUT", "after", "", b"again"), 201);
    assert_eq!(status(a, "PUT", "after", "", b"and again"), 204);
    c.send(b"PUT /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nagain\r\n0\r\n\r\n");
    assert_eq!(c.response().status, 201);
    assert_eq!(listed(a), vec!["after", "at", "chunked", "kept"]);
    assert_eq!(get(&agent(), &s.url("/kept")).body, b"kept");
}

/// A time that is not one number of seconds in the future, or two of them,
/// is a 400 with its reason, before the body is read; the key keeps its value.
#[test]
fn times_in_the_past_or_malformed_are_refused() {
    let s = Server::start();
    let a = s.addr;
    assert_eq!(status(a, "PUT", "k", "", b"old"), 201);
    for fields in [
        format!("X-Delete-At: {}\r\n", now() - 10),
        "X-Delete-At: 0\r\n".to_string(),
        "X-Delete-After: 0\r\n".to_string(),
        "X-Delete-After: -5\r\n".to_string(),
        "X-Delete-After: 1.5\r\n".to_string(),
        "X-Delete-After: soon\r\n".to_string(),
        "X-Delete-After: 99999999999999999999\r\n".to_string(),
        "X-Delete-After: 10\r\nX-Delete-After: 20\r\n".to_string(),
        format!("X-Delete-After: 10\r\nX-Delete-At: {}\r\n", now() + 100),
    ] {
        let mut c = Raw::connect(a);
        let head = format!("PUT /k HTTP/1.1\r\nHost: t\r\n{fields}Content-Length: 100000\r\n\r\n");
        c.send(head.as_bytes());
        let w = c.response();
        assert_eq!(w.status, 400, "{fields:?}");
        assert!(
            String::from_utf8_lossy(&w.body).contains("X-Delete-At takes one"),
            "{fields:?}"
        );
        assert_eq!(get(&agent(), &s.url("/k")).body, b"old", "{fields:?}");
    }
}

/// An overwrite without an expiry makes a key that was to expire permanent;
/// one with an expiry makes a permanent key expire.
#[test]
fn an_overwrite_decides_the_expiry() {
    let s = Server::start();
    let a = s.addr;
    assert_eq!(status(a, "PUT", "k", "X-Delete-After: 1\r\n", b"one"), 201);
    assert_eq!(status(a, "PUT", "k", "", b"two"), 204);
    assert_eq!(status(a, "PUT", "j", "", b"one"), 201);
    assert_eq!(status(a, "PUT", "j", "X-Delete-After: 1\r\n", b"two"), 204);
    sleep_past(now() + 1);
    assert_eq!(request(a, "GET", "k", "", b"").body, b"two");
    assert_eq!(status(a, "GET", "j", "", b""), 404);
}

fn metric_of(m: SocketAddr, name: &str) -> f64 {
    metric(m, name)
}

fn restart(s: Server, dir: &Path, image: bool) -> (Server, SocketAddr) {
    s.stop();
    wait_unlocked(dir);
    if !image {
        forget_image(dir);
    }
    let mut s = Server::start_in(dir, &["--workers", "1", "--metrics", "127.0.0.1:0"]);
    let m = metrics_addr(&mut s);
    (s, m)
}

/// An expired value that compaction must keep (an older value of its key lies
/// in another segment) is copied beside a value that expires much later: in
/// their new segment it is still expired - absent from listings and 404 -
/// though the segment's earliest expiry, as the copy counted it, is an hour
/// away (the expired copy lowers it).
#[test]
fn an_expired_copy_beside_a_later_one_stays_expired() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let s = Server::start_in(&dir, &["--workers", "1", "--metrics", "127.0.0.1:0"]);
    assert_eq!(status(s.addr, "PUT", "gone", "", b"the old value"), 201);
    for i in 0..10 {
        // its segment stays mostly live: never compacted, the old value stays
        put(&agent(), &s.url(&format!("/k{i}")), b"kept");
    }
    let (s, _) = restart(s, &dir, true);
    let a = s.addr;
    assert_eq!(
        status(a, "PUT", "gone", "X-Delete-After: 1\r\n", b"new"),
        204
    );
    assert_eq!(
        status(a, "PUT", "later", "X-Delete-After: 3600\r\n", b"l"),
        201
    );
    for i in 0..200 {
        put(&agent(), &s.url(&format!("/f{i}")), &[1; 100]);
    }
    let mut first: Vec<String> = files_in(&dir)
        .into_iter()
        .filter(|f| is_segment(f))
        .collect();
    first.sort_by_key(|f| f.trim_end_matches(".seg").parse::<u64>().unwrap());
    let expiring = first.last().unwrap().clone();
    let (s, _) = restart(s, &dir, true);
    let a = s.addr;
    sleep_past(now() + 1);
    assert_eq!(
        listed(a).len(),
        211,
        "gone expired; later, k* and the fillers"
    );
    // the fillers overwritten: the expiring segment is mostly dead, and its
    // compaction copies "gone" (expired, kept for the older value's sake) and
    // "later" together
    for i in 0..200 {
        put(&agent(), &s.url(&format!("/f{i}")), &[2; 100]);
    }
    wait_for(
        "the expiring segment compacted",
        Duration::from_secs(60),
        || !dir.join(&expiring).exists(),
    );
    let copies = files_in(&dir)
        .into_iter()
        .filter(|f| is_segment(f) && *f != first[0])
        .flat_map(|f| segment_records(&dir, &f))
        .filter(|r| r.sealed && (r.key == "gone" || r.key == "later"))
        .count();
    assert_eq!(copies, 2, "gone's expired value and later, copied");
    let names = listed(a);
    assert!(!names.contains(&"gone".to_string()), "{:?}", &names[..3]);
    assert!(names.contains(&"later".to_string()));
    assert_eq!(status(a, "GET", "gone", "", b""), 404);
    assert_eq!(status(a, "PUT", "gone", "", b"created"), 201);
    s.stop();
}

/// 2,000 values that expire, and a key whose older, permanent value lies in
/// an older segment: once they expire compaction gives their room back
/// (asmkv_expired_total, the segments removed) and their keys have no
/// value; at every restart on the way (from the image, or reading the
/// segments) none of them, and no older value, comes back.
#[test]
fn expired_values_are_given_back_and_never_return() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir, &["--workers", "1", "--metrics", "127.0.0.1:0"]);
    metrics_addr(&mut s);
    assert_eq!(status(s.addr, "PUT", "old", "", b"the old value"), 201);
    assert_eq!(status(s.addr, "PUT", "kept", "", b"kept"), 201);
    // the expiring writes in a segment of their own
    let (mut s, mut m) = restart(s, &dir, true);
    let at = now() + 3;
    let expire = format!("X-Delete-At: {at}\r\n");
    assert_eq!(status(s.addr, "PUT", "old", &expire, b"the new value"), 204);
    let mut c = Raw::connect(s.addr);
    for start in (0..2000).step_by(100) {
        let mut req = Vec::new();
        for i in start..start + 100 {
            req.extend_from_slice(
                format!("PUT /e{i} HTTP/1.1\r\nHost: t\r\n{expire}Content-Length: 64\r\n\r\n")
                    .as_bytes(),
            );
            req.extend_from_slice(&[b'v'; 64]);
        }
        c.send(&req);
        for _ in start..start + 100 {
            assert_eq!(c.response().status, 201);
        }
    }
    let check = |addr: SocketAddr, what: &str| {
        assert_eq!(
            request(addr, "GET", "kept", "", b"").body,
            b"kept",
            "{what}"
        );
        for key in ["old", "e0", "e999", "e1999"] {
            assert_eq!(status(addr, "GET", key, "", b""), 404, "{what}: {key}");
        }
        assert_eq!(listed(addr), vec!["kept"], "{what}");
    };
    assert_eq!(metric_of(m, "asmkv_keys"), 2002.0);
    (s, m) = restart(s, &dir, false);
    assert_eq!(
        request(s.addr, "GET", "old", "", b"").body,
        b"the new value"
    );
    sleep_past(at);
    check(s.addr, "expired");
    wait_for(
        "the expired values given back",
        Duration::from_secs(60),
        || metric_of(m, "asmkv_expired_total") >= 2000.0,
    );
    check(s.addr, "given back");
    wait_for("keys without a value", Duration::from_secs(30), || {
        metric_of(m, "asmkv_keys") == 1.0
    });
    (s, _) = restart(s, &dir, true);
    check(s.addr, "given back, from the image");
    (s, _) = restart(s, &dir, false);
    check(s.addr, "given back, the segments read");
    wait_for(
        "the old value's segment compacted",
        Duration::from_secs(60),
        || {
            let records: usize = files_in(&dir)
                .iter()
                .filter(|f| is_segment(f))
                .map(|f| segment_records(&dir, f).len())
                .sum();
            records <= 3
        },
    );
    (s, _) = restart(s, &dir, false);
    check(s.addr, "after compaction, the segments read");
    s.stop();
}

/// A segment of values that expire gets a hint that carries their expiries,
/// and a start that takes the hint (no image) knows them: the values answer
/// with X-Delete-At, expire, and compaction gives them back.
#[test]
fn a_start_from_hints_knows_the_expiries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let s = Server::start_in(&dir, &["--workers", "1"]);
    let at = now() + 6;
    let expire = format!("X-Delete-At: {at}\r\n");
    for i in 0..200 {
        assert_eq!(status(s.addr, "PUT", &format!("h{i}"), &expire, b"v"), 201);
    }
    let (s, _) = restart(s, &dir, true);
    wait_for("the segment's hint", Duration::from_secs(30), || {
        files_in(&dir).iter().any(|f| is_hint(f))
    });
    let (s, m) = restart(s, &dir, false);
    let g = request(s.addr, "GET", "h7", "", b"");
    assert_eq!(g.header("x-delete-at"), Some(at.to_string()));
    sleep_past(at);
    assert_eq!(status(s.addr, "GET", "h7", "", b""), 404);
    wait_for(
        "the expired values given back",
        Duration::from_secs(60),
        || metric_of(m, "asmkv_expired_total") >= 200.0,
    );
    s.stop();
}
