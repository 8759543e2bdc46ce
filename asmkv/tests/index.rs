//! The index at scale: its table grows as keys are added (the buckets double,
//! no key moves, nothing stops), every key is found again by many clients at
//! once, listings see every key, and a restart builds the same table again.
mod common;
use common::*;

use std::net::SocketAddr;

const KEYS: usize = 200_000;
const THREADS: usize = 8;
const BATCH: usize = 250;

fn key(i: usize) -> String {
    format!("g/{i:06}")
}

fn value(i: usize) -> Vec<u8> {
    format!("value of {i}").into_bytes()
}

/// Runs `f(first, last)` over the keys split between THREADS threads.
fn in_parallel(f: impl Fn(usize, usize) + Send + Sync + Copy + 'static) {
    let per = KEYS.div_ceil(THREADS);
    let threads: Vec<_> = (0..THREADS)
        .map(|t| std::thread::spawn(move || f(t * per, ((t + 1) * per).min(KEYS))))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// PUTs the keys [from, to), BATCH pipelined requests at a time.
fn put_range(addr: SocketAddr, from: usize, to: usize) {
    let mut c = Raw::connect(addr);
    for start in (from..to).step_by(BATCH) {
        let end = (start + BATCH).min(to);
        let mut batch = Vec::new();
        for i in start..end {
            let v = value(i);
            batch.extend_from_slice(
                format!(
                    "PUT /{} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    key(i),
                    v.len()
                )
                .as_bytes(),
            );
            batch.extend_from_slice(&v);
        }
        c.send(&batch);
        for i in start..end {
            assert_eq!(c.response().status, 201, "{}", key(i));
        }
    }
}

/// GETs the keys [from, to), pipelined, and checks every value.
fn check_range(addr: SocketAddr, from: usize, to: usize) {
    let mut c = Raw::connect(addr);
    for start in (from..to).step_by(BATCH) {
        let end = (start + BATCH).min(to);
        let mut batch = Vec::new();
        for i in start..end {
            batch.extend_from_slice(
                format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", key(i)).as_bytes(),
            );
        }
        c.send(&batch);
        for i in start..end {
            let w = c.response();
            assert_eq!(w.status, 200, "{}", key(i));
            assert_eq!(w.body, value(i), "{}", key(i));
        }
    }
}

/// The table starts with 1,024 buckets and doubles whenever it holds more
/// than four keys a bucket on average.
fn buckets_for(keys: usize) -> f64 {
    let mut b = 1024;
    while keys > 4 * b {
        b *= 2;
    }
    b as f64
}

#[test]
fn the_table_grows_and_every_key_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--sync", "none", "--metrics", "127.0.0.1:0"];
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    assert_eq!(metric(m, "asmkv_index_buckets"), 1024.0);
    let addr = s.addr;
    in_parallel(move |a, b| put_range(addr, a, b));
    assert_eq!(metric(m, "asmkv_keys"), KEYS as f64);
    assert_eq!(metric(m, "asmkv_index_buckets"), buckets_for(KEYS));
    in_parallel(move |a, b| check_range(addr, a, b));
    // a page of the listing, and the whole of it
    let page = get(&agent(), &s.url("/g/?limit=1000&after=100000")).body;
    let page = String::from_utf8(page).unwrap();
    assert!(page.starts_with("[{\"name\":\"100001\""), "{}", &page[..60]);
    assert_eq!(page.matches("\"name\"").count(), 1000);
    let all = String::from_utf8(get(&agent(), &s.url("/g/")).body).unwrap();
    assert_eq!(all.matches("\"name\"").count(), KEYS);
    // a restart builds the table again from the segments: the same keys
    s.stop();
    wait_unlocked(&dir);
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    assert_eq!(metric(m, "asmkv_keys"), KEYS as f64);
    assert_eq!(metric(m, "asmkv_index_buckets"), buckets_for(KEYS));
    let addr = s.addr;
    in_parallel(move |a, b| check_range(addr, a, b));
    assert_eq!(get(&agent(), &s.url("/g/missing")).status, 404);
}

/// Churns the keys "c{round}/{i}" for i in [from, to): each is put, and the
/// one put `LAG` keys before it deleted, BATCH pipelined requests at a time.
/// The last LAG keys are left with their values.
fn churn_range(addr: SocketAddr, round: usize, from: usize, to: usize) {
    const LAG: usize = 125;
    let mut c = Raw::connect(addr);
    for start in (from..to).step_by(BATCH / 2) {
        let end = (start + BATCH / 2).min(to);
        let mut batch = Vec::new();
        let mut expect = Vec::new();
        for i in start..end {
            let v = value(i);
            batch.extend_from_slice(
                format!(
                    "PUT /c{round}/{i} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    v.len()
                )
                .as_bytes(),
            );
            batch.extend_from_slice(&v);
            expect.push(201);
            if i >= from + LAG {
                let gone = i - LAG;
                batch.extend_from_slice(
                    format!("DELETE /c{round}/{gone} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
                );
                expect.push(204);
            }
        }
        c.send(&batch);
        for e in expect {
            assert_eq!(c.response().status, e, "churn round {round} at {start}");
        }
    }
}

/// Waits (two minutes at most: other tests may share the machine) until the
/// index holds nodes for `keys` keys and at most as many deleted ones, the
/// disk about as many records and no dead ones, and `freed` nodes are given
/// back for reuse (a node unlinked waits two epochs, a second or so each).
/// Some tombstones may stay: a segment holding the last of them and the live
/// keys' values may never be worth compacting (under half of it reclaimable),
/// and a tombstone's node stays with it. Returns the node memory and the
/// nodes in the table.
fn wait_given_back(m: SocketAddr, keys: usize, freed: usize) -> (f64, f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let keys = keys as f64;
    loop {
        let nodes = metric(m, "asmkv_index_nodes");
        let live = metric(m, "asmkv_records{state=\"live\"}");
        let dead = metric(m, "asmkv_records{state=\"dead\"}");
        let given = metric(m, "asmkv_index_nodes_freed_total");
        let settled = nodes >= keys && nodes <= 2.0 * keys && live <= 2.0 * keys && dead == 0.0;
        if settled && given >= freed as f64 {
            return (metric(m, "asmkv_index_node_bytes"), nodes);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not given back: {nodes} nodes, {live} live and {dead} dead records for {keys} keys, {given} nodes freed of {freed}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Deleted keys give their index nodes back while the server runs: half a
/// million keys made and deleted (a thousand live at the end) leave nodes and
/// records for about the thousand alone, and the next half million reuse the
/// nodes given back rather than take as much memory again. Every live key reads back,
/// the deleted ones are gone, a listing is exactly the live keys, and a
/// restart holds the same.
#[test]
fn deleted_keys_give_their_nodes_back() {
    const CHURN: usize = 500_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--sync", "none", "--metrics", "127.0.0.1:0"];
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    let addr = s.addr;
    let per = CHURN / THREADS;
    let churn = move |round: usize| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| std::thread::spawn(move || churn_range(addr, round, t * per, (t + 1) * per)))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    };
    churn(1);
    let (first, _) = wait_given_back(m, 1000, CHURN - 2000);
    let reused = metric(m, "asmkv_index_nodes_reused_total");
    churn(2);
    let (second, nodes) = wait_given_back(m, 2000, 2 * CHURN - 4000);
    let reused = metric(m, "asmkv_index_nodes_reused_total") - reused;
    assert!(
        reused >= (CHURN / 2) as f64,
        "the second round took {reused} nodes given back"
    );
    eprintln!(
        "node memory {first} bytes after {CHURN} keys churned, {second} after {}; {reused} nodes reused",
        2 * CHURN
    );
    // without reuse the second round would take about as much again as the
    // first (its peak of nodes alive at once, which varies with how soon
    // compaction reaches their records); a node given back fits a new key
    // when its size does (its key's length and tower height)
    assert!(
        second <= first * 1.6,
        "node memory grew from {first} to {second} bytes"
    );
    let live: Vec<String> = (1..=2)
        .flat_map(|r| {
            (0..THREADS).flat_map(move |t| {
                ((t + 1) * per - 125..(t + 1) * per).map(move |i| format!("c{r}/{i}"))
            })
        })
        .collect();
    let check = |s: &Server| {
        let a = agent();
        for k in &live {
            let i: usize = k.rsplit('/').next().unwrap().parse().unwrap();
            assert_eq!(get(&a, &s.url(&format!("/{k}"))).body, value(i), "{k}");
        }
        for i in (0..per - 125).step_by(997) {
            assert_eq!(get(&a, &s.url(&format!("/c1/{i}"))).status, 404);
            assert_eq!(get(&a, &s.url(&format!("/c2/{i}"))).status, 404);
        }
        for r in 1..=2 {
            let listed = parse_listing(&get(&a, &s.url(&format!("/c{r}/"))).body);
            let mut names: Vec<String> = listed
                .iter()
                .map(|e| format!("c{r}/{}", String::from_utf8_lossy(&e.name)))
                .collect();
            names.sort();
            let mut want: Vec<String> = live
                .iter()
                .filter(|k| k.starts_with(&format!("c{r}/")))
                .cloned()
                .collect();
            want.sort();
            assert_eq!(names, want, "listing of c{r}/");
        }
    };
    check(&s);
    s.stop();
    wait_unlocked(&dir);
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    let after = metric(m, "asmkv_index_nodes");
    assert!(
        (2000.0..=nodes).contains(&after),
        "{after} nodes after a restart, {nodes} before"
    );
    // node memory mostly free is not kept in an image: the restart reads the
    // segments and takes only what the keys need
    let bytes = metric(m, "asmkv_index_node_bytes");
    assert!(
        bytes <= second / 4.0,
        "{bytes} bytes of nodes after a restart, {second} before"
    );
    check(&s);
}
