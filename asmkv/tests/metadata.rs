//! What a value carries beside its bytes: a write's Content-Type,
//! Content-Encoding, Content-Language, Content-Disposition, Cache-Control and
//! X-Object-Meta-* fields are kept with the value and answered by GET and
//! HEAD (and a 206), through restarts, compaction and a read of the segments;
//! a write without them answers application/octet-stream as before; limits
//! as OpenStack Swift's, answered 400 before the body is read.
mod common;
use common::*;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// PUTs `body` to `key` with `fields` (whole header lines, CRLF-ended).
fn put_with(addr: SocketAddr, key: &str, fields: &str, body: &[u8]) -> Wire {
    request_with(addr, "PUT", key, fields, body)
}

fn get_with(addr: SocketAddr, method: &str, key: &str, fields: &str) -> Wire {
    request_with(addr, method, key, fields, b"")
}

/// The answer's header lines after the status line, as sent, less those
/// every answer carries whatever was stored (the date, validators, length).
fn stored_lines(w: &Wire) -> Vec<String> {
    const EVERY: [&str; 7] = [
        "date",
        "etag",
        "last-modified",
        "server",
        "accept-ranges",
        "content-length",
        "content-range",
    ];
    w.head
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let name = l.split(':').next().unwrap().to_ascii_lowercase();
            !EVERY.contains(&name.as_str())
        })
        .map(str::to_string)
        .collect()
}

const FIELDS: &str = "Content-Type: text/html; charset=utf-8\r\n\
    content-encoding: identity\r\n\
    CONTENT-LANGUAGE: en, fr\r\n\
    Content-Disposition: attachment; filename=\"a b.html\"\r\n\
    Cache-Control: max-age=60\r\n\
    X-Object-Meta-Color: Blue  sky \t!\r\n\
    x-object-meta-size-CLASS: L\r\n";

fn want_lines() -> Vec<String> {
    [
        "Content-Type: text/html; charset=utf-8",
        "Content-Encoding: identity",
        "Content-Language: en, fr",
        "Content-Disposition: attachment; filename=\"a b.html\"",
        "Cache-Control: max-age=60",
        "X-Object-Meta-Color: Blue  sky \t!",
        "X-Object-Meta-Size-Class: L",
    ]
    .map(str::to_string)
    .to_vec()
}

/// Checks that `key` answers `body` with the fields of FIELDS, to GET, HEAD
/// and a range, and that "plain" answers as a value without metadata does.
fn reads_back(addr: SocketAddr, key: &str, body: &[u8], what: &str) {
    let w = get_with(addr, "GET", key, "");
    assert_eq!(w.status, 200, "{what}");
    assert_eq!(w.body, body, "{what}");
    assert_eq!(stored_lines(&w), want_lines(), "{what}: {}", w.head);
    assert_eq!(w.header("content-length"), Some(body.len().to_string()));
    let h = get_with(addr, "HEAD", key, "");
    assert_eq!(h.status, 200, "{what}");
    assert_eq!(stored_lines(&h), want_lines(), "{what}: HEAD");
    assert_eq!(h.header("content-length"), Some(body.len().to_string()));
    for (range, from, to) in [
        ("bytes=3-7", 3, 8),
        ("bytes=0-1", 0, 2),
        ("bytes=-4", body.len() - 4, body.len()),
    ] {
        let r = get_with(addr, "GET", key, &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 206, "{what}: {range}");
        assert_eq!(r.body, &body[from..to], "{what}: {range}");
        assert_eq!(stored_lines(&r), want_lines(), "{what}: {range}");
    }
    let p = get_with(addr, "GET", "plain", "");
    assert_eq!(p.body, b"no metadata", "{what}");
    assert_eq!(
        stored_lines(&p),
        vec!["Content-Type: application/octet-stream".to_string()],
        "{what}"
    );
}

fn stop(s: Server, dir: &Path) {
    s.stop();
    wait_unlocked(dir);
}

/// The fields round-trip: as sent (names case-insensitive, given their usual
/// spelling; values byte for byte), for a small and a large value and a
/// chunked upload; through a restart from the index's image, a start that
/// reads every segment, and compaction moving the record.
#[test]
fn fields_round_trip_through_restarts_and_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let small = b"<p>hello, world</p>".to_vec();
    let large = pattern(200_000, 7);
    let s = Server::start_in(&dir, &["--workers", "1"]);
    assert_eq!(put_with(s.addr, "small", FIELDS, &small).status, 201);
    assert_eq!(put_with(s.addr, "large", FIELDS, &large).status, 201);
    assert_eq!(put_with(s.addr, "plain", "", b"no metadata").status, 201);
    let mut c = Raw::connect(s.addr);
    let head =
        format!("PUT /chunked HTTP/1.1\r\nHost: t\r\n{FIELDS}Transfer-Encoding: chunked\r\n\r\n");
    c.send(head.as_bytes());
    c.send(b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
    assert_eq!(c.response().status, 201);
    for i in 0..200 {
        put(&agent(), &s.url(&format!("/filler{i}")), &[i as u8; 100]);
    }
    let check = |addr, what: &str| {
        reads_back(addr, "small", &small, what);
        reads_back(addr, "large", &large, what);
        reads_back(addr, "chunked", b"hello, world", what);
    };
    check(s.addr, "as written");
    stop(s, &dir);
    let s = Server::start_in(&dir, &["--workers", "1"]);
    check(s.addr, "after a restart from the image");
    // overwrite the fillers: the first segment is then mostly dead, and
    // compaction moves the records with metadata
    for i in 0..200 {
        put(&agent(), &s.url(&format!("/filler{i}")), &[1; 100]);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while dir.join("1.seg").exists() {
        assert!(Instant::now() < deadline, "1.seg never compacted");
        std::thread::sleep(Duration::from_millis(100));
    }
    check(s.addr, "after compaction");
    stop(s, &dir);
    forget_image(&dir);
    let s = Server::start_in(&dir, &["--workers", "1"]);
    check(s.addr, "after a start that read the segments");
    // the record as an independent reader sees it: the block, then the value
    let r = files_in(&dir)
        .into_iter()
        .filter(|f| is_segment(f))
        .flat_map(|f| segment_records(&dir, &f))
        .find(|r| r.key == "small" && r.sealed)
        .expect("the record of small");
    assert_eq!(r.value.as_deref(), Some(&small[..]));
    let block = String::from_utf8_lossy(r.meta.as_deref().unwrap()).to_string();
    assert_eq!(block, want_lines().join("\r\n") + "\r\n\r\n");
    stop(s, &dir);
}

/// An old store upgraded: a data directory of the one-file-per-key layout is
/// imported at the first start, and values written with fields afterwards keep
/// them beside the imported ones (which answer as values without metadata
/// do): as written, after a restart from the image, after compaction has moved
/// every record (imported and new), and after a start that read the segments.
#[test]
fn fields_are_kept_in_an_upgraded_old_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("plain"), b"no metadata").unwrap();
    for i in 0..200 {
        std::fs::write(dir.join(format!("old{i}")), [i as u8; 100]).unwrap();
    }
    let small = b"<p>hello, world</p>".to_vec();
    let large = pattern(200_000, 9);
    let s = Server::start_in(&dir, &["--workers", "1"]);
    assert!(!dir.join("plain").exists(), "the old file stayed");
    assert_eq!(put_with(s.addr, "small", FIELDS, &small).status, 201);
    assert_eq!(put_with(s.addr, "large", FIELDS, &large).status, 201);
    for i in 0..200 {
        put(&agent(), &s.url(&format!("/new{i}")), &[i as u8; 100]);
    }
    let check = |addr: SocketAddr, what: &str| {
        reads_back(addr, "small", &small, what);
        reads_back(addr, "large", &large, what);
        for i in [0, 77, 199] {
            let w = get_with(addr, "GET", &format!("old{i}"), "");
            assert_eq!((w.status, w.body), (200, vec![i as u8; 100]), "{what}");
        }
    };
    check(s.addr, "as written");
    let segments: Vec<String> = files_in(&dir)
        .into_iter()
        .filter(|f| is_segment(f))
        .collect();
    assert!(segments.len() >= 2, "{segments:?}");
    stop(s, &dir);
    let s = Server::start_in(&dir, &["--workers", "1"]);
    check(s.addr, "after a restart from the image");
    // every segment of the first run mostly dead: compaction moves the rest
    for i in 0..200 {
        put(&agent(), &s.url(&format!("/old{i}")), &[i as u8; 100]);
        put(&agent(), &s.url(&format!("/new{i}")), &[1; 100]);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while segments.iter().any(|f| dir.join(f).exists()) {
        assert!(Instant::now() < deadline, "{segments:?} never compacted");
        std::thread::sleep(Duration::from_millis(100));
    }
    check(s.addr, "after compaction");
    stop(s, &dir);
    forget_image(&dir);
    let s = Server::start_in(&dir, &["--workers", "1"]);
    check(s.addr, "after a start that read the segments");
    stop(s, &dir);
}

/// A 304 carries the stored Cache-Control, as a 200 would (RFC 9110 15.4.5),
/// and none of the other fields. Cache-Control is kept as one line, the values
/// of several fields joined by ", " (RFC 9110 5.3), of at most 207 bytes so
/// that a 304 always has room for it; a longer one is a 400 before the body.
/// A value without one gets a plain 304.
#[test]
fn a_304_carries_the_stored_cache_control() {
    let s = Server::start_with(&["--workers", "1"]);
    let a = s.addr;
    let two = "Cache-Control: no-cache\r\ncontent-type: text/plain\r\ncache-control: private\r\n";
    for (key, fields) in [
        ("kept", FIELDS.to_string()),
        ("two", two.to_string()),
        ("none", "Content-Type: text/plain\r\n".to_string()),
    ] {
        assert_eq!(put_with(a, key, &fields, b"the value").status, 201);
    }
    for method in ["GET", "HEAD"] {
        let tag = get_with(a, method, "kept", "").header("etag").unwrap();
        let w = get_with(a, method, "kept", &format!("If-None-Match: {tag}\r\n"));
        assert_eq!(w.status, 304, "{method}");
        assert_eq!(
            stored_lines(&w),
            vec!["Cache-Control: max-age=60"],
            "{method}: {}",
            w.head
        );
        assert!(w.body.is_empty());
        let tag = get_with(a, method, "none", "").header("etag").unwrap();
        let w = get_with(a, method, "none", &format!("If-None-Match: {tag}\r\n"));
        assert_eq!(w.status, 304, "{method}");
        assert_eq!(
            stored_lines(&w),
            Vec::<String>::new(),
            "{method}: {}",
            w.head
        );
    }
    // two fields: one line, in the 200 and in the 304
    let w = get_with(a, "GET", "two", "");
    assert_eq!(
        stored_lines(&w),
        [
            "Cache-Control: no-cache, private",
            "Content-Type: text/plain"
        ]
    );
    let tag = w.header("etag").unwrap();
    let w = get_with(a, "GET", "two", &format!("If-None-Match: {tag}\r\n"));
    assert_eq!(w.status, 304);
    assert_eq!(stored_lines(&w), ["Cache-Control: no-cache, private"]);
    // longer than 207 bytes, in one field or joined: 400, the key as it was
    for fields in [
        format!("Cache-Control: {}\r\n", "x".repeat(208)),
        format!(
            "Cache-Control: {}\r\nCache-Control: {}\r\n",
            "x".repeat(100),
            "y".repeat(106)
        ),
    ] {
        let w = put_with(a, "two", &fields, b"other");
        assert_eq!(w.status, 400, "{fields}");
        assert!(
            String::from_utf8_lossy(&w.body).contains("metadata"),
            "{fields}"
        );
        assert_eq!(get_with(a, "GET", "two", "").body, b"the value");
    }
    // the longest still makes a 304, HTTP/1.0 keep-alive too, joined or not
    let fits = format!("Cache-Control: {}\r\n", "y".repeat(207));
    let joined = format!(
        "Cache-Control: {}\r\nCache-Control: {}\r\n",
        "y".repeat(100),
        "y".repeat(105)
    );
    assert_eq!(put_with(a, "joined", &joined, b"v").status, 201);
    let tag = get_with(a, "GET", "joined", "").header("etag").unwrap();
    let w = get_with(a, "GET", "joined", &format!("If-None-Match: {tag}\r\n"));
    assert_eq!(w.status, 304);
    assert_eq!(stored_lines(&w)[0].len(), 15 + 207);
    assert_eq!(put_with(a, "fits", &fits, b"v").status, 201);
    let tag = get_with(a, "GET", "fits", "").header("etag").unwrap();
    let mut c = Raw::connect(a);
    c.send(
        format!("GET /fits HTTP/1.0\r\nConnection: keep-alive\r\nIf-None-Match: {tag}\r\n\r\n")
            .as_bytes(),
    );
    let w = c.response();
    assert_eq!(w.status, 304);
    assert!(w.head.contains(fits.trim_end()), "{}", w.head);
}

/// Swift's limits: 90 X-Object-Meta-* fields, 4,096 bytes of their names and
/// values, names of 128 bytes. At the limits a write is kept (a record with
/// 4,096 bytes of metadata reads back); one past any of them is answered 400
/// with its reason before the body is sent, and the key keeps its value.
#[test]
fn limits_are_swifts_and_answered_before_the_body() {
    let s = Server::start();
    let items = |n: usize, name: usize, value: usize| -> String {
        (0..n)
            .map(|i| {
                let v = "v".repeat(value);
                format!("X-Object-Meta-{i:0>name$}: {v}\r\n")
            })
            .collect()
    };
    // at the limits: 16 items of 16 + 240 bytes (4,096), 90 items, a
    // 128-byte name
    for (what, fields) in [
        ("4096 bytes", items(16, 16, 240)),
        ("90 items", items(90, 2, 1)),
        ("a 128-byte name", items(1, 128, 10)),
    ] {
        let w = put_with(s.addr, "k", &fields, b"value");
        assert!(matches!(w.status, 201 | 204), "{what}: {}", w.head);
        let g = get_with(s.addr, "GET", "k", "");
        let sent: Vec<String> = fields.lines().map(|l| l.to_string()).collect();
        let got: Vec<String> = stored_lines(&g)
            .into_iter()
            .filter(|l| l.starts_with("X-Object-Meta-"))
            .collect();
        assert_eq!(got.len(), sent.len(), "{what}");
        for (g, w) in got.iter().zip(&sent) {
            assert!(g.eq_ignore_ascii_case(w), "{what}: {g} against {w}");
        }
    }
    put_with(s.addr, "k", "X-Object-Meta-Old: yes\r\n", b"old");
    for (what, fields) in [
        ("4097 bytes", items(16, 16, 240) + "X-Object-Meta-Z:\r\n"),
        ("91 items", items(91, 2, 1)),
        ("a 129-byte name", items(1, 129, 10)),
        (
            "two Content-Types",
            "Content-Type: a/b\r\nContent-Type: c/d\r\n".to_string(),
        ),
        (
            "a 1025-byte Content-Type",
            format!("Content-Type: {}\r\n", "x".repeat(1025)),
        ),
    ] {
        // the body is announced and never sent: the answer comes first
        let mut c = Raw::connect(s.addr);
        let head = format!("PUT /k HTTP/1.1\r\nHost: t\r\n{fields}Content-Length: 1000000\r\n\r\n");
        c.send(head.as_bytes());
        let w = c.response();
        assert_eq!(w.status, 400, "{what}");
        assert!(
            String::from_utf8_lossy(&w.body).contains("metadata beyond the limits"),
            "{what}: {:?}",
            String::from_utf8_lossy(&w.body)
        );
        let g = get_with(s.addr, "GET", "k", "");
        assert_eq!(g.body, b"old", "{what}");
        assert_eq!(
            g.header("x-object-meta-old").as_deref(),
            Some("yes"),
            "{what}"
        );
    }
}

/// A value written with metadata, then without: the second write's answer
/// carries no metadata of the first (a write replaces value and metadata
/// together), and a delete leaves nothing.
#[test]
fn a_write_replaces_value_and_metadata_together() {
    let s = Server::start();
    put_with(s.addr, "k", FIELDS, b"one");
    assert_eq!(
        stored_lines(&get_with(s.addr, "GET", "k", "")),
        want_lines()
    );
    put_with(s.addr, "k", "X-Object-Meta-Only: this\r\n", b"two");
    let w = get_with(s.addr, "GET", "k", "");
    assert_eq!(w.body, b"two");
    assert_eq!(
        stored_lines(&w),
        vec![
            "X-Object-Meta-Only: this",
            "Content-Type: application/octet-stream"
        ]
    );
    put_with(s.addr, "k", "", b"three");
    let w = get_with(s.addr, "GET", "k", "");
    assert_eq!(
        stored_lines(&w),
        vec!["Content-Type: application/octet-stream"]
    );
    assert_eq!(delete(&agent(), &s.url("/k")).status, 204);
    assert_eq!(get_with(s.addr, "HEAD", "k", "").status, 404);
}

/// A byte of a large value's metadata damaged on disk while the server runs:
/// a GET answers 500 rather than send the damaged block as header lines (the
/// value itself, over 4 KiB, is sent unchecked, but the block is checked).
#[test]
fn a_damaged_block_is_never_sent() {
    let s = Server::start_with(&["--workers", "1"]);
    let large = pattern(100_000, 3);
    put_with(s.addr, "k", FIELDS, &large);
    assert_eq!(get_with(s.addr, "GET", "k", "").status, 200);
    let seg = files_in(&s.data)
        .into_iter()
        .find(|f| is_segment(f))
        .unwrap();
    let r = segment_records(&s.data, &seg)
        .into_iter()
        .find(|r| r.key == "k")
        .unwrap();
    let at = r.offset + 32 + 1 + 16 + 5; // in "Content-Type"
    let path = s.data.join(&seg);
    let mut b = std::fs::read(&path).unwrap();
    b[at] ^= 0x20;
    std::fs::write(&path, &b).unwrap();
    let w = get_with(s.addr, "GET", "k", "");
    assert_eq!(w.status, 500, "{}", w.head);
    assert!(!w
        .head
        .to_ascii_lowercase()
        .contains("content-type: text/html"));
}
