//! Access tokens: `--token-file` guards writes, `--read-token-file` reads;
//! `Authorization: Bearer TOKEN`, compared exactly, else 401 with
//! `WWW-Authenticate: Bearer`.
mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn token_file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

/// A request with an Authorization field of exactly these bytes (or none).
fn req(s: &Server, method: &str, path: &str, auth: Option<&[u8]>) -> Wire {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: t\r\n").into_bytes();
    if let Some(a) = auth {
        r.extend_from_slice(b"Authorization: ");
        r.extend_from_slice(a);
        r.extend_from_slice(b"\r\n");
    }
    if method == "PUT" || method == "POST" {
        r.extend_from_slice(b"Content-Length: 1\r\n\r\nv");
    } else {
        r.extend_from_slice(b"\r\n");
    }
    let mut c = Raw::connect(s.addr);
    c.send(&r);
    c.response_to(method == "HEAD").unwrap_or_else(|| {
        panic!(
            "no answer to {method} {path} {:?}",
            auth.map(String::from_utf8_lossy)
        )
    })
}

fn bearer(t: &[u8]) -> Vec<u8> {
    [&b"Bearer "[..], t].concat()
}

#[test]
fn writes_need_a_token_of_the_file_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let long = vec![b'L'; 3000];
    let binary: Vec<u8> = vec![b'b', 0x80, 0xff, 0xc3, 0xa9, b'!'];
    let mut file = b"first-token\r\nsecond-token\n\n".to_vec();
    file.extend_from_slice(&long);
    file.push(b'\n');
    file.extend_from_slice(&binary); // the last line, without LF
    let tokens = token_file(tmp.path(), "tokens", &file);
    let s = Server::start_with(&["--token-file", &tokens]);

    for (auth, why) in [
        (None, "no Authorization"),
        (Some(b"Bearer wrong".to_vec()), "a wrong token"),
        (Some(b"Bearer first-toke".to_vec()), "a prefix of a token"),
        (Some(b"Bearer first-tokenX".to_vec()), "a token and more"),
        (Some(b"Bearer FIRST-TOKEN".to_vec()), "another case"),
        (Some(b"Basic Zmlyc3QtdG9rZW4=".to_vec()), "another scheme"),
        (Some(b"first-token".to_vec()), "no scheme"),
        (Some(b"Bearer".to_vec()), "no token"),
        (Some(bearer(&long[1..])), "a long token, one byte short"),
        (Some(bearer(&binary[..5])), "a binary token, cut"),
        (
            Some(bearer(b"first-token\t-")),
            "a token and more after a blank",
        ),
    ] {
        for method in ["PUT", "POST", "DELETE"] {
            let r = req(&s, method, "/k", auth.as_deref());
            assert_eq!(r.status, 401, "{method} with {why}");
            let www = r.header("www-authenticate").expect("WWW-Authenticate");
            assert!(www.starts_with("Bearer realm=\"asmkv\""), "{www}");
            assert_eq!(
                www.contains("error=\"invalid_token\""),
                auth.as_deref().is_some_and(|a| a.starts_with(b"Bearer ")),
                "{why}: {www}"
            );
            assert_eq!(r.body, b"a valid access token is needed\n");
        }
    }
    assert_eq!(
        req(&s, "GET", "/k", None).status,
        404,
        "nothing was written"
    );
    for t in [&b"first-token"[..], b"second-token", &long, &binary] {
        let r = req(&s, "PUT", "/k", Some(&bearer(t)));
        assert!(r.status == 201 || r.status == 204, "{}", r.status);
    }
    // the scheme in any case, blanks before the token
    assert_eq!(
        req(&s, "POST", "/k", Some(b"bEARER    second-token")).status,
        204
    );
    // two Authorization fields: refused
    let mut c = Raw::connect(s.addr);
    c.send(
        b"DELETE /k HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer first-token\r\n\
          Authorization: Bearer first-token\r\n\r\n",
    );
    assert_eq!(c.response().status, 401);
    // reads stay open without --read-token-file
    assert_eq!(req(&s, "GET", "/k", None).status, 200);
    assert_eq!(req(&s, "HEAD", "/k", None).status, 200);
    assert_eq!(req(&s, "GET", "/", None).status, 200);
    assert_eq!(
        req(&s, "DELETE", "/k", Some(b"Bearer first-token")).status,
        204
    );
}

/// Two or more Authorization fields are 401 whatever their schemes and order,
/// for writes and for guarded reads; the next request on the connection,
/// with one field, is judged on its own.
#[test]
fn two_authorization_fields_are_refused_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let writers = token_file(tmp.path(), "w", b"writer\n");
    let readers = token_file(tmp.path(), "r", b"reader\n");
    let s = Server::start_with(&["--token-file", &writers, "--read-token-file", &readers]);
    let fields: [&[&[u8]]; 7] = [
        &[b"Basic d3JpdGVy", b"Bearer writer"],
        &[b"Bearer writer", b"Basic d3JpdGVy"],
        &[b"", b"Bearer writer"],
        &[b"Bearer writer", b""],
        &[b"Bearer writer", b"Bearer writer"],
        &[b"Basic x", b"Basic y"],
        &[b"Basic x", b"Bearer writer", b"Bearer writer"],
    ];
    for f in fields {
        for method in ["PUT", "DELETE", "GET", "HEAD"] {
            let mut r = format!("{method} /k HTTP/1.1\r\nHost: t\r\n").into_bytes();
            for a in f {
                r.extend_from_slice(b"Authorization: ");
                r.extend_from_slice(a);
                r.extend_from_slice(b"\r\n");
            }
            if method == "PUT" {
                r.extend_from_slice(b"Content-Length: 0\r\n");
            }
            r.extend_from_slice(b"\r\n");
            // then one valid field on the same connection: not voided
            r.extend_from_slice(
                b"GET /none HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer writer\r\n\r\n",
            );
            let mut c = Raw::connect(s.addr);
            c.send(&r);
            let fields: Vec<_> = f.iter().map(|a| String::from_utf8_lossy(a)).collect();
            let w = c.response_to(method == "HEAD").expect("an answer");
            assert_eq!(w.status, 401, "{method} with {fields:?}");
            assert!(w.header("www-authenticate").is_some(), "{fields:?}");
            assert_eq!(
                c.response().status,
                404,
                "{method} with {fields:?}, then one"
            );
        }
    }
    assert_eq!(
        req(&s, "GET", "/k", Some(b"Bearer reader")).status,
        404,
        "nothing written"
    );
}

/// 1,024 tokens (the most a file may hold) of lengths from 1 byte to 3,000,
/// around SipHash's 8-byte words, with one line twice: every one is taken,
/// and what differs from all of them by a byte, by being one short or one
/// longer, or by being empty is refused. Each answer is for `DELETE /none`:
/// 404 if the token was taken, 401 if not.
#[test]
fn every_token_of_a_full_file_and_no_near_miss() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    for len in [1, 2, 7, 8, 9, 15, 16, 17, 24, 64, 255, 256, 257, 1000, 3000] {
        tokens.push(
            (0..len)
                .map(|_| ALPHABET[next() as usize % ALPHABET.len()])
                .collect(),
        );
    }
    while tokens.len() < 1023 {
        let len = 1 + next() as usize % 40;
        let t: Vec<u8> = (0..len)
            .map(|_| ALPHABET[next() as usize % ALPHABET.len()])
            .collect();
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    let mut file = Vec::new();
    for t in &tokens {
        file.extend_from_slice(t);
        file.push(b'\n');
    }
    file.extend_from_slice(&tokens[20]); // a token twice: 1,024 lines
    file.push(b'\n');
    assert!(file.len() <= 65536, "{}", file.len());
    let tmp = tempfile::tempdir().unwrap();
    let path = token_file(tmp.path(), "tokens", &file);
    let s = Server::start_with(&["--token-file", &path]);
    let set: std::collections::HashSet<&[u8]> = tokens.iter().map(|t| &t[..]).collect();

    let mut c = Raw::connect(s.addr);
    let mut ask = |presented: &[&[u8]]| -> Vec<u16> {
        let mut r = Vec::new();
        for t in presented {
            r.extend_from_slice(b"DELETE /none HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ");
            r.extend_from_slice(t);
            r.extend_from_slice(b"\r\n\r\n");
        }
        c.send(&r);
        presented.iter().map(|_| c.response().status).collect()
    };
    let mut refused = 0;
    for (i, t) in tokens.iter().enumerate() {
        let mut changed = t.clone();
        let at = (i * 7) % t.len();
        let k = ALPHABET.iter().position(|&b| b == t[at]).unwrap();
        changed[at] = ALPHABET[(k + 1 + i % 60) % ALPHABET.len()];
        let longer = [&t[..], &[ALPHABET[i % ALPHABET.len()]]].concat();
        let shorter = &t[..t.len() - 1];
        let misses: Vec<&[u8]> = [&changed[..], &longer, shorter]
            .into_iter()
            .filter(|m| !m.is_empty() && !set.contains(m))
            .collect();
        let mut presented = vec![&t[..]];
        presented.extend(&misses);
        let got = ask(&presented);
        assert_eq!(got[0], 404, "token {i} ({} bytes) refused", t.len());
        for (m, status) in misses.iter().zip(&got[1..]) {
            assert_eq!(
                *status,
                401,
                "token {i}: a near miss taken: {:?}",
                String::from_utf8_lossy(m)
            );
            refused += 1;
        }
    }
    assert!(refused > 3000, "{refused} near misses");
    assert_eq!(ask(&[b""]), [401], "an empty token");
    assert_eq!(ask(&[&tokens[20]]), [404], "the token given twice");
}

/// With both files, as before: a read token reads and does not write, a
/// write token does both, a near miss of either does neither.
#[test]
fn read_and_write_sets_stay_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let writers = token_file(tmp.path(), "w", b"w-0123456789abcdef\nw2\n");
    let readers = token_file(tmp.path(), "r", b"r-0123456789abcdef\nr2\n");
    let s = Server::start_with(&["--token-file", &writers, "--read-token-file", &readers]);
    for (t, reads, writes) in [
        (&b"w-0123456789abcdef"[..], true, true),
        (b"w2", true, true),
        (b"r-0123456789abcdef", true, false),
        (b"r2", true, false),
        (b"w-0123456789abcdeg", false, false),
        (b"r-0123456789abcde", false, false),
        (b"r3", false, false),
        (b"w", false, false),
    ] {
        let auth = bearer(t);
        let name = String::from_utf8_lossy(t);
        let get = req(&s, "GET", "/none", Some(&auth)).status;
        assert_eq!(get, if reads { 404 } else { 401 }, "GET with {name}");
        let del = req(&s, "DELETE", "/none", Some(&auth)).status;
        assert_eq!(del, if writes { 404 } else { 401 }, "DELETE with {name}");
    }
}

/// The SipHash key is drawn with getrandom at startup: interrupted calls are
/// made again, a short one goes on for the rest, and a failure stops the
/// start with one line and exit 2. Faults injected with strace; the data
/// directory is a file, so a start that got its key stops right after.
#[test]
fn the_key_is_drawn_whole_or_the_start_fails() {
    if !need(
        "the_key_is_drawn_whole_or_the_start_fails",
        "strace",
        "strace",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tokens = token_file(tmp.path(), "t", b"secret\n");
    let not_a_dir = token_file(tmp.path(), "file", b"");
    let log = tmp.path().join("strace.log");
    for (inject, calls, want) in [
        (
            "error=EINTR:when=1..2",
            &["16, 0) = -1 EINTR", "16, 0) = -1 EINTR", "16, 0) = 16"][..],
            "cannot open data directory",
        ),
        (
            "retval=8:when=1",
            &["16, 0) = 8", "8, 0) = 8"],
            "cannot open data directory",
        ),
        (
            "error=ENOSYS",
            &["16, 0) = -1 ENOSYS"],
            "cannot draw a random key for the tokens (getrandom)",
        ),
    ] {
        let out = Command::new("strace")
            .arg("-o")
            .arg(&log)
            .args(["-e", "trace=getrandom", "-e"])
            .arg(format!("inject=getrandom:{inject}"))
            .args([BIN, "--token-file", &tokens, "--listen", "127.0.0.1:0"])
            .args(["--data", &not_a_dir])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{inject}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{inject}: {err}");
        assert!(err.contains(want), "{inject}: {err}");
        let traced = std::fs::read_to_string(&log).unwrap();
        let got: Vec<String> = traced
            .lines()
            .filter(|l| l.starts_with("getrandom("))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(got.len(), calls.len(), "{inject}: {traced}");
        for (line, call) in got.iter().zip(calls) {
            assert!(line.contains(call), "{inject}: {line} is not {call}");
        }
    }
}

/// A refused upload is refused before its body: a client waiting for 100
/// Continue gets the 401 instead, and the connection stays usable when no
/// body is left unread.
#[test]
fn a_refused_upload_sends_no_body() {
    let tmp = tempfile::tempdir().unwrap();
    let tokens = token_file(tmp.path(), "t", b"secret\n");
    let s = Server::start_with(&["--token-file", &tokens]);
    let mut c = Raw::connect(s.addr);
    c.send(
        b"PUT /big HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\
          Content-Length: 100000000\r\n\r\n",
    );
    let w = c.response();
    assert_eq!(w.status, 401, "not a 100 Continue");
    let mut c = Raw::connect(s.addr);
    c.send(b"DELETE /k HTTP/1.1\r\nHost: t\r\n\r\nGET /k HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 401);
    assert_eq!(c.response().status, 404, "the connection goes on");
}

#[test]
fn read_tokens_guard_reads_and_listings() {
    let tmp = tempfile::tempdir().unwrap();
    let writers = token_file(tmp.path(), "w", b"writer\n");
    let readers = token_file(tmp.path(), "r", b"reader\nreader-2\n");
    let s = Server::start_with(&["--token-file", &writers, "--read-token-file", &readers]);
    assert_eq!(req(&s, "PUT", "/k", Some(b"Bearer writer")).status, 201);
    assert_eq!(
        req(&s, "PUT", "/k", Some(b"Bearer reader")).status,
        401,
        "a read token does not write"
    );
    for path in ["/k", "/", "/none"] {
        for method in ["GET", "HEAD"] {
            assert_eq!(req(&s, method, path, None).status, 401, "{method} {path}");
            assert_eq!(
                req(&s, method, path, Some(b"Bearer nope")).status,
                401,
                "{method} {path}"
            );
            let want = if path == "/none" { 404 } else { 200 };
            for t in ["reader", "reader-2", "writer"] {
                let auth = bearer(t.as_bytes());
                assert_eq!(req(&s, method, path, Some(&auth)).status, want, "{t}");
            }
        }
    }
    // read tokens alone: reads guarded, writes open
    let only_reads = Server::start_with(&["--read-token-file", &readers]);
    assert_eq!(req(&only_reads, "PUT", "/k", None).status, 201);
    assert_eq!(req(&only_reads, "GET", "/k", None).status, 401);
    assert_eq!(
        req(&only_reads, "GET", "/k", Some(b"Bearer reader")).status,
        200
    );
}

#[test]
fn unusable_token_files_stop_the_server_at_startup() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = token_file(tmp.path(), "empty", b"\n\r\n\n");
    let big = token_file(tmp.path(), "big", &vec![b'x'; 70_000]);
    let many: Vec<u8> = (0..1100)
        .flat_map(|i| format!("t{i}\n").into_bytes())
        .collect();
    let many = token_file(tmp.path(), "many", &many);
    for (flag, path, want) in [
        (
            "--token-file",
            "/nonexistent/tokens",
            "cannot read token file: /nonexistent/tokens: ",
        ),
        (
            "--read-token-file",
            empty.as_str(),
            "token file has no token",
        ),
        (
            "--token-file",
            big.as_str(),
            "token file larger than 64 KiB",
        ),
        ("--token-file", many.as_str(), "more than 1024 tokens"),
        (
            "--token-file",
            tmp.path().to_str().unwrap(),
            "cannot read token file",
        ),
    ] {
        let out = Command::new(BIN)
            .args([flag, path, "--listen", "127.0.0.1:0", "--data"])
            .arg(tmp.path().join("data"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {path}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err}");
        assert!(out.stdout.is_empty());
    }
}
