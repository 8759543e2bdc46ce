//! Key listings: a GET (or HEAD) whose path ends in "/" lists the keys under
//! it as nginx's `autoindex_format json` does: names one level deep, grouped
//! at the next "/", sorted, with paging; names round-trip any byte of a key.
mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// The raw path of a key: every byte percent-encoded.
fn path_of(key: &[u8]) -> String {
    key.iter().map(|b| format!("%{b:02X}")).collect()
}

fn list(s: &Server, path: &str) -> Vec<Entry> {
    let r = get(&agent(), &s.url(path));
    assert_eq!(r.status, 200, "GET {path}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let entries = parse_listing(&r.body);
    let names: Vec<_> = entries.iter().map(|e| (e.name.clone(), e.dir)).collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    assert_eq!(names, sorted, "sorted by name");
    entries
}

fn names(entries: &[Entry]) -> Vec<(String, bool)> {
    entries
        .iter()
        .map(|e| (String::from_utf8_lossy(&e.name).to_string(), e.dir))
        .collect()
}

#[test]
fn listings_group_keys_like_directories() {
    let s = Server::start();
    let a = agent();
    for k in ["a", "b", "c/d", "c/e", "c/f/g", "c/f/h", "cat", "z/y/x/w"] {
        assert_eq!(put(&a, &s.url(&format!("/{k}")), k.as_bytes()).status, 201);
    }
    let f = |n: &str| (n.to_string(), false);
    let d = |n: &str| (n.to_string(), true);
    assert_eq!(
        names(&list(&s, "/")),
        vec![f("a"), f("b"), d("c"), f("cat"), d("z")]
    );
    assert_eq!(names(&list(&s, "/c/")), vec![f("d"), f("e"), d("f")]);
    assert_eq!(names(&list(&s, "/c/f/")), vec![f("g"), f("h")]);
    assert_eq!(names(&list(&s, "/z/y/")), vec![d("x")]);
    assert_eq!(names(&list(&s, "/nothing/")), vec![]);
    assert_eq!(
        names(&list(&s, "/c%2Ff/")),
        vec![f("g"), f("h")],
        "escaped /"
    );
    // sizes and times are the values'
    let root = list(&s, "/");
    let cat = root.iter().find(|e| e.name == b"cat").unwrap();
    assert_eq!(cat.size, Some(3));
    let written = httpdate::parse_http_date(&cat.mtime).expect("IMF-fixdate");
    assert!(
        std::time::SystemTime::now()
            .duration_since(written)
            .unwrap_or_default()
            < Duration::from_secs(60)
    );
    let lm = head(&a, &s.url("/cat"))
        .header("last-modified")
        .unwrap()
        .to_string();
    assert_eq!(cat.mtime, lm);
    // deleted keys go; a directory goes with its last key
    assert_eq!(delete(&a, &s.url("/c/f/g")).status, 204);
    assert_eq!(delete(&a, &s.url("/c/f/h")).status, 204);
    assert_eq!(names(&list(&s, "/c/")), vec![f("d"), f("e")]);
    // overwritten keys are listed once, with their new size
    put(&a, &s.url("/a"), b"longer value");
    let root = list(&s, "/");
    assert_eq!(root.iter().filter(|e| e.name == b"a").count(), 1);
    assert_eq!(root[0].size, Some(12));
    // HEAD: the same head, no body; the connection goes on (a GET's chunked
    // body follows its head)
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"HEAD /c/ HTTP/1.1\r\nHost: t\r\n\r\nGET /c/ HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    while !all.ends_with(b"\r\n0\r\n\r\n") {
        let mut buf = [0u8; 4096];
        let n = read_some(&mut c, &mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&all));
        all.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&all).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(
        rest.starts_with("HTTP/1.1 200 OK\r\n"),
        "HEAD has no body: {rest}"
    );
    let (head2, chunks) = rest.split_once("\r\n\r\n").unwrap();
    assert!(head2.contains("Transfer-Encoding: chunked"), "{head2}");
    // de-chunk
    let mut body = Vec::new();
    let mut p = chunks.as_bytes();
    loop {
        let line_end = p.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&p[..line_end]).unwrap(), 16).unwrap();
        p = &p[line_end + 2..];
        if size == 0 {
            assert_eq!(p, b"\r\n");
            break;
        }
        body.extend_from_slice(&p[..size]);
        assert_eq!(&p[size..size + 2], b"\r\n");
        p = &p[size + 2..];
    }
    assert_eq!(names(&parse_listing(&body)), vec![f("d"), f("e")]);
}

#[test]
fn names_round_trip_every_byte_a_key_may_hold() {
    let s = Server::start();
    let a = agent();
    let mut keys: Vec<Vec<u8>> = vec![
        b"plain".to_vec(),
        b"100%".to_vec(),
        b"%41%2F".to_vec(),
        b"quote\"in".to_vec(),
        b"back\\slash".to_vec(),
        b"tab\tnl\ncr\r".to_vec(),
        vec![1, 2, 3, 0x1f, 0x7f],
        "caf\u{e9} \u{1F600}".as_bytes().to_vec(),
        vec![b'x', 0xff, 0xfe, b'y'],
        vec![0xc3],                   // a lead byte alone
        vec![0xe0, 0x80, 0x80],       // overlong
        vec![0xed, 0xa0, 0x80],       // a surrogate in UTF-8
        vec![0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
        vec![0x80, b'.', b'.'],
        b"..".to_vec(),
        b"-_~.".to_vec(),
    ];
    keys.sort();
    for k in &keys {
        let url = s.url(&format!("/d/{}", path_of(k)));
        assert_eq!(put(&a, &url, k).status, 201, "{k:?}");
    }
    let listed = list(&s, "/d/");
    let got: Vec<Vec<u8>> = listed.iter().map(|e| e.name.clone()).collect();
    assert_eq!(got, keys, "every name, exactly, in byte order");
    for e in &listed {
        // each name leads back to its key
        let r = get(&a, &s.url(&format!("/d/{}", path_of(&e.name))));
        assert_eq!(r.body, e.name);
        assert_eq!(e.size, Some(e.name.len() as u64));
    }
    // a "/" inside a key makes a directory, whatever else the name holds
    put(&a, &s.url("/e/%FF%22/x"), b"1");
    let e = list(&s, "/e/");
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].name.as_slice(), e[0].dir), (&[0xff, b'"'][..], true));
    let inner = list(&s, "/e/%FF%22/");
    assert_eq!(inner[0].name, b"x");
}

#[test]
fn paging_with_limit_and_after_walks_every_entry_once() {
    let s = Server::start_with(&["--sync", "none"]);
    let a = agent();
    let mut expect = BTreeSet::new();
    for i in 0..300u32 {
        let k = format!("k{:03}", (i * 7919) % 300);
        put(&a, &s.url(&format!("/p/{k}")), b"v");
        expect.insert(k);
    }
    for i in 0..20u32 {
        put(&a, &s.url(&format!("/p/dir{}/x{i}", i % 4)), b"v");
    }
    for d in 0..4 {
        expect.insert(format!("dir{d}"));
    }
    let all: Vec<String> = names(&list(&s, "/p/")).into_iter().map(|n| n.0).collect();
    assert_eq!(all, expect.iter().cloned().collect::<Vec<_>>());
    for limit in [1usize, 7, 100, 1000] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = match &after {
                Some(n) => format!("/p/?limit={limit}&after={}", path_of(n.as_bytes())),
                None => format!("/p/?limit={limit}"),
            };
            let page = list(&s, &q);
            assert!(page.len() <= limit);
            if page.is_empty() {
                break;
            }
            after = Some(String::from_utf8(page.last().unwrap().name.clone()).unwrap());
            seen.extend(names(&page).into_iter().map(|n| n.0));
        }
        assert_eq!(seen, all, "limit {limit}");
    }
    // after a name that is not there: the names after it
    let page = names(&list(&s, "/p/?after=k2&limit=2"));
    assert_eq!(page, vec![("k200".into(), false), ("k201".into(), false)]);
    assert!(list(&s, "/p/?limit=0").is_empty());
    // other parameters are ignored; malformed ones are not
    assert_eq!(list(&s, "/p/?x=1&limit=3&y").len(), 3);
    for bad in ["/p/?limit=x", "/p/?limit=-1", "/p/?after=%G1", "/p/?limit="] {
        assert_eq!(get(&a, &s.url(bad)).status, 400, "{bad}");
    }
    let long = format!("/p/?after={}", "a".repeat(256));
    assert_eq!(get(&a, &s.url(&long)).status, 400);
}

#[test]
fn keys_cannot_end_in_a_slash() {
    let s = Server::start();
    let a = agent();
    for path in ["/", "/dir/", "/a/b/", "/x%2F/"] {
        let r = put(&a, &s.url(path), b"v");
        assert_eq!(r.status, 400, "PUT {path}");
        assert_eq!(
            r.body,
            b"a key cannot end in /: a path ending in / lists keys\n"
        );
        assert_eq!(post(&a, &s.url(path), b"v").status, 400);
        assert_eq!(delete(&a, &s.url(path)).status, 400);
    }
    // a key may hold an escaped "/" at its end: it is not a path ending in "/"
    assert_eq!(put(&a, &s.url("/k%2F"), b"v").status, 201);
    assert_eq!(get(&a, &s.url("/k%2F")).body, b"v");
    assert_eq!(names(&list(&s, "/")), vec![("k".to_string(), true)]);
    assert!(list(&s, "/k/").is_empty(), "an empty name is left out");
}

#[test]
fn http_1_0_listings_end_with_the_connection() {
    let s = Server::start();
    put(&agent(), &s.url("/one"), b"1");
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(!head.contains("Transfer-Encoding"), "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    assert_eq!(
        names(&parse_listing(body.as_bytes())),
        vec![("one".into(), false)]
    );
}

/// Listings taken while writers add and remove keys are well-formed and hold
/// every key that existed before the listing began and still exists after it.
#[test]
fn listings_during_writes_are_whole() {
    let s = Server::start_with(&["--sync", "none"]);
    let a = agent();
    for i in 0..2000u32 {
        put(&a, &s.url(&format!("/w/stable{i:04}")), b"s");
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (stop, base) = (stop.clone(), s.url("/w/"));
            std::thread::spawn(move || {
                let a = agent();
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let url = format!("{base}churn{t}-{i}");
                    put(&a, &url, b"c");
                    if i.is_multiple_of(2) {
                        delete(&a, &url);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for _ in 0..15 {
        let entries = list(&s, "/w/");
        let stable = entries
            .iter()
            .filter(|e| e.name.starts_with(b"stable"))
            .count();
        assert_eq!(stable, 2000);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}

/// A listing of many keys does not stall the other connections of its worker
/// while it walks them and sends their entries: it yields between bounded
/// steps.
#[test]
fn a_large_listing_does_not_stall_its_worker() {
    let s = Server::start_with(&["--workers", "1", "--sync", "none"]);
    let n = 200_000;
    let mut raw = Raw::connect(s.addr);
    let mut w = raw.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut batch = Vec::new();
        for i in 0..n {
            batch.extend_from_slice(
                format!(
                    "PUT /big/key-{i:06}-with-a-longer-name HTTP/1.1\r\nHost: t\r\n\
                     Content-Length: 1\r\n\r\nv"
                )
                .as_bytes(),
            );
            if batch.len() > 1 << 16 || i == n - 1 {
                w.write_all(&batch).unwrap();
                batch.clear();
            }
        }
    });
    for _ in 0..n {
        assert_eq!(raw.response().status, 201);
    }
    writer.join().unwrap();
    let a = agent();
    let url = s.url("/big/key-000001-with-a-longer-name");
    assert_eq!(get(&a, &url).body, b"v");
    let mut lister = TcpStream::connect(s.addr).unwrap();
    let started = Instant::now();
    lister
        .write_all(b"GET /big/ HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut worst = Duration::ZERO;
    let mut gets = 0;
    let mut got = Vec::new();
    lister.set_nonblocking(true).unwrap();
    // GETs on the same worker while the listing is made and sent, until its
    // last chunk arrives
    loop {
        let t = Instant::now();
        assert_eq!(get(&a, &url).body, b"v");
        worst = worst.max(t.elapsed());
        gets += 1;
        let mut buf = [0u8; 65536];
        if let Ok(n) = read_some(&mut lister, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        if got.ends_with(b"]\r\n0\r\n\r\n") {
            break;
        }
    }
    let production = started.elapsed();
    eprintln!(
        "{gets} GETs while the listing was made in {production:?}; the slowest took {worst:?}"
    );
    // (one step at a time: hundreds of GETs get in; the worker's budget of
    // steps alone lets a handful through)
    assert!(
        gets >= 50,
        "the listing held the worker: {gets} GETs in {production:?}"
    );
    assert!(
        worst * 5 < production,
        "a GET waited {worst:?} of the listing's {production:?}"
    );
    let entries = list(&s, "/big/");
    assert_eq!(entries.len(), n);
}
