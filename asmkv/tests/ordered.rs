//! The index's ordered list: every listing, at every prefix and every page,
//! is exactly what a sorted model of the keys that have a value says - with
//! writers adding and removing keys meanwhile, and after workers and the
//! compactor were killed at random moments while they inserted, deleted and
//! compacted.
mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// An entry as the model sees it: (name, is a directory).
type Entry = (Vec<u8>, bool);

/// The raw path of a key: every byte percent-encoded.
fn path_of(key: &[u8]) -> String {
    key.iter().map(|b| format!("%{b:02X}")).collect()
}

/// A listing's names and kinds (the harness's strict parser of its JSON).
fn listing(a: &ureq::Agent, s: &Server, path: &str) -> Vec<Entry> {
    let r = get(a, &s.url(path));
    assert_eq!(r.status, 200, "GET {path}");
    parse_listing(&r.body)
        .into_iter()
        .map(|e| (e.name, e.dir))
        .collect()
}

/// What a listing of `prefix` holds, from the live keys: each key's first
/// segment after the prefix, a directory if a "/" follows it; an empty name
/// ("a//b" under "a/") is left out; sorted by name, a file before a directory
/// of the same name.
fn model(live: &BTreeSet<Vec<u8>>, prefix: &[u8]) -> Vec<Entry> {
    let mut out = BTreeSet::new();
    for k in live.range(prefix.to_vec()..) {
        if !k.starts_with(prefix) {
            break;
        }
        let rest = &k[prefix.len()..];
        if rest.is_empty() || rest[0] == b'/' {
            continue;
        }
        match rest.iter().position(|&b| b == b'/') {
            Some(p) => out.insert((rest[..p].to_vec(), true)),
            None => out.insert((rest.to_vec(), false)),
        };
    }
    out.into_iter().collect()
}

/// Every directory prefix of the live keys (ending in "/"), and the root.
fn prefixes(live: &BTreeSet<Vec<u8>>) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::from([Vec::new()]);
    for k in live {
        for (i, &b) in k.iter().enumerate() {
            if b == b'/' {
                out.insert(k[..=i].to_vec());
            }
        }
    }
    out
}

/// Checks the listing of `prefix`, whole and in pages of `limit` entries
/// (each page asked for after the previous page's last name), against the
/// model. Returns how many listings it made.
fn check_prefix(a: &ureq::Agent, s: &Server, live: &BTreeSet<Vec<u8>>, prefix: &[u8]) -> usize {
    let want = model(live, prefix);
    let base = format!("/{}", path_of(prefix));
    let base = if prefix.is_empty() {
        "/".to_string()
    } else {
        base
    };
    // a listing's path ends in a literal "/": the prefix's last "/" must be one
    let base = if let Some(b) = base.strip_suffix("%2F") {
        format!("{b}/")
    } else {
        base
    };
    let got = listing(a, s, &base);
    assert_eq!(
        got,
        want,
        "listing of {:?}",
        String::from_utf8_lossy(prefix)
    );
    let mut made = 1;
    for limit in [1usize, 3, 50] {
        if limit > want.len() + 1 && limit != 1 {
            continue;
        }
        let mut after: Option<Vec<u8>> = None;
        loop {
            let q = match &after {
                Some(n) => format!("{base}?limit={limit}&after={}", path_of(n)),
                None => format!("{base}?limit={limit}"),
            };
            let page = listing(a, s, &q);
            made += 1;
            let expect: Vec<Entry> = want
                .iter()
                .filter(|e| after.as_ref().is_none_or(|n| e.0 > *n))
                .take(limit)
                .cloned()
                .collect();
            assert_eq!(page, expect, "{q}");
            match page.last() {
                Some(e) => after = Some(e.0.clone()),
                None => break,
            }
        }
    }
    made
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Names chosen to sort differently by bytes than by their encoding, and
/// around "/": "-" and "." (below "/" as bytes, above it in a listing), "0"
/// (just above it), escaped bytes, UTF-8, prefixes of one another.
const SEGMENTS: &[&[u8]] = &[
    b"a",
    b"a-b",
    b"a.b",
    b"a0",
    b"ab",
    b"b",
    b"%",
    b" x",
    b"\x01",
    b"\x7f",
    b"\xff",
    "é".as_bytes(),
    "日本".as_bytes(),
    b"z",
    b"",
];

fn random_key(r: &mut Rng) -> Vec<u8> {
    let depth = 1 + r.below(3);
    let mut k = Vec::new();
    for d in 0..depth {
        if d > 0 {
            k.push(b'/');
        }
        k.extend_from_slice(SEGMENTS[r.below(SEGMENTS.len())]);
        if r.below(3) == 0 {
            k.extend_from_slice(format!("{}", r.below(20)).as_bytes());
        }
    }
    if k.is_empty() || k.ends_with(b"/") {
        k.push(b'q');
    }
    k
}

#[test]
fn listings_equal_a_sorted_model_at_every_prefix_and_page() {
    let s = Server::start_with(&["--sync", "none"]);
    let a = agent();
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let mut live = BTreeSet::new();
    for _ in 0..3000 {
        let mut k = b"m/".to_vec();
        k.extend(random_key(&mut r));
        let path = format!("/{}", path_of(&k));
        if r.below(4) == 0 && live.contains(&k) {
            assert_eq!(delete(&a, &s.url(&path)).status, 204);
            live.remove(&k);
        } else {
            assert!(put(&a, &s.url(&path), b"v").status < 300);
            live.insert(k);
        }
    }
    // writers add and remove keys elsewhere all the while
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|t| {
            let (stop, url) = (stop.clone(), s.url(""));
            thread::spawn(move || {
                let a = agent();
                let mut r = Rng(0x1234_5678 + t);
                let mut mine = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut k = format!("c/{t}/").into_bytes();
                    k.extend(random_key(&mut r));
                    let path = format!("{url}/{}", path_of(&k));
                    if r.below(2) == 0 {
                        let st = delete(&a, &path).status;
                        assert_eq!(st, if mine.contains(&k) { 204 } else { 404 });
                        mine.remove(&k);
                    } else {
                        assert!(put(&a, &path, b"c").status < 300);
                        mine.insert(k);
                    }
                }
                mine
            })
        })
        .collect();
    let mut made = 0;
    for p in prefixes(&live) {
        if !p.is_empty() {
            made += check_prefix(&a, &s, &live, &p); // (the root holds the writers' too)
        }
    }
    // after= names that are not names: with "/" in them, bytes below and
    // above "/", empty, longer than any
    for p in [&b"m/"[..], b"m/a/", b"m/b/"] {
        let want = model(&live, p);
        for after in [
            &b"a/b"[..],
            b"a/",
            b"a-",
            b"a.b/zz",
            b"a",
            b"",
            b"\x01/",
            b"zzzzzzzzzzzzzzzzzzzzzzzz",
            "é/".as_bytes(),
        ] {
            let q = format!("/{}?after={}", String::from_utf8_lossy(p), path_of(after));
            let expect: Vec<Entry> = want.iter().filter(|e| e.0[..] > *after).cloned().collect();
            assert_eq!(listing(&a, &s, &q), expect, "{q}");
            made += 1;
        }
    }
    // prefixes under which nothing is, and between the keys
    for p in [&b"m/a-/"[..], b"m/zz/", b"m/a/a/a/a/", b"n/", b"m/\xff/"] {
        made += check_prefix(&a, &s, &live, p);
    }
    stop.store(true, Ordering::Relaxed);
    let mut churned = BTreeSet::new();
    for w in writers {
        churned.extend(w.join().unwrap());
    }
    // the writers' keys, now that they stopped; the root sees both
    for p in prefixes(&churned).into_iter().filter(|p| !p.is_empty()) {
        made += check_prefix(&a, &s, &churned, &p);
    }
    let all: BTreeSet<Vec<u8>> = live.union(&churned).cloned().collect();
    made += check_prefix(&a, &s, &all, b"");
    eprintln!(
        "{} keys and {} churned ones: {made} listings equal the model",
        live.len(),
        churned.len()
    );
}

/// Workers and the compactor are killed at random moments while clients
/// insert, overwrite, delete (values big enough to fill segments, so the
/// compactor works) and list. Afterwards, and after a restart, the listing
/// of every directory is exactly the keys a GET finds.
#[test]
fn listings_hold_exactly_the_keys_with_a_value_after_kills() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let s = Server::start_in(&dir, &["--sync", "none", "--workers", "2"]);
    let stop = Arc::new(AtomicBool::new(false));
    let universe = |t: u64, i: u64| format!("k/{t}/{}/{i}", i % 7).into_bytes();
    let clients: Vec<_> = (0..3u64)
        .map(|t| {
            let (stop, url) = (stop.clone(), s.url(""));
            thread::spawn(move || {
                let a = agent();
                let mut r = Rng(0xdead_beef + t);
                let big = vec![b'x'; 48 << 10];
                while !stop.load(Ordering::Relaxed) {
                    let i = r.below(400) as u64;
                    let path = format!("{url}/{}", String::from_utf8(universe(t, i)).unwrap());
                    // a request caught in a killed worker fails: that is all
                    let _ = match r.below(5) {
                        0 | 1 => a.delete(&path).call().map(|_| ()),
                        2 => a.get(&format!("{url}/k/{t}/{}/", i % 7)).call().map(|_| ()),
                        _ => a.put(&path).send(&big[..]).map(|_| ()),
                    };
                }
            })
        })
        .collect();
    let mut r = Rng(42);
    for _ in 0..16 {
        thread::sleep(Duration::from_millis(150 + r.below(150) as u64));
        let mut victims = s.workers();
        if let Some(c) = s.compactor() {
            victims.push(c);
        }
        if victims.is_empty() {
            continue;
        }
        let v = victims[r.below(victims.len())];
        let _ = kill(Pid::from_raw(v), Signal::SIGKILL);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    thread::sleep(Duration::from_millis(500)); // the last one killed is replaced
    let check = |s: &Server| {
        let a = agent();
        let mut live = BTreeSet::new();
        let mut counts = BTreeMap::new();
        for t in 0..3 {
            for i in 0..400 {
                let k = universe(t, i);
                let r = get(&a, &s.url(&format!("/{}", String::from_utf8_lossy(&k))));
                assert!(r.status == 200 || r.status == 404, "{}", r.status);
                *counts.entry(r.status).or_insert(0) += 1;
                if r.status == 200 {
                    live.insert(k);
                }
            }
        }
        for p in prefixes(&live) {
            let want = model(&live, &p);
            let base = format!("/{}", String::from_utf8_lossy(&p));
            assert_eq!(listing(&a, s, &base), want, "listing of {base}");
        }
        for t in 0..3 {
            for d in 0..7 {
                let p = format!("k/{t}/{d}/").into_bytes();
                let base = format!("/{}", String::from_utf8_lossy(&p));
                assert_eq!(listing(&a, s, &base), model(&live, &p), "{base}");
            }
        }
        counts
    };
    let counts = check(&s);
    eprintln!("after the kills: {counts:?} (GET answers)");
    assert!(counts.get(&200).copied().unwrap_or(0) > 100, "{counts:?}");
    assert!(counts.get(&404).copied().unwrap_or(0) > 100, "{counts:?}");
    s.stop();
    wait_unlocked(&dir);
    let s = Server::start_in(&dir, &["--sync", "none", "--workers", "2"]);
    let again = check(&s);
    assert_eq!(again, counts, "the same keys after a restart");
}
