//! Validators and conditional requests (RFC 9110 section 13): ETag and
//! Last-Modified on every answer about a value, 304 for conditional reads,
//! 412 for preconditions that fail, If-Range, and compare-and-swap writes
//! that are atomic under races.
mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use common::*;

/// A conditional GET (or any request) with extra header fields.
fn req(s: &Server, method: &str, path: &str, fields: &[(&str, &str)], body: &[u8]) -> Wire {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: t\r\n");
    for (n, v) in fields {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "PUT" || method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    let mut c = Raw::connect(s.addr);
    c.send(&bytes);
    c.response_to(method == "HEAD").expect("an answer")
}

fn etag(w: &Wire) -> String {
    w.header("etag").expect("an ETag")
}

/// The three HTTP-date forms of one instant, from its IMF-fixdate.
fn date_forms(imf: &str) -> [String; 3] {
    // "Thu, 26 Nov 2026 08:12:11 GMT"
    let t = httpdate::parse_http_date(imf).expect("IMF-fixdate");
    assert_eq!(httpdate::fmt_http_date(t), imf);
    let p: Vec<&str> = imf.split(' ').collect();
    let long = match p[0] {
        "Mon," => "Monday",
        "Tue," => "Tuesday",
        "Wed," => "Wednesday",
        "Thu," => "Thursday",
        "Fri," => "Friday",
        "Sat," => "Saturday",
        _ => "Sunday",
    };
    let rfc850 = format!("{long}, {}-{}-{} {} GMT", p[1], p[2], &p[3][2..], p[4]);
    let day: u32 = p[1].parse().unwrap();
    let asctime = format!("{} {} {:>2} {} {}", &p[0][..3], p[2], day, p[4], p[3]);
    [imf.to_string(), rfc850, asctime]
}

fn shift(imf: &str, secs: i64) -> String {
    let t = httpdate::parse_http_date(imf).unwrap();
    let t = if secs >= 0 {
        t + Duration::from_secs(secs as u64)
    } else {
        t - Duration::from_secs((-secs) as u64)
    };
    httpdate::fmt_http_date(t)
}

#[test]
fn every_answer_about_a_value_carries_its_validators() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Server::start_in(&data, &[]);
    let w = req(&s, "PUT", "/v", &[], b"one");
    assert_eq!(w.status, 201);
    let t1 = etag(&w);
    assert!(
        t1.starts_with('"') && t1.ends_with('"') && t1.len() > 2,
        "a strong tag: {t1}"
    );
    let lm = w.header("last-modified").expect("Last-Modified on 201");
    let written = httpdate::parse_http_date(&lm).expect("an IMF-fixdate");
    let now = SystemTime::now();
    assert!(written <= now + Duration::from_secs(1));
    assert!(now.duration_since(written).unwrap() < Duration::from_secs(30));

    let g = req(&s, "GET", "/v", &[], b"");
    assert_eq!((g.status, g.body.as_slice()), (200, &b"one"[..]));
    assert_eq!(etag(&g), t1);
    assert_eq!(g.header("last-modified").as_deref(), Some(lm.as_str()));
    let h = req(&s, "HEAD", "/v", &[], b"");
    assert_eq!(etag(&h), t1);
    assert_eq!(h.header("last-modified").as_deref(), Some(lm.as_str()));
    let r = req(&s, "GET", "/v", &[("Range", "bytes=1-1")], b"");
    assert_eq!((r.status, etag(&r)), (206, t1.clone()));

    // every write gets a new tag; the same bytes again too
    let w2 = req(&s, "PUT", "/v", &[], b"one");
    assert_eq!(w2.status, 204);
    let t2 = etag(&w2);
    assert_ne!(t2, t1);
    assert!(w2.header("last-modified").is_some());
    assert_eq!(etag(&req(&s, "GET", "/v", &[], b"")), t2);
    let p = req(&s, "POST", "/v", &[], b"two");
    assert_ne!(etag(&p), t2);
    // a delete has no representation to describe; nor has a 404
    let d = req(&s, "DELETE", "/v", &[], b"");
    assert_eq!(d.status, 204);
    assert_eq!(d.header("etag"), None);
    let n = req(&s, "GET", "/v", &[], b"");
    assert_eq!((n.status, n.header("etag")), (404, None));
    let again = req(&s, "PUT", "/v", &[], b"one");
    let t3 = etag(&again);
    assert!(![t1.clone(), t2.clone()].contains(&t3));

    // tags survive a restart, and are never handed out again after it
    assert!(s.stop().success());
    let s = Server::start_in(&data, &[]);
    assert_eq!(etag(&req(&s, "GET", "/v", &[], b"")), t3);
    let after = etag(&req(&s, "PUT", "/v", &[], b"one"));
    let num = |t: &str| t.trim_matches('"').parse::<u64>().unwrap();
    assert!(num(&after) > num(&t3), "{after} after {t3}");
}

#[test]
fn if_none_match_and_if_modified_since_answer_304() {
    let s = Server::start();
    let w = req(&s, "PUT", "/c", &[], b"cached value");
    let tag = etag(&w);
    let lm = w.header("last-modified").unwrap();
    let weak = format!("W/{tag}");
    for inm in [
        tag.clone(),
        weak.clone(),
        format!("\"other\", {tag}"),
        format!("W/\"x\" ,, {weak} , \"y\""),
        "*".to_string(),
    ] {
        for method in ["GET", "HEAD"] {
            let r = req(&s, method, "/c", &[("If-None-Match", &inm)], b"");
            assert_eq!(r.status, 304, "{method} If-None-Match: {inm}");
            assert!(r.body.is_empty());
            assert_eq!(etag(&r), tag, "the 304 names the tag");
            assert!(r.header("date").is_some());
            assert_eq!(r.header("content-length"), None, "{}", r.head);
        }
    }
    // no match: the value
    for inm in ["\"nope\"", "\"1\"", "W/\"0\"", "\"007\""] {
        let r = req(&s, "GET", "/c", &[("If-None-Match", inm)], b"");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"cached value"[..]),
            "{inm}"
        );
    }
    // If-Modified-Since, in each of the three date forms
    for date in date_forms(&lm) {
        let r = req(&s, "GET", "/c", &[("If-Modified-Since", &date)], b"");
        assert_eq!(r.status, 304, "If-Modified-Since: {date}");
    }
    for date in date_forms(&shift(&lm, 3600)) {
        assert_eq!(
            req(&s, "GET", "/c", &[("If-Modified-Since", &date)], b"").status,
            304,
            "{date}"
        );
    }
    for date in date_forms(&shift(&lm, -1)) {
        assert_eq!(
            req(&s, "GET", "/c", &[("If-Modified-Since", &date)], b"").status,
            200,
            "{date}"
        );
    }
    // invalid dates, or a list of them, are ignored (RFC 9110 13.1.3)
    let lower = lm.to_lowercase();
    for bad in [
        "yesterday",
        lower.as_str(),
        "Thu, 31 Nov 2026 25:00:00 GMT",
        "Thu, 26 Nov 2026 08:12:11 UTC",
        "",
    ] {
        let r = req(&s, "GET", "/c", &[("If-Modified-Since", bad)], b"");
        assert_eq!(r.status, 200, "{bad:?}");
    }
    let two = [
        ("If-Modified-Since", lm.as_str()),
        ("If-Modified-Since", lm.as_str()),
    ];
    assert_eq!(req(&s, "GET", "/c", &two, b"").status, 200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
    let r = req(
        &s,
        "GET",
        "/c",
        &[("If-None-Match", "\"other\""), ("If-Modified-Since", &lm)],
        b"",
    );
    assert_eq!(r.status, 200);
    // a list split over two field lines is one list
    let r = req(
        &s,
        "GET",
        "/c",
        &[("If-None-Match", "\"a\""), ("If-None-Match", &tag)],
        b"",
    );
    assert_eq!(r.status, 304);
    // a new write: the old tag no longer matches
    let w2 = req(&s, "PUT", "/c", &[], b"new");
    let r = req(&s, "GET", "/c", &[("If-None-Match", &tag)], b"");
    assert_eq!((r.status, etag(&r)), (200, etag(&w2)));
    // absent keys: 404, whatever If-None-Match says
    let r = req(&s, "GET", "/none", &[("If-None-Match", "*")], b"");
    assert_eq!(r.status, 404);
    // a 304 on a kept-alive connection leaves it usable
    let mut c = Raw::connect(s.addr);
    c.send(
        format!(
            "GET /c HTTP/1.1\r\nHost: t\r\nIf-None-Match: {}\r\n\r\nGET /c HTTP/1.1\r\nHost: t\r\n\r\n",
            etag(&w2)
        )
        .as_bytes(),
    );
    assert_eq!(c.response().status, 304);
    assert_eq!(c.response().body, b"new");
}

#[test]
fn malformed_entity_tags_are_rejected() {
    let s = Server::start();
    req(&s, "PUT", "/m", &[], b"x");
    for bad in [
        "abc",
        "\"unterminated",
        "\"a\" \"b\"",
        "W/abc",
        "w/\"a\"",
        "\"a\"b",
        "*, \"a\"",
    ] {
        for (field, method) in [
            ("If-None-Match", "GET"),
            ("If-Match", "GET"),
            ("If-Match", "PUT"),
            ("If-None-Match", "DELETE"),
        ] {
            let r = req(&s, method, "/m", &[(field, bad)], b"y");
            assert_eq!(r.status, 400, "{method} {field}: {bad}");
        }
    }
    assert_eq!(req(&s, "GET", "/m", &[], b"").body, b"x");
}

#[test]
fn if_range_honours_the_range_only_for_the_current_strong_tag() {
    let s = Server::start();
    let w = req(&s, "PUT", "/r", &[], b"0123456789");
    let tag = etag(&w);
    let lm = w.header("last-modified").unwrap();
    let ranged = |if_range: &str| {
        let r = req(
            &s,
            "GET",
            "/r",
            &[("Range", "bytes=2-4"), ("If-Range", if_range)],
            b"",
        );
        (r.status, r.body)
    };
    assert_eq!(ranged(&tag), (206, b"234".to_vec()));
    let whole = (200, b"0123456789".to_vec());
    assert_eq!(ranged("\"other\""), whole);
    assert_eq!(ranged(&format!("W/{tag}")), whole, "weak tags never match");
    assert_eq!(ranged(&lm), whole, "a date in seconds is a weak validator");
    req(&s, "PUT", "/r", &[], b"abcdefghij");
    assert_eq!(ranged(&tag), (200, b"abcdefghij".to_vec()), "changed since");
}

#[test]
fn if_match_and_if_unmodified_since_guard_writes() {
    let s = Server::start();
    // absent key: If-Match never holds, not even "*"
    for im in ["*", "\"1\""] {
        let r = req(&s, "PUT", "/g", &[("If-Match", im)], b"x");
        assert_eq!(r.status, 412, "If-Match: {im}");
        assert_eq!(r.header("etag"), None);
        let r = req(&s, "DELETE", "/g", &[("If-Match", im)], b"");
        assert_eq!(r.status, 412);
    }
    assert_eq!(req(&s, "GET", "/g", &[], b"").status, 404);
    // If-Unmodified-Since is ignored without a value to date
    let w = req(
        &s,
        "PUT",
        "/g",
        &[("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
        b"v1",
    );
    assert_eq!(w.status, 201);
    let t1 = etag(&w);
    let lm = w.header("last-modified").unwrap();

    // a wrong tag: 412 with the current one, nothing written
    for im in ["\"1\"", "\"x\", \"y\"", &format!("W/{t1}")] {
        let r = req(&s, "PUT", "/g", &[("If-Match", im)], b"bad");
        assert_eq!((r.status, etag(&r)), (412, t1.clone()), "If-Match: {im}");
        let r = req(&s, "GET", "/g", &[("If-Match", im)], b"");
        assert_eq!(r.status, 412, "GET If-Match: {im}");
        let r = req(&s, "DELETE", "/g", &[("If-Match", im)], b"");
        assert_eq!(r.status, 412);
    }
    assert_eq!(req(&s, "GET", "/g", &[], b"").body, b"v1");
    // the right one, alone or in a list: written, with the new tag
    let r = req(
        &s,
        "PUT",
        "/g",
        &[("If-Match", &format!("\"9\", {t1}"))],
        b"v2",
    );
    assert_eq!(r.status, 204);
    let t2 = etag(&r);
    assert_ne!(t2, t1);
    let r = req(&s, "GET", "/g", &[("If-Match", &t2)], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"v2"[..]));
    let r = req(&s, "POST", "/g", &[("If-Match", "*")], b"v3");
    assert_eq!(r.status, 204);
    let t3 = etag(&r);
    // the old tag no longer matches
    assert_eq!(
        req(&s, "PUT", "/g", &[("If-Match", &t2)], b"no").status,
        412
    );
    // If-Unmodified-Since: a date before the write fails, one at or after it holds
    let before = shift(&lm, -10);
    let r = req(&s, "PUT", "/g", &[("If-Unmodified-Since", &before)], b"no");
    assert_eq!((r.status, etag(&r)), (412, t3.clone()));
    let r = req(&s, "DELETE", "/g", &[("If-Unmodified-Since", &before)], b"");
    assert_eq!(r.status, 412);
    for date in date_forms(&shift(&lm, 3600)) {
        let r = req(&s, "PUT", "/g", &[("If-Unmodified-Since", &date)], b"v4");
        assert_eq!(r.status, 204, "If-Unmodified-Since: {date}");
    }
    // ... an invalid one is ignored; If-Match makes it ignored too
    let r = req(&s, "PUT", "/g", &[("If-Unmodified-Since", "soon")], b"v5");
    assert_eq!(r.status, 204);
    let t5 = etag(&r);
    let r = req(
        &s,
        "PUT",
        "/g",
        &[("If-Match", &t5), ("If-Unmodified-Since", &before)],
        b"v6",
    );
    assert_eq!(r.status, 204);
    let t6 = etag(&r);
    // If-None-Match on a write: refused while the tag matches
    let r = req(&s, "PUT", "/g", &[("If-None-Match", &t6)], b"no");
    assert_eq!((r.status, etag(&r)), (412, t6.clone()));
    let r = req(&s, "PUT", "/g", &[("If-None-Match", &t5)], b"v7");
    assert_eq!(r.status, 204);
    // a conditional delete
    let t7 = etag(&r);
    let r = req(&s, "DELETE", "/g", &[("If-Match", &t7)], b"");
    assert_eq!((r.status, r.header("etag")), (204, None));
    assert_eq!(req(&s, "GET", "/g", &[], b"").status, 404);
    // and a create-only write after it
    let r = req(&s, "PUT", "/g", &[("If-None-Match", "*")], b"v8");
    assert_eq!(r.status, 201);
}

/// A conditional upload that cannot succeed is refused before its body: a
/// client waiting for 100 Continue gets the 412 instead.
#[test]
fn failing_preconditions_are_answered_before_the_body() {
    let s = Server::start();
    let t = etag(&req(&s, "PUT", "/big", &[], b"first"));
    for field in [
        "If-Match: \"1\"".to_string(),
        format!("If-None-Match: {t}"),
        "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT".to_string(),
    ] {
        let mut c = Raw::connect(s.addr);
        c.send(
            format!(
                "PUT /big HTTP/1.1\r\nHost: t\r\n{field}\r\n\
                 Expect: 100-continue\r\nContent-Length: 1000000\r\n\r\n"
            )
            .as_bytes(),
        );
        let w = c.response();
        assert_eq!(w.status, 412, "{field}: not a 100 Continue first");
        assert_eq!(etag(&w), t);
    }
    assert_eq!(req(&s, "GET", "/big", &[], b"").body, b"first");
}

/// Of 16 clients racing to replace the same tag, exactly one wins; the others
/// get 412 with the winner's tag. Repeated, so the race really happens.
#[test]
fn compare_and_swap_race_has_exactly_one_winner() {
    let s = Server::start();
    let a = agent();
    let mut tag = put(&a, &s.url("/cas"), b"start")
        .header("etag")
        .unwrap()
        .to_string();
    for round in 0..30u32 {
        let barrier = Arc::new(Barrier::new(16));
        let racers: Vec<_> = (0..16u32)
            .map(|i| {
                let url = s.url("/cas");
                let tag = tag.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let a = agent();
                    let body = format!("round {round} client {i}");
                    barrier.wait();
                    let r = a
                        .put(&url)
                        .header("If-Match", &tag)
                        .send(body.as_bytes())
                        .unwrap();
                    let status = r.status().as_u16();
                    let t = r
                        .headers()
                        .get("etag")
                        .map(|v| v.to_str().unwrap().to_string());
                    (body, status, t)
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().filter(|r| r.1 == 204).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let (body, _, wtag) = winners[0];
        let wtag = wtag.clone().expect("the winner's tag");
        for (_, st, t) in &results {
            assert!(*st == 204 || *st == 412, "round {round}: {results:?}");
            if *st == 412 {
                // the current tag when it was refused: the winner's, or the
                // old one while the winner was still on its way to the disk
                let t = t.as_deref().expect("a 412 names the current tag");
                assert!(t == wtag || t == tag, "round {round}: {t}");
            }
        }
        let g = get(&a, &s.url("/cas"));
        assert_eq!(g.body, body.as_bytes(), "round {round}");
        assert_eq!(g.header("etag"), Some(wtag.as_str()));
        tag = wtag;
    }
}

/// Read-modify-write with If-Match loses no update: clients on both workers
/// increment one counter, retrying on 412, and it ends at the number of
/// increments that succeeded. Plain writes of another key run alongside.
#[test]
fn compare_and_swap_increments_lose_no_update() {
    let s = Server::start();
    let a = agent();
    put(&a, &s.url("/counter"), b"0");
    let noise = {
        let url = s.url("/other");
        std::thread::spawn(move || {
            let a = agent();
            for i in 0..300u32 {
                put(&a, &url, i.to_string().as_bytes());
            }
        })
    };
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let url = s.url("/counter");
            std::thread::spawn(move || {
                let a = agent();
                let mut done = 0;
                let mut conflicts = 0;
                while done < 40 {
                    let g = get(&a, &url);
                    let n: u64 = std::str::from_utf8(&g.body).unwrap().parse().unwrap();
                    let t = g.header("etag").unwrap().to_string();
                    let r = a
                        .put(&url)
                        .header("If-Match", &t)
                        .send((n + 1).to_string().as_bytes())
                        .unwrap();
                    match r.status().as_u16() {
                        204 => done += 1,
                        412 => conflicts += 1,
                        other => panic!("status {other}"),
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u32 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    noise.join().unwrap();
    assert_eq!(get(&a, &s.url("/counter")).body, b"320");
    eprintln!("320 increments, {conflicts} retried after a 412");
}

/// Plain writes racing conditional ones on the same key: every acknowledged
/// write is accounted for. A conditional write that wins was evaluated against
/// a state that includes every plain write numbered before it, so after a
/// conditional write succeeds based on tag T, no acknowledged plain write may
/// be both older than it and newer than T (it would be a lost update).
#[test]
fn plain_and_conditional_writes_of_one_key_stay_linearizable() {
    let s = Server::start();
    let a = agent();
    let t0 = put(&a, &s.url("/mix"), b"p-0")
        .header("etag")
        .unwrap()
        .to_string();
    let num = |t: &str| t.trim_matches('"').parse::<u64>().unwrap();
    let plain = {
        let url = s.url("/mix");
        std::thread::spawn(move || {
            let a = agent();
            let mut tags = Vec::new();
            for i in 1..=300u32 {
                let r = put(&a, &url, format!("p-{i}").as_bytes());
                assert_eq!(r.status, 204);
                tags.push(num(r.header("etag").unwrap()));
            }
            tags
        })
    };
    let cas: Vec<_> = (0..4)
        .map(|c| {
            let url = s.url("/mix");
            std::thread::spawn(move || {
                let a = agent();
                let mut wins = Vec::new();
                for i in 0..150u32 {
                    let g = get(&a, &url);
                    let seen = num(g.header("etag").unwrap());
                    let r = a
                        .put(&url)
                        .header("If-Match", &format!("\"{seen}\""))
                        .send(format!("c{c}-{i}").as_bytes())
                        .unwrap();
                    match r.status().as_u16() {
                        204 => {
                            let t = r.headers().get("etag").unwrap().to_str().unwrap();
                            wins.push((seen, num(t)));
                        }
                        412 => {}
                        other => panic!("status {other}"),
                    }
                }
                wins
            })
        })
        .collect();
    let plain_tags = plain.join().unwrap();
    let wins: Vec<(u64, u64)> = cas.into_iter().flat_map(|c| c.join().unwrap()).collect();
    for (seen, mine) in &wins {
        for p in &plain_tags {
            assert!(
                !(p > seen && p < mine),
                "plain write {p} lost: a CAS based on {seen} won as {mine}"
            );
        }
    }
    assert!(num(&t0) > 0);
    eprintln!(
        "{} conditional writes won against 300 plain ones",
        wins.len()
    );
}
