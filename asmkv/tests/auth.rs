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
