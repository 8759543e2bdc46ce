//! HTTP/1.1 on the wire: framing, persistence, pipelining, limits, hostile input.
mod common;
use common::*;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

const H: &str = "Host: t\r\n";

#[test]
fn raw_dot_dot_paths_stay_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Server::start_in(&data, &[]);
    for target in [
        "/../escape",
        "/../../escape",
        "/%2e%2e/escape",
        "/..\\escape",
    ] {
        let req = format!("PUT {target} HTTP/1.1\r\n{H}Content-Length: 3\r\n\r\nabc");
        let w = raw_once(s.addr, req.as_bytes());
        assert!(w.status == 201 || w.status == 204, "{target}: {}", w.status);
        let req = format!("GET {target} HTTP/1.1\r\n{H}\r\n");
        assert_eq!(raw_once(s.addr, req.as_bytes()).body, b"abc", "{target}");
    }
    assert_eq!(files_in(tmp.path()), vec!["data".to_string()]);
    let w = raw_once(
        s.addr,
        format!("GET /../etc/passwd HTTP/1.1\r\n{H}\r\n").as_bytes(),
    );
    assert_eq!(w.status, 404);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let s = Server::start();
    let mut c = Raw::connect(s.addr);
    for i in 0..20 {
        let body = format!("value-{i}");
        c.send(
            format!(
                "PUT /k{i} HTTP/1.1\r\n{H}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        assert_eq!(c.response().status, 201);
        c.send(format!("GET /k{i} HTTP/1.1\r\n{H}\r\n").as_bytes());
        let w = c.response();
        assert_eq!(w.status, 200);
        assert_eq!(w.body, body.as_bytes());
        assert_eq!(w.header("connection"), None);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = Server::start();
    let mut c = Raw::connect(s.addr);
    let mut batch = String::new();
    batch += &format!("PUT /p HTTP/1.1\r\n{H}Content-Length: 5\r\n\r\nfirst");
    batch += &format!("GET /p HTTP/1.1\r\n{H}\r\n");
    batch += &format!(
        "PUT /p HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n"
    );
    batch += &format!("HEAD /p HTTP/1.1\r\n{H}\r\n");
    batch += &format!("GET /p HTTP/1.1\r\n{H}\r\n");
    batch += &format!("GET /missing HTTP/1.1\r\n{H}\r\n");
    batch += &format!("DELETE /p HTTP/1.1\r\n{H}\r\n");
    batch += &format!("GET /p HTTP/1.1\r\n{H}Connection: close\r\n\r\n");
    c.send(batch.as_bytes());
    assert_eq!(c.response().status, 201);
    let w = c.response();
    assert_eq!((w.status, w.body.as_slice()), (200, &b"first"[..]));
    assert_eq!(c.response().status, 204);
    let w = c.response_to(true).unwrap();
    assert_eq!(
        (w.status, w.header("content-length").as_deref()),
        (200, Some("6"))
    );
    let w = c.response();
    assert_eq!((w.status, w.body.as_slice()), (200, &b"second"[..]));
    assert_eq!(c.response().status, 404);
    assert_eq!(c.response().status, 204);
    let w = c.response();
    assert_eq!(w.status, 404);
    assert_eq!(w.header("connection").as_deref(), Some("close"));
    assert!(c.closed());
}

/// Long bodies are read straight into their record in big pieces: never past
/// their end, whatever follows them on the connection.
#[test]
fn long_bodies_end_exactly_where_their_length_says() {
    let s = Server::start();
    let mut c = Raw::connect(s.addr);
    let sizes = [32_769usize, 262_144, 262_145, 300_000, 1 << 20];
    let mut batch = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        batch.extend_from_slice(
            format!("PUT /long{i} HTTP/1.1\r\n{H}Content-Length: {n}\r\n\r\n").as_bytes(),
        );
        batch.extend_from_slice(&pattern(*n, i as u64));
        batch.extend_from_slice(format!("GET /long{i} HTTP/1.1\r\n{H}\r\n").as_bytes());
    }
    // sent while the answers are read: they would fill the socket otherwise
    let mut w = c.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || w.write_all(&batch).unwrap());
    for (i, n) in sizes.iter().enumerate() {
        assert_eq!(c.response().status, 201, "PUT of {n} bytes");
        let r = c.response();
        assert_eq!(r.status, 200);
        assert!(r.body == pattern(*n, i as u64), "GET of {n} bytes");
    }
    sender.join().unwrap();
}

#[test]
fn pipelined_requests_split_at_every_byte() {
    let s = Server::start();
    let req = format!(
        "PUT /split HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\nGET /split HTTP/1.1\r\n{H}\r\n"
    );
    let mut c = Raw::connect(s.addr);
    c.stream.set_nodelay(true).unwrap();
    for b in req.as_bytes() {
        c.send(&[*b]);
    }
    assert_eq!(c.response().status, 201);
    assert_eq!(c.response().body, b"abcde");
}

#[test]
fn chunked_upload() {
    let s = Server::start();
    let body = pattern(300_000, 3);
    let mut req = format!("PUT /c HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
    for piece in body.chunks(65_537) {
        req.extend_from_slice(format!("{:X}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw_once(s.addr, &req).status, 201);
    assert_eq!(get(&agent(), &s.url("/c")).body, body);
    // an empty chunked body is an empty value
    let w = raw_once(
        s.addr,
        format!("PUT /e HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").as_bytes(),
    );
    assert_eq!(w.status, 201);
    assert_eq!(get(&agent(), &s.url("/e")).body, b"");
}

#[test]
fn curl_chunked_and_large_upload_with_100_continue() {
    if !need(
        "curl_chunked_and_large_upload_with_100_continue",
        "curl",
        "curl",
    ) {
        return;
    }
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v");
    let v = pattern(3 << 20, 11);
    std::fs::write(&file, &v).unwrap();
    // curl sends Expect: 100-continue for bodies over 1 MiB and waits for the 100
    let out = Command::new("curl")
        .args(["-sS", "-v", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(&file)
        .arg(s.url("/curl"))
        .output()
        .expect("curl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201", "{stderr}");
    assert!(stderr.contains("Expect: 100-continue"), "{stderr}");
    assert!(stderr.contains("HTTP/1.1 100 Continue"), "{stderr}");
    assert_eq!(get(&agent(), &s.url("/curl")).body, v);

    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(s.url("/curl2"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    assert_eq!(get(&agent(), &s.url("/curl2")).body, v);
}

#[test]
fn expect_100_continue_comes_before_the_body() {
    let s = Server::start();
    let mut c = Raw::connect(s.addr);
    c.send(
        format!("PUT /x HTTP/1.1\r\n{H}Expect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            .as_bytes(),
    );
    let w = c.response();
    assert_eq!(w.status, 100);
    c.send(b"body");
    assert_eq!(c.response().status, 201);
    // a refused upload gets its final answer instead of 100
    let s2 = Server::start_with(&["--max-body", "10"]);
    let mut c = Raw::connect(s2.addr);
    c.send(
        format!("PUT /x HTTP/1.1\r\n{H}Expect: 100-continue\r\nContent-Length: 11\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(c.response().status, 413);
    // an expectation we cannot meet
    let w = raw_once(
        s.addr,
        format!("PUT /x HTTP/1.1\r\n{H}Expect: tea\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    );
    assert_eq!(w.status, 417);
}

#[test]
fn http_1_0_closes_unless_keep_alive() {
    let s = Server::start();
    let mut c = Raw::connect(s.addr);
    c.send(b"PUT /old HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi");
    let w = c.response();
    assert_eq!(w.status, 201);
    assert_eq!(w.header("connection").as_deref(), Some("close"));
    assert!(c.closed());

    let mut c = Raw::connect(s.addr);
    c.send(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let w = c.response();
    assert_eq!(w.body, b"hi");
    assert_eq!(w.header("connection").as_deref(), Some("keep-alive"));
    c.send(b"GET /old HTTP/1.0\r\n\r\n");
    assert_eq!(c.response().body, b"hi");
    assert!(c.closed());
}

#[test]
fn connection_close_is_honoured() {
    let s = Server::start();
    let mut c = Raw::connect(s.addr);
    c.send(format!("GET /none HTTP/1.1\r\n{H}Connection: close\r\n\r\n").as_bytes());
    let w = c.response();
    assert_eq!(w.status, 404);
    assert_eq!(w.header("connection").as_deref(), Some("close"));
    assert!(c.closed());
}

#[test]
fn body_over_max_body_is_413() {
    if !need("body_over_max_body_is_413", "curl", "curl") {
        return;
    }
    let s = Server::start_with(&["--max-body", "1000"]);
    let w = raw_once(
        s.addr,
        format!("PUT /m HTTP/1.1\r\n{H}Content-Length: 1001\r\n\r\n").as_bytes(),
    );
    assert_eq!(w.status, 413);
    assert_eq!(w.header("connection").as_deref(), Some("close"));
    // exactly the limit is fine
    let ok = agent();
    assert_eq!(put(&ok, &s.url("/m"), &[7u8; 1000]).status, 201);
    // a chunked body that grows past the limit
    let mut req = format!("PUT /m HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
    for _ in 0..3 {
        req.extend_from_slice(b"190\r\n");
        req.extend_from_slice(&[1u8; 400]);
        req.extend_from_slice(b"\r\n");
    }
    let mut c = Raw::connect(s.addr);
    c.send(&req);
    assert_eq!(c.response().status, 413);
    // the old value is intact and no temporary file is left
    assert_eq!(get(&ok, &s.url("/m")).body, vec![7u8; 1000]);
    assert_eq!(stored_names(&s.data), vec!["m".to_string()]);
    // a huge announced body is refused before any of it is read: curl sees the 413
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "-H",
            "Content-Length: 5000000000",
        ])
        .arg(s.url("/m"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413");
}

#[test]
fn oversized_heads_and_uris() {
    let s = Server::start();
    let long = "a".repeat(20_000);
    let w = raw_once(
        s.addr,
        format!("GET /{long} HTTP/1.1\r\n{H}\r\n").as_bytes(),
    );
    assert_eq!(w.status, 414);
    let w = raw_once(
        s.addr,
        format!("GET /k HTTP/1.1\r\n{H}X-Big: {long}\r\n\r\n").as_bytes(),
    );
    assert_eq!(w.status, 431);
    let many: String = (0..150).map(|i| format!("X-{i}: v\r\n")).collect();
    let w = raw_once(
        s.addr,
        format!("GET /k HTTP/1.1\r\n{H}{many}\r\n").as_bytes(),
    );
    assert_eq!(w.status, 431);
}

#[test]
fn malformed_requests_get_400_and_close() {
    let s = Server::start();
    let cases: Vec<(&str, String, u16)> = vec![
        ("CL and TE", format!("PUT /k HTTP/1.1\r\n{H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400),
        ("conflicting CLs", format!("PUT /k HTTP/1.1\r\n{H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"), 400),
        ("signed CL", format!("PUT /k HTTP/1.1\r\n{H}Content-Length: +3\r\n\r\nabc"), 400),
        ("overflowing CL", format!("PUT /k HTTP/1.1\r\n{H}Content-Length: 99999999999999999999999\r\n\r\n"), 400),
        ("bad chunk size", format!("PUT /k HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\nzz\r\n"), 400),
        ("overflowing chunk", format!("PUT /k HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n11111111111111111111\r\n"), 400),
        ("chunk without CRLF", format!("PUT /k HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n"), 400),
        ("gzip: chunked not last", format!("PUT /k HTTP/1.1\r\n{H}Transfer-Encoding: gzip\r\n\r\n"), 400),
        ("gzip, chunked", format!("PUT /k HTTP/1.1\r\n{H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 501),
        ("space before colon", format!("GET /k HTTP/1.1\r\n{H}Foo : bar\r\n\r\n"), 400),
        ("folded header", format!("GET /k HTTP/1.1\r\n{H}Foo: bar\r\n baz\r\n\r\n"), 400),
        ("bare LF", "GET /k HTTP/1.1\nHost: t\n\n".to_string(), 400),
        ("no version", "GET /k\r\n\r\n".to_string(), 400),
        ("HTTP/2.0", format!("GET /k HTTP/2.0\r\n{H}\r\n"), 505),
        ("NUL in value", format!("GET /k HTTP/1.1\r\n{H}X: a\0b\r\n\r\n"), 400),
    ];
    for (what, req, status) in cases {
        let mut c = Raw::connect(s.addr);
        c.send(req.as_bytes());
        let w = c
            .response_to(false)
            .unwrap_or_else(|| panic!("{what}: no response"));
        assert_eq!(w.status, status, "{what}");
        if status != 505 || w.header("connection").is_some() {
            assert_eq!(w.header("connection").as_deref(), Some("close"), "{what}");
        }
        assert!(c.closed(), "{what}: connection left open");
    }
    // the server is unharmed, and no partial value was stored
    assert_eq!(get(&agent(), &s.url("/k")).status, 404);
    assert!(stored_names(&s.data).is_empty());
}

#[test]
fn host_is_required_once_in_http_1_1() {
    let s = Server::start();
    let mut c = Raw::connect(s.addr);
    // the framing is intact, so the connection is kept after the 400
    c.send(b"GET /k HTTP/1.1\r\n\r\n");
    assert_eq!(c.response().status, 400);
    c.send(format!("GET /k HTTP/1.1\r\n{H}{H}\r\n").as_bytes());
    assert_eq!(c.response().status, 400);
    c.send(format!("GET /k HTTP/1.1\r\n{H}\r\n").as_bytes());
    assert_eq!(c.response().status, 404);
    // HTTP/1.0 does not need one
    assert_eq!(raw_once(s.addr, b"GET /k HTTP/1.0\r\n\r\n").status, 404);
}

#[test]
fn client_that_vanishes_mid_upload_leaves_old_value() {
    let s = Server::start();
    let a = agent();
    put(&a, &s.url("/v"), b"old");
    {
        let mut c = Raw::connect(s.addr);
        c.send(format!("PUT /v HTTP/1.1\r\n{H}Content-Length: 1000000\r\n\r\n").as_bytes());
        c.stream.write_all(&[9u8; 300_000]).unwrap();
    } // dropped: the connection closes with the body unfinished
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(get(&a, &s.url("/v")).body, b"old");
    assert_eq!(stored_names(&s.data), vec!["v".to_string()]);
}

#[test]
fn leading_empty_lines_and_absolute_form() {
    let s = Server::start();
    let w = raw_once(
        s.addr,
        format!("\r\n\r\nPUT http://t/abs HTTP/1.1\r\n{H}Content-Length: 1\r\n\r\nz").as_bytes(),
    );
    assert_eq!(w.status, 201);
    assert_eq!(get(&agent(), &s.url("/abs")).body, b"z");
}

/// An empty line before a request is skipped however its bytes are split
/// across reads (RFC 9112 2.2): a CR alone is the start of one, not a lone CR
/// (it once answered 400 when the LF came in the next read).
#[test]
fn leading_empty_lines_split_across_reads_are_skipped() {
    let s = Server::start();
    let splits: &[&[&[u8]]] = &[
        &[b"\r", b"\nGET /e HTTP/1.1\r\nHost: t\r\n\r\n"],
        &[b"\r\n\r", b"\nGET /e HTTP/1.1\r\nHost: t\r\n\r\n"],
        &[
            b"\r",
            b"\n",
            b"\r",
            b"\n",
            b"GET /e HTTP/1.1\r\nHost: t\r\n\r\n",
        ],
    ];
    for parts in splits {
        let mut c = Raw::connect(s.addr);
        c.stream.set_nodelay(true).unwrap();
        for p in *parts {
            c.send(p);
            std::thread::sleep(Duration::from_millis(50)); // a read each
        }
        assert_eq!(c.response().status, 404, "{parts:?}");
        // and after an answer, on the same connection
        c.send(b"\r");
        std::thread::sleep(Duration::from_millis(50));
        c.send(b"\nGET /e HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response().status, 404, "{parts:?}, then again");
    }
    // a CR that is not followed by LF is still a lone CR
    let mut c = Raw::connect(s.addr);
    c.send(b"\r");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"GET /e HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 400);
}

/// A client that sends more after a "Connection: close" request and then
/// half-closes gets the whole answer: the server drains what it will not
/// read instead of closing on it (a close with unread input is a reset,
/// which destroys the answer still in flight).
#[test]
fn a_close_after_an_answer_never_cuts_it() {
    let s = Server::start();
    let value = pattern(4 << 20, 7);
    assert_eq!(put(&agent(), &s.url("/big"), &value).status, 201);
    for round in 0..5 {
        let mut c = std::net::TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(format!("GET /big HTTP/1.1\r\n{H}Connection: close\r\n\r\n").as_bytes())
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 * round)); // the answer under way
        c.write_all(format!("GET /x HTTP/1.1\r\n{H}\r\n").as_bytes())
            .unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match read_some(&mut c, &mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("round {round}: {e} after {} bytes", got.len()),
            }
        }
        let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(got.len() - end, value.len(), "round {round}: the body cut");
        assert_eq!(&got[end..], &value[..], "round {round}");
    }
}

#[test]
fn half_closed_clients_get_their_answers_and_a_prompt_close() {
    use std::io::Read;
    use std::net::Shutdown;
    let s = Server::start();
    put(&agent(), &s.url("/h"), b"half");
    for req in [
        format!("GET /h HTTP/1.1\r\n{H}\r\n"),
        format!("GET /h HTTP/1.1\r\n{H}\r\nGET /h HTTP/1.1\r\n{H}\r\n"),
        format!("PUT /h2 HTTP/1.1\r\n{H}Content-Length: 3\r\n\r\nabc"),
    ] {
        let mut c = std::net::TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .unwrap();
        c.write_all(req.as_bytes()).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let start = std::time::Instant::now();
        let mut got = Vec::new();
        c.read_to_end(&mut got)
            .expect("the server closes after answering");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        let text = String::from_utf8_lossy(&got);
        let answers = text.matches("HTTP/1.1 ").count();
        assert_eq!(answers, req.matches("HTTP/1.1\r\n").count(), "{text}");
    }
    assert_eq!(get(&agent(), &s.url("/h2")).body, b"abc");
}

#[test]
fn bodies_sent_with_get_head_delete_are_dropped_and_the_connection_kept() {
    let s = Server::start();
    assert_eq!(put(&agent(), &s.url("/v"), b"value").status, 201);
    let mut c = Raw::connect(s.addr);
    // pipelined, the GET's body split over two writes
    c.send(b"GET /v HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234");
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send(
        b"56789HEAD /v HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc\
          DELETE /v HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx\
          GET /v HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let g = c.response();
    assert_eq!((g.status, g.body.as_slice()), (200, b"value".as_slice()));
    let h = c.response_to(true).expect("HEAD answer");
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-length").as_deref(), Some("5"));
    assert_eq!(c.response().status, 204);
    assert_eq!(c.response().status, 404);
    c.send(b"GET /v HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 404, "the connection is still usable");
}

#[test]
fn one_byte_range_is_served_with_206_and_bad_ones_are_ignored() {
    if !need(
        "one_byte_range_is_served_with_206_and_bad_ones_are_ignored",
        "curl",
        "curl",
    ) {
        return;
    }
    let s = Server::start();
    let a = agent();
    let v = pattern(100_000, 9);
    assert_eq!(put(&a, &s.url("/r"), &v).status, 201);
    let ranged = |range: &str| {
        let mut r = a
            .get(&s.url("/r"))
            .header("Range", range)
            .call()
            .expect("answer");
        let status = r.status().as_u16();
        let content_range = r
            .headers()
            .get("content-range")
            .map(|h| h.to_str().unwrap().to_string());
        let body = r
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .unwrap();
        (status, content_range, body)
    };
    let cr = |s: &str| Some(s.to_string());
    assert_eq!(
        ranged("bytes=0-9"),
        (206, cr("bytes 0-9/100000"), v[..10].to_vec())
    );
    assert_eq!(
        ranged("bytes=50000-50999"),
        (
            206,
            cr("bytes 50000-50999/100000"),
            v[50_000..51_000].to_vec()
        )
    );
    assert_eq!(
        ranged("bytes=99990-"),
        (206, cr("bytes 99990-99999/100000"), v[99_990..].to_vec())
    );
    assert_eq!(
        ranged("bytes=-5"),
        (206, cr("bytes 99995-99999/100000"), v[99_995..].to_vec())
    );
    assert_eq!(
        ranged("BYTES=99000-200000"),
        (206, cr("bytes 99000-99999/100000"), v[99_000..].to_vec())
    );
    assert_eq!(
        ranged("bytes=-200000"),
        (206, cr("bytes 0-99999/100000"), v.clone())
    );
    // not satisfiable: 416 with the size
    let (st, range, _) = ranged("bytes=100000-");
    assert_eq!((st, range), (416, cr("bytes */100000")));
    // ignored (the whole value, 200): several ranges, other units, LAST < FIRST, junk
    for r in [
        "bytes=0-1,5-6",
        "items=0-1",
        "bytes=5-4",
        "bytes=x-",
        "bytes=1-2x",
        "bytes=",
    ] {
        assert_eq!(ranged(r), (200, None, v.clone()), "{r}");
    }
    // If-Range with a tag that is not the value's: Range is ignored
    let r = a
        .get(&s.url("/r"))
        .header("Range", "bytes=0-9")
        .header("If-Range", "\"x\"")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // HEAD advertises ranges but has no range semantics
    let mut c = Raw::connect(s.addr);
    c.send(b"HEAD /r HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n");
    let h = c.response_to(true).expect("HEAD answer");
    assert_eq!(h.status, 200);
    assert_eq!(h.header("accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(h.header("content-length").as_deref(), Some("100000"));
    // pipelined ranges on one connection
    let mut c = Raw::connect(s.addr);
    c.send(b"GET /r HTTP/1.1\r\nHost: t\r\nRange: bytes=1-2\r\n\r\nGET /r HTTP/1.1\r\nHost: t\r\nRange: bytes=3-3\r\n\r\n");
    assert_eq!(c.response().body, v[1..3]);
    assert_eq!(c.response().body, v[3..4]);
    // a range larger than one sendfile call, far into a large value
    let big = pattern(6 << 20, 4);
    assert_eq!(put(&a, &s.url("/big"), &big).status, 201);
    let mut r = a
        .get(&s.url("/big"))
        .header("Range", "bytes=1000000-4999999")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    let got = r
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap();
    assert!(got == big[1_000_000..5_000_000], "wrong bytes in the range");
    // curl -r, as a user would
    let out = Command::new("curl")
        .args(["-s", "-r", "10-19", &s.url("/r")])
        .output()
        .expect("curl");
    assert_eq!(out.stdout, v[10..20]);
}
