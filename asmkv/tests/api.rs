//! The key-value API over a real HTTP client: every status, every kind of value, safe keys.
mod common;
use common::*;
use sha2::{Digest, Sha256};

#[test]
fn put_get_head_delete_statuses() {
    let s = Server::start();
    let a = agent();
    let url = s.url("/greeting");

    let r = get(&a, &url);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"not found\n");
    assert_eq!(r.header("content-length"), Some("10"));

    let r = put(&a, &url, b"hello");
    assert_eq!(r.status, 201, "a new key is Created");
    let r = put(&a, &url, b"hello again");
    assert_eq!(r.status, 204, "a replaced value is No Content");

    let r = get(&a, &url);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello again");
    assert_eq!(r.header("content-length"), Some("11"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("server"), Some("asmkv"));

    let r = head(&a, &url);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("11"));
    assert!(r.body.is_empty());

    let r = delete(&a, &url);
    assert_eq!(r.status, 204);
    assert_eq!(get(&a, &url).status, 404);
    assert_eq!(head(&a, &url).status, 404);
    assert_eq!(delete(&a, &url).status, 404);
}

#[test]
fn post_stores_like_put() {
    let s = Server::start();
    let a = agent();
    assert_eq!(post(&a, &s.url("/p"), b"via post").status, 201);
    assert_eq!(post(&a, &s.url("/p"), b"again").status, 204);
    assert_eq!(get(&a, &s.url("/p")).body, b"again");
}

#[test]
fn shorter_value_replaces_longer_completely() {
    let s = Server::start();
    let a = agent();
    put(&a, &s.url("/k"), b"a much longer first value");
    put(&a, &s.url("/k"), b"short");
    assert_eq!(get(&a, &s.url("/k")).body, b"short");
}

#[test]
fn values_of_any_bytes_and_sizes() {
    let s = Server::start();
    let a = agent();
    let all: Vec<u8> = (0..=255u8).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("/empty", Vec::new()),
        ("/lines", b"one\ntwo\r\nthree\n\nfour".to_vec()),
        ("/bytes", all.repeat(4)),
        ("/crlfcrlf", b"\r\n\r\nGET / HTTP/1.1\r\n\r\n".to_vec()),
    ];
    for (k, v) in &cases {
        assert_eq!(put(&a, &s.url(k), v).status, 201, "{k}");
    }
    for (k, v) in &cases {
        let r = get(&a, &s.url(k));
        assert_eq!(r.status, 200, "{k}");
        assert_eq!(&r.body, v, "{k}");
        assert_eq!(
            r.header("content-length"),
            Some(v.len().to_string().as_str())
        );
    }
}

#[test]
fn ten_mebibyte_value_round_trips() {
    let s = Server::start();
    let a = agent();
    let v = pattern(10 << 20, 7);
    let sum = Sha256::digest(&v);
    assert_eq!(put(&a, &s.url("/big"), &v).status, 201);
    let r = get(&a, &s.url("/big"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), v.len());
    assert_eq!(Sha256::digest(&r.body), sum);
    // and the file on disk is exactly the value
    let on_disk = stored_value(&s.data, "big").unwrap();
    assert_eq!(Sha256::digest(&on_disk), sum);
}

#[test]
fn keys_cannot_escape_the_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Server::start_in(&data, &[]);
    let a = agent();
    let hostile = [
        "/../outside",
        "/..%2Foutside",
        "/%2E%2E/outside",
        "/%2e%2e%2foutside",
        "/a/../../outside",
        "/%2Ftmp%2Foutside",
        "/.hidden",
        "/..",
        "/.",
        "/.tmp-1-1",
    ];
    for (i, k) in hostile.iter().enumerate() {
        let body = format!("value {i}");
        let r = put(&a, &s.url(k), body.as_bytes());
        assert!(r.status == 201 || r.status == 204, "{k}: {}", r.status);
    }
    // nothing was written beside the data directory
    assert_eq!(files_in(tmp.path()), vec!["data".to_string()]);
    // every entry is a plain file inside it, none a temporary one
    for f in files_in(&data) {
        assert!(!f.starts_with(".tmp"), "{f}");
        assert!(std::fs::metadata(data.join(&f)).unwrap().is_file());
    }
    // and each one reads back (the raw path is sent as is by ureq for these)
    assert_eq!(get(&a, &s.url("/.hidden")).body, b"value 6");
    assert_eq!(get(&a, &s.url("/%2Ftmp%2Foutside")).body, b"value 5");
    assert!(!std::path::Path::new("/tmp/outside").exists());
}

#[test]
fn keys_are_percent_decoded_and_stored_reversibly() {
    let s = Server::start();
    let a = agent();
    put(&a, &s.url("/a%20b"), b"space");
    assert_eq!(get(&a, &s.url("/a%20b")).body, b"space");
    // the same key, spelled differently
    assert_eq!(get(&a, &s.url("/%61%20%62")).body, b"space");
    put(&a, &s.url("/dir/file"), b"slash");
    assert_eq!(get(&a, &s.url("/dir%2Ffile")).body, b"slash");
    // the query string is not part of the key
    assert_eq!(get(&a, &s.url("/dir/file?x=1")).body, b"slash");
    let names = stored_names(&s.data);
    assert!(names.contains(&"a%20b".to_string()), "{names:?}");
    assert!(names.contains(&"dir%2Ffile".to_string()), "{names:?}");
}

#[test]
fn long_keys_work_up_to_the_file_name_limit() {
    let s = Server::start();
    let a = agent();
    let k200 = "k".repeat(200);
    assert_eq!(put(&a, &s.url(&format!("/{k200}")), b"long").status, 201);
    assert_eq!(get(&a, &s.url(&format!("/{k200}"))).body, b"long");
    let k255 = "x".repeat(255);
    assert_eq!(put(&a, &s.url(&format!("/{k255}")), b"max").status, 201);
    let k256 = "x".repeat(256);
    assert_eq!(put(&a, &s.url(&format!("/{k256}")), b"no").status, 414);
    // escaped bytes take three characters each in the file name
    let k90 = "%01".repeat(90);
    assert_eq!(put(&a, &s.url(&format!("/{k90}")), b"no").status, 414);
}

#[test]
fn bad_keys_and_methods_get_precise_errors() {
    let s = Server::start();
    let a = agent();
    assert_eq!(put(&a, &s.url("/"), b"x").status, 400, "empty key");
    assert_eq!(get(&a, &s.url("/")).status, 200, "the listing of every key");
    assert_eq!(put(&a, &s.url("/a%00b"), b"x").status, 400, "NUL");
    assert_eq!(put(&a, &s.url("/a%zz"), b"x").status, 400, "bad escape");
    assert_eq!(put(&a, &s.url("/a%4"), b"x").status, 400, "short escape");

    let w = raw_once(s.addr, b"OPTIONS /k HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(w.status, 405);
    assert_eq!(
        w.header("allow").as_deref(),
        Some("GET, HEAD, PUT, POST, DELETE")
    );
    let w = raw_once(
        s.addr,
        b"PATCH /k HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(w.status, 405);
    let w = raw_once(s.addr, b"BREW /k HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(w.status, 501);
    let w = raw_once(s.addr, b"get /k HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(w.status, 501, "methods are case-sensitive");
    let w = raw_once(s.addr, b"GET k HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(w.status, 400, "not origin-form");
    let w = raw_once(s.addr, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(w.status, 400, "asterisk-form");
}

/// `If-None-Match: *` makes a write create-only, atomically: of many clients
/// racing to create one key, exactly one gets 201 and its value stays.
#[test]
fn if_none_match_star_creates_only_once() {
    let s = Server::start();
    let racers: Vec<_> = (0..16u8)
        .map(|i| {
            let url = s.url("/lock");
            std::thread::spawn(move || {
                let r = agent()
                    .put(&url)
                    .header("If-None-Match", "*")
                    .send(&[i; 100][..])
                    .unwrap();
                (i, r.status().as_u16())
            })
        })
        .collect();
    let results: Vec<(u8, u16)> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let winners: Vec<u8> = results
        .iter()
        .filter(|(_, st)| *st == 201)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|(_, st)| *st == 201 || *st == 412),
        "{results:?}"
    );
    let a = agent();
    assert_eq!(get(&a, &s.url("/lock")).body, vec![winners[0]; 100]);
    // the losers' uploads left nothing behind
    assert_eq!(stored_names(&s.data), vec!["lock".to_string()]);
    // an entity tag never matches (there are none): the write goes ahead
    let r = a
        .put(&s.url("/lock"))
        .header("If-None-Match", "\"v1\"")
        .send(&b"replaced"[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // GET and HEAD: 304 when the key exists, as usual when it does not
    let r = a
        .get(&s.url("/lock"))
        .header("If-None-Match", "*")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    let r = a
        .get(&s.url("/none"))
        .header("If-None-Match", "*")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // DELETE: refused while the key exists
    let r = a
        .delete(&s.url("/lock"))
        .header("If-None-Match", "*")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 412);
    assert_eq!(get(&a, &s.url("/lock")).body, b"replaced");
}

/// A create-only upload to a key that exists is refused before its body is
/// sent: a client waiting for 100 Continue gets the 412 instead.
#[test]
fn create_only_upload_is_refused_before_the_body() {
    let s = Server::start();
    assert_eq!(put(&agent(), &s.url("/taken"), b"first").status, 201);
    let mut c = Raw::connect(s.addr);
    c.send(
        b"PUT /taken HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\
          Expect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
    );
    let w = c.response();
    assert_eq!(w.status, 412, "not a 100 Continue first");
    assert_eq!(w.header("connection").as_deref(), Some("close"));
    // no body announced: the connection stays usable
    let mut c = Raw::connect(s.addr);
    c.send(b"PUT /taken HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(c.response().status, 412);
    c.send(b"GET /taken HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"first");
}
