//! `--metrics ADDR:PORT`: GET /metrics in the Prometheus text format on its
//! own socket. A scrape, a known mix of requests, another scrape: the
//! differences match exactly.
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

type Scrape = BTreeMap<String, f64>;

/// One exchange on a new connection: returns (bytes sent, the answer's bytes).
fn exchange(addr: SocketAddr, request: &[u8]) -> (usize, Vec<u8>) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(request).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    (request.len(), out)
}

/// Checks the text format line by line (HELP and TYPE before a family's
/// samples, a known type, names and labels well formed, every value a
/// number, no series twice) and returns every series' value.
fn parse(text: &str) -> Scrape {
    let mut out = Scrape::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(name_ok(name) && !help.is_empty(), "{line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name type");
            assert!(name_ok(name), "{line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                typed.insert(name.to_string(), kind.to_string()).is_none(),
                "{line}"
            );
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                let inner = labels
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .unwrap_or_else(|| panic!("{line}"));
                for pair in inner.split(',') {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                    assert!(name_ok(k), "{line}");
                    assert!(
                        v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                        "{line}"
                    );
                }
            }
        }
        let family = typed
            .keys()
            .find(|f| {
                name == f.as_str()
                    || (typed[*f] == "histogram"
                        && ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name == format!("{f}{s}")))
            })
            .unwrap_or_else(|| panic!("no TYPE before {line}"));
        assert!(!family.is_empty());
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(v >= 0.0, "{line}");
        assert!(out.insert(series.to_string(), v).is_none(), "twice: {line}");
    }
    out
}

fn scrape(addr: SocketAddr) -> (Scrape, usize, usize) {
    let req = b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n";
    let (sent, answer) = exchange(addr, req);
    let text = String::from_utf8(answer.clone()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    // de-chunk
    let mut plain = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            break;
        }
        plain.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    (parse(&plain), sent, answer.len())
}

fn diff(a: &Scrape, b: &Scrape, series: &str) -> f64 {
    b.get(series).copied().unwrap_or(0.0) - a.get(series).copied().unwrap_or(0.0)
}

fn req_series(method: &str, code: u16) -> String {
    format!("asmkv_requests_total{{method=\"{method}\",code=\"{code}\"}}")
}

#[test]
fn scrapes_count_a_known_mix_exactly() {
    let mut s = Server::start_with(&["--metrics", "127.0.0.1:0"]);
    let m = metrics_addr(&mut s);
    let (before, _, first_answer) = scrape(m);
    assert_eq!(before["asmkv_keys"], 0.0);

    let put = |k: &str, v: &str| {
        format!(
            "PUT /{k} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{v}",
            v.len()
        )
    };
    let simple =
        |m: &str, k: &str| format!("{m} /{k} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut mix = Vec::new();
    for i in 0..5 {
        mix.push((put(&format!("k{i}"), "value"), 201));
    }
    for i in 0..3 {
        mix.push((put(&format!("k{i}"), "other value"), 204));
    }
    for i in 0..4 {
        mix.push((simple("GET", &format!("k{i}")), 200));
    }
    mix.push((simple("GET", "missing"), 404));
    mix.push((simple("GET", "missing2"), 404));
    mix.push((simple("HEAD", "k4"), 200));
    mix.push((simple("DELETE", "k3"), 204));
    mix.push((simple("DELETE", "k4"), 204));
    mix.push((simple("DELETE", "k4"), 404));
    mix.push((simple("GET", "a%zz"), 400));
    mix.push((
        "POST /k9 HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx".into(),
        201,
    ));
    mix.push((simple("GET", "k0").replace("GET", "PATCH"), 405));
    let (mut sent, mut received) = (0, 0);
    for (r, want) in &mix {
        let (n, answer) = exchange(s.addr, r.as_bytes());
        assert_eq!(&answer[9..12], want.to_string().as_bytes(), "{r}");
        sent += n;
        received += answer.len();
    }
    // the connections are closed: wait for the gauge to say so
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut polls = 0;
    let (after, scrape_sent) = loop {
        let (a, n, _) = scrape(m);
        polls += 1;
        if a["asmkv_open_connections"] == 0.0 || Instant::now() > deadline {
            break (a, n);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        after["asmkv_open_connections"], 0.0,
        "clients' connections only: not the scrape's own"
    );

    let mut want: BTreeMap<(String, u16), f64> = BTreeMap::new();
    for (r, code) in &mix {
        let method = r.split(' ').next().unwrap();
        let method = if method == "PATCH" { "other" } else { method };
        *want.entry((method.to_string(), *code)).or_default() += 1.0;
    }
    // scrapes are not API traffic: they are counted apart, once answered
    // (the first one, and every one but the last of the polls: each scrape's
    // text is made before its answer), and in no API series
    assert_eq!(
        diff(&before, &after, "asmkv_scrapes_total{code=\"200\"}"),
        polls as f64
    );
    for ((method, code), n) in &want {
        assert_eq!(
            diff(&before, &after, &req_series(method, *code)),
            *n,
            "{method} {code}"
        );
    }
    let series: Vec<_> = after
        .keys()
        .filter(|k| k.starts_with("asmkv_requests_total"))
        .cloned()
        .collect();
    assert_eq!(series.len(), want.len(), "no other answers: {series:?}");
    // keys: k0, k1, k2 and k9 (k3 and k4 were deleted)
    assert_eq!(after["asmkv_keys"], 4.0);
    // bytes: exactly what the clients sent and were sent, none of the scrapes'
    let got_in = diff(&before, &after, "asmkv_received_bytes_total");
    assert_eq!(got_in, sent as f64);
    let got_out = diff(&before, &after, "asmkv_sent_bytes_total");
    assert_eq!(got_out, received as f64);
    assert!(scrape_sent > 0 && first_answer > 0);
    // group commits: every write that reached the disk, in groups
    let writes = diff(&before, &after, "asmkv_group_commit_writes_sum");
    assert_eq!(
        writes,
        5.0 + 3.0 + 2.0 + 1.0,
        "PUTs, DELETEs of keys, the POST"
    );
    let groups = diff(&before, &after, "asmkv_group_commits_total");
    assert!(groups >= 1.0 && groups <= writes);
    assert_eq!(
        diff(&before, &after, "asmkv_group_commit_writes_count"),
        groups
    );
    assert_eq!(diff(&before, &after, "asmkv_flush_seconds_count"), groups);
    assert_eq!(
        diff(&before, &after, "asmkv_flush_seconds_bucket{le=\"+Inf\"}"),
        groups
    );
    assert!(diff(&before, &after, "asmkv_flush_seconds_sum") > 0.0);
    let mut last = 0.0;
    for le in ["1", "2", "4", "8", "16", "32", "64", "128", "256", "+Inf"] {
        let v = after[&format!("asmkv_group_commit_writes_bucket{{le=\"{le}\"}}")];
        assert!(v >= last, "cumulative buckets");
        last = v;
    }
    // records: the newest of each key are live (k0-k2, k9, and the deletes
    // of k3 and k4), the older ones dead (the first k0-k2, k3, k4)
    assert_eq!(after["asmkv_records{state=\"live\"}"], 6.0);
    assert_eq!(after["asmkv_records{state=\"dead\"}"], 5.0);
    // and their bytes: header, key, value padded to 8, footer
    let live = 3 * rec_len(2, 11) + rec_len(2, 1) + 2 * rec_len(2, 0);
    let dead = 3 * rec_len(2, 5) + 2 * rec_len(2, 5);
    assert_eq!(after["asmkv_record_bytes{state=\"live\"}"], live as f64);
    assert_eq!(after["asmkv_record_bytes{state=\"dead\"}"], dead as f64);
}

/// The length of a record of a key of `klen` bytes and a value of `vlen`.
fn rec_len(klen: usize, vlen: usize) -> usize {
    ((32 + klen + vlen + 7) & !7) + 16
}

/// The bytes of live and dead records in a data directory, read without the
/// server: of each key's sealed records the newest is live, the rest dead.
fn bytes_on_disk(dir: &std::path::Path) -> (f64, f64) {
    let mut by_key: BTreeMap<String, Vec<(u64, usize)>> = BTreeMap::new();
    for name in files_in(dir).into_iter().filter(|n| is_segment(n)) {
        for r in segment_records(dir, &name).into_iter().filter(|r| r.sealed) {
            by_key.entry(r.key).or_default().push((r.seq, r.len));
        }
    }
    let (mut live, mut dead) = (0, 0);
    for records in by_key.values() {
        let newest = records.iter().max().unwrap();
        live += newest.1;
        dead += records.iter().map(|r| r.1).sum::<usize>() - newest.1;
    }
    (live as f64, dead as f64)
}

/// The record bytes a scrape reports: (live, dead).
fn record_bytes(m: SocketAddr) -> (f64, f64) {
    let (a, _, _) = scrape(m);
    (
        a["asmkv_record_bytes{state=\"live\"}"],
        a["asmkv_record_bytes{state=\"dead\"}"],
    )
}

/// What the test wrote, key by key: the lengths of its records in order.
#[derive(Default)]
struct Model(BTreeMap<String, Vec<usize>>);

impl Model {
    fn wrote(&mut self, key: &str, vlen: usize) {
        let len = rec_len(key.len(), vlen);
        self.0.entry(key.to_string()).or_default().push(len);
    }
    /// (live, dead): each key's last record is live, the others dead.
    fn bytes(&self) -> (f64, f64) {
        let live: usize = self.0.values().map(|v| v[v.len() - 1]).sum();
        let all: usize = self.0.values().flatten().sum();
        (live as f64, (all - live) as f64)
    }
}

#[test]
fn record_bytes_match_the_segments_through_compaction_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--metrics", "127.0.0.1:0", "--workers", "1"];
    let mut s = Server::start_in(dir.path(), &args);
    let m = metrics_addr(&mut s);
    let a = agent();
    let mut model = Model::default();
    // an upload left open keeps its record reserved, so the segment is not
    // compacted under the first checks
    let mut open = Raw::connect(s.addr);
    open.send(b"PUT /open HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    // small values, values too long for a LOC to carry their length
    // (512 KiB and more), overwrites in both directions, deletes, and a
    // conditional write (its claim settles instead of a plain publish)
    let mut write = |key: &str, v: &[u8], want: u16| {
        assert_eq!(put(&a, &s.url(&format!("/{key}")), v).status, want, "{key}");
        model.wrote(key, v.len());
    };
    for i in 0..40 {
        write(&format!("k{i}"), &pattern(10 + 37 * i, i as u64), 201);
    }
    write("big1", &pattern(600_000, 7), 201);
    write("big2", &pattern(2 << 20, 7), 201);
    write("k3", &pattern(700_000, 7), 204);
    write("big1", b"small now", 204);
    write("big2", &pattern(900_000, 8), 204);
    for i in 0..40 {
        write(&format!("k{i}"), b"x", 204);
    }
    for i in 30..35 {
        assert_eq!(delete(&a, &s.url(&format!("/k{i}"))).status, 204);
        model.wrote(&format!("k{i}"), 0);
    }
    let tag = head(&a, &s.url("/k36")).header("etag").unwrap().to_string();
    let r = a
        .put(&s.url("/k36"))
        .header("If-Match", &tag)
        .send(&b"cas"[..])
        .unwrap();
    assert_eq!(r.status(), 204);
    model.wrote("k36", 3);
    let got = record_bytes(m);
    assert_eq!(got, model.bytes(), "what was written");
    assert_eq!(got, bytes_on_disk(dir.path()), "what the disk holds");
    assert!(got.1 > 3e6, "the big values are dead: {got:?}");
    // the upload ends; the worker's segment is mostly dead: once idle, it
    // is compacted and its dead bytes are gone
    open.send(b"defghij");
    assert_eq!(open.response().status, 201);
    model.wrote("open", 10);
    let live = model.bytes().0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while record_bytes(m) != (live, 0.0) {
        assert!(
            Instant::now() < deadline,
            "not compacted: {:?}",
            record_bytes(m)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(bytes_on_disk(dir.path()), (live, 0.0));
    // more writes on top (too few dead to compact again), then restarts:
    // recovery counts the same, from the segments, then from their hints
    for i in 0..10 {
        assert_eq!(put(&a, &s.url(&format!("/k{i}")), b"again").status, 204);
        model.wrote(&format!("k{i}"), 5);
    }
    let before = record_bytes(m);
    let on_disk = bytes_on_disk(dir.path());
    assert_eq!(before, on_disk);
    assert_eq!(before.0, model.bytes().0);
    s.stop();
    wait_unlocked(dir.path());
    let mut s = Server::start_in(dir.path(), &args);
    let m = metrics_addr(&mut s);
    assert_eq!(record_bytes(m), before, "recovered from the segments");
    // no one writes to those segments any more: they get hint files
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let files = files_in(dir.path());
        let segs = files.iter().filter(|f| is_segment(f)).count();
        if segs > 0 && files.iter().filter(|f| is_hint(f)).count() == segs {
            break;
        }
        assert!(Instant::now() < deadline, "no hints: {files:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.stop();
    wait_unlocked(dir.path());
    let mut s = Server::start_in(dir.path(), &args);
    let m = metrics_addr(&mut s);
    assert_eq!(record_bytes(m), before, "recovered from the hints");
    assert_eq!(bytes_on_disk(dir.path()), on_disk);
}

#[test]
fn timeouts_restarts_and_other_paths_are_counted() {
    let mut s = Server::start_with(&["--metrics", "127.0.0.1:0", "--idle-timeout", "1"]);
    let m = metrics_addr(&mut s);
    let (before, _, _) = scrape(m);
    // an idle connection, closed by the server
    let mut idle = TcpStream::connect(s.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    assert_eq!(idle.read(&mut b).unwrap_or(0), 0);
    // a worker killed and replaced
    let victim = s.workers()[0];
    kill(Pid::from_raw(victim), Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.workers().contains(&victim) || s.workers().len() < 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    // the new worker counts its start when it begins
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let (a, _, _) = scrape(m);
        if diff(&before, &a, "asmkv_restarts_total{process=\"worker\"}") >= 1.0
            || Instant::now() > deadline
        {
            break a;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        diff(&before, &after, "asmkv_timeouts_total{kind=\"idle\"}"),
        1.0
    );
    assert_eq!(
        diff(&before, &after, "asmkv_restarts_total{process=\"worker\"}"),
        1.0
    );
    // only /metrics, GET and HEAD, on the metrics socket
    let (_, a) = exchange(m, b"GET /other HTTP/1.1\r\nHost: m\r\n\r\n");
    assert_eq!(&a[9..12], b"404");
    let (_, a) = exchange(
        m,
        b"PUT /metrics HTTP/1.1\r\nHost: m\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(&a[9..12], b"405");
    let (_, a) = exchange(
        m,
        b"HEAD /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&a);
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && text.ends_with("\r\n\r\n"),
        "{text}"
    );
    // ... and the key-value API is not served there
    let (_, a) = exchange(m, b"GET /k HTTP/1.1\r\nHost: m\r\n\r\n");
    assert_eq!(&a[9..12], b"404");
    // a bad address stops the start
    let out = std::process::Command::new(BIN)
        .args(["--metrics", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad value for flag --metrics"));
}

/// Over HTTP/1.0 the text is not chunked: the body, framed by the close, is
/// the text itself from its first byte (it once began with the eight bytes
/// kept for a chunk's size, as NULs), and parses as an HTTP/1.1 scrape does.
#[test]
fn an_http10_scrape_is_the_text_from_its_first_byte() {
    let mut s = Server::start_with(&["--metrics", "127.0.0.1:0"]);
    let m = metrics_addr(&mut s);
    let (_, answer) = exchange(m, b"GET /metrics HTTP/1.0\r\n\r\n");
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(!head.contains("Transfer-Encoding"), "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    assert!(
        body.starts_with("# HELP "),
        "{:?}",
        &body[..body.len().min(40)]
    );
    assert!(!body.contains('\0'));
    let one0 = parse(body);
    let (one1, _, _) = scrape(m);
    let names = |s: &Scrape| s.keys().cloned().collect::<Vec<_>>();
    let n0: Vec<_> = names(&one0)
        .into_iter()
        .filter(|k| !k.starts_with("asmkv_scrapes_total"))
        .collect();
    let n1: Vec<_> = names(&one1)
        .into_iter()
        .filter(|k| !k.starts_with("asmkv_scrapes_total"))
        .collect();
    assert_eq!(n0, n1, "the same series either way");
    // and a HEAD has the head alone
    let (_, answer) = exchange(m, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert!(
        answer.ends_with(b"\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

/// The metrics socket answers by the request's own target: a target that
/// names no key (`*`, a bad escape) is a 404 even right after a scrape on the
/// same connection (it was routed on the key the last request left).
#[test]
fn the_metrics_socket_routes_on_the_requests_own_target() {
    let mut s = Server::start_with(&["--metrics", "127.0.0.1:0"]);
    let m = metrics_addr(&mut s);
    for target in ["*", "/metrics%zz", "/"] {
        let mut c = Raw::connect(m);
        c.send(b"HEAD /metrics HTTP/1.1\r\nHost: m\r\n\r\n");
        assert_eq!(c.response_to(true).unwrap().status, 200);
        c.send(format!("GET {target} HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n").as_bytes());
        let w = c.response();
        assert_ne!(w.status, 200, "{target}");
        assert!(w.status == 404 || w.status == 400, "{target}: {}", w.status);
    }
}

/// A metrics connection that times out is not an API timeout: the
/// monitoring's own connections are counted apart in every series.
#[test]
fn a_scrape_connection_timing_out_is_no_api_timeout() {
    let mut s = Server::start_with(&["--metrics", "127.0.0.1:0", "--idle-timeout", "1"]);
    let m = metrics_addr(&mut s);
    let mut c = Raw::connect(m);
    c.send(b"HEAD /metrics HTTP/1.1\r\nHost: m\r\n\r\n");
    assert_eq!(c.response_to(true).unwrap().status, 200);
    assert!(
        c.closed(),
        "the idle metrics connection is closed by its timeout"
    );
    let (after, _, _) = scrape(m);
    assert_eq!(after["asmkv_timeouts_total{kind=\"idle\"}"], 0.0);
    assert_eq!(after["asmkv_open_connections"], 0.0);
}
