//! Clients that stall, trickle or never read: timeouts free their slots, and
//! nobody else waits for them. Short timeouts are set by flags.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn quick_server() -> Server {
    Server::start_with(&[
        "--idle-timeout",
        "1",
        "--request-timeout",
        "2",
        "--io-timeout",
        "1",
    ])
}

/// Waits for the server to close `c`; returns what it sent first and how long it took.
fn until_closed(c: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    c.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return (got, start.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (got, start.elapsed())
            }
            Err(e) => panic!("not closed within {limit:?}: {e}"),
        }
        assert!(start.elapsed() < limit, "not closed within {limit:?}");
    }
}

#[test]
fn idle_keep_alive_connections_are_closed_silently() {
    let s = quick_server();
    let mut c = Raw::connect(s.addr);
    c.send(b"GET /k HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 404);
    let (got, took) = until_closed(&mut c.stream, Duration::from_secs(6));
    assert!(
        got.is_empty(),
        "idle close sends nothing: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(took >= Duration::from_millis(500), "{took:?}");
    // and a connection that never sends anything
    let mut fresh = TcpStream::connect(s.addr).unwrap();
    let (got, _) = until_closed(&mut fresh, Duration::from_secs(6));
    assert!(got.is_empty());
}

#[test]
fn a_head_that_does_not_finish_gets_408() {
    let s = quick_server();
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"GET /k HTTP/1.1\r\nHo").unwrap();
    let (got, took) = until_closed(&mut c, Duration::from_secs(8));
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(took >= Duration::from_millis(1500), "{took:?}");
}

#[test]
fn slowloris_trickle_is_cut_off_by_the_request_timeout() {
    let s = quick_server();
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_nodelay(true).unwrap();
    let start = Instant::now();
    let head = format!(
        "GET /k HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(100)
    );
    let mut sent_all = true;
    for b in head.as_bytes() {
        if c.write_all(&[*b]).is_err() {
            sent_all = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if start.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let (got, _) = until_closed(&mut c, Duration::from_secs(6));
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "sent all: {sent_all}, got {text:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(8));
}

#[test]
fn a_stalled_upload_gets_408_and_keeps_the_old_value() {
    let s = quick_server();
    let a = agent();
    assert_eq!(put(&a, &s.url("/v"), b"old").status, 201);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"PUT /v HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly ten!!")
        .unwrap();
    let (got, _) = until_closed(&mut c, Duration::from_secs(6));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"));
    // a new client: the first one's pooled connection was closed as idle meanwhile
    assert_eq!(get(&agent(), &s.url("/v")).body, b"old");
    assert_eq!(
        stored_names(&s.data),
        vec!["v".to_string()],
        "no temporary file left"
    );
}

#[test]
fn a_client_that_never_reads_is_dropped_and_blocks_nobody() {
    let s = quick_server();
    let a = agent();
    let big = pattern(32 << 20, 9);
    assert_eq!(put(&a, &s.url("/big"), &big).status, 201);
    let baseline = s.open_fds();
    let mut stuck = Vec::new();
    for _ in 0..20 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        stuck.push(c);
    }
    // everyone else is served meanwhile
    for i in 0..50 {
        assert_eq!(put(&a, &s.url(&format!("/k{i}")), b"v").status, 201);
        assert_eq!(get(&a, &s.url(&format!("/k{i}"))).body, b"v");
    }
    // the stuck readers are closed after the io timeout, their descriptors freed
    s.assert_fds_back_to(baseline, Duration::from_secs(10));
    drop(stuck);
}

#[test]
fn a_thousand_trickling_connections_do_not_stop_service() {
    let s = quick_server();
    let a = agent();
    put(&a, &s.url("/ok"), b"served");
    let baseline = s.open_fds();
    let mut lorises: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    for c in &mut lorises {
        c.write_all(b"GET /ok HTTP/1.1\r\n").unwrap();
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        for c in &mut lorises {
            let _ = c.write_all(b"X");
        }
        let t = Instant::now();
        assert_eq!(get(&a, &s.url("/ok")).body, b"served");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a request waited {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // the server frees every slot once the request timeout passes
    s.assert_fds_back_to(baseline, Duration::from_secs(10));
    drop(lorises);
}

#[test]
fn timeout_flags_are_checked() {
    for (flag, value) in [
        ("--idle-timeout", "0"),
        ("--request-timeout", "x"),
        ("--io-timeout", "86401"),
    ] {
        let out = std::process::Command::new(BIN)
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag));
    }
}

/// A request whose body stalls is aborted by the upload timeout, and only an
/// upload's own spool file is ever removed. The token pointer of an
/// `Authorization` field once shared its bytes with the spool file's name, so
/// a stalled GET or DELETE with a token and a body unlinked the file named by
/// the pointer's bytes: the token's offset in the input buffer, "0" when it
/// starts at byte 48, "A" at byte 65.
#[test]
fn a_stalled_body_never_removes_a_file_it_did_not_make() {
    let s = Server::start_with(&["--workers", "1", "--io-timeout", "1"]);
    for name in ["0", "A"] {
        std::fs::write(s.data.join(name), b"keep").unwrap();
    }
    // "GET /k HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " is 48 bytes;
    // all at once, so they stall together (and hold different buffers)
    let mut stalled = Vec::new();
    for pad in ["", "X-Pad: 12345678\r\n"] {
        for method in ["GET", "DELETE"] {
            let mut c = Raw::connect(s.addr);
            c.send(
                format!(
                    "{method} /k HTTP/1.1\r\nHost: t\r\n{pad}Authorization: Bearer tok\r\n\
                     Content-Length: 10\r\n\r\nab"
                )
                .as_bytes(),
            );
            stalled.push((c, method, pad));
        }
    }
    for (mut c, method, pad) in stalled {
        assert_eq!(c.response().status, 408, "{method} {pad:?}");
    }
    for name in ["0", "A"] {
        assert_eq!(
            std::fs::read(s.data.join(name)).ok().as_deref(),
            Some(&b"keep"[..]),
            "{name} was removed"
        );
    }
}
