//! Online backup: `GET /backup` on the metrics socket streams a tar of the
//! running store (its segments and hints), while it goes on serving and
//! writing. Unpacked into an empty directory, it is a data directory that
//! holds every write acknowledged before the request, nothing torn, and
//! nothing a start could take for damage. One backup runs at a time
//! (HTTP/1.1: chunked, so a cut stream shows);
//! compaction removes no segment a backup still needs, and a backup whose
//! worker is killed holds nothing back.
mod common;
use common::*;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ARGS: [&str; 4] = ["--workers", "2", "--metrics", "127.0.0.1:0"];

fn start(dir: &Path, extra: &[&str]) -> (Server, SocketAddr) {
    let mut args = ARGS.to_vec();
    args.extend_from_slice(extra);
    let mut s = Server::start_in(dir, &args);
    let m = metrics_addr(&mut s);
    (s, m)
}

/// PUTs `n` keys "b{i}" of about 1 KiB on one pipelined connection,
/// recording each in `history` (acknowledged as its answer comes).
fn fill(addr: SocketAddr, n: usize, seq: &AtomicU64, history: &Mutex<Vec<Put>>) {
    let mut c = Raw::connect(addr);
    for from in (0..n).step_by(100) {
        let to = (from + 100).min(n);
        let mut req = Vec::new();
        let mut idx = Vec::new();
        for i in from..to {
            let s = seq.fetch_add(1, Ordering::Relaxed);
            let v = make_value(s, 1000);
            req.extend_from_slice(
                format!(
                    "PUT /b{i} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    v.len()
                )
                .as_bytes(),
            );
            req.extend_from_slice(&v);
            let mut h = history.lock().unwrap();
            h.push(Put {
                key: format!("b{i}"),
                seq: s,
                start: Instant::now(),
                acked: None,
            });
            idx.push(h.len() - 1);
        }
        c.send(&req);
        for k in idx {
            assert!(matches!(c.response().status, 201 | 204));
            history.lock().unwrap()[k].acked = Some(Instant::now());
        }
    }
}

/// Eight clients overwrite the keys of `fill` (and add keys of their own)
/// with self-checking values until `stop`, recording every write.
fn overwrite_load(
    addr: SocketAddr,
    keys: usize,
    seq: &Arc<AtomicU64>,
    history: &Arc<Mutex<Vec<Put>>>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..8u64)
        .map(|t| {
            let (seq, history, stop) = (seq.clone(), history.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                let mut rng = fastrand::Rng::with_seed(t);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    // old keys, hot keys (their segments are soon worth
                    // compacting) and new ones
                    let key = match n % 4 {
                        0 => format!("new-t{t}-{n}"),
                        1 | 2 => format!("hot{}", rng.usize(..200)),
                        _ => format!("b{}", rng.usize(..keys)),
                    };
                    let s = seq.fetch_add(1, Ordering::Relaxed);
                    let body = make_value(s, 1000);
                    let idx = {
                        let mut h = history.lock().unwrap();
                        h.push(Put {
                            key: key.clone(),
                            seq: s,
                            start: Instant::now(),
                            acked: None,
                        });
                        h.len() - 1
                    };
                    let status = raw_put(&mut c, &key, &body).expect("PUT during the backup");
                    assert!(matches!(status, 201 | 204), "PUT {key}: {status}");
                    history.lock().unwrap()[idx].acked = Some(Instant::now());
                }
            })
        })
        .collect()
}

/// The history as a backup begun at `at` must honour it: a write
/// acknowledged after that is one in flight (it may be there or not).
fn as_of(history: &[Put], at: Instant) -> Vec<Put> {
    history
        .iter()
        .map(|p| Put {
            acked: p.acked.filter(|&a| a < at),
            ..p.clone()
        })
        .collect()
}

/// GET /backup, its body read at about `rate` bytes a second (None: at once).
fn backup(m: SocketAddr, token: Option<&str>, rate: Option<usize>) -> (u16, Vec<u8>) {
    let a = agent();
    let mut req = a.get(format!("http://{m}/backup"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.call().expect("GET /backup");
    let status = resp.status().as_u16();
    if status == 200 {
        assert_eq!(
            resp.headers()["content-type"],
            "application/x-tar",
            "a backup is a tar"
        );
    }
    let mut r = resp.into_body().into_with_config().limit(u64::MAX).reader();
    let mut body = Vec::new();
    let began = Instant::now();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = r.read(&mut buf).expect("the backup's body, whole");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        if let Some(rate) = rate {
            let due = Duration::from_secs_f64(body.len() as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    (status, body)
}

/// The tar's entries: each a segment or a hint, a regular file of mode
/// 0644, at most once; unpacked into `into` (if given). Returns their names.
fn entries(tar: &[u8], into: Option<&Path>) -> Vec<String> {
    let mut names = Vec::new();
    let mut a = tar::Archive::new(tar);
    for e in a.entries().expect("a tar") {
        let mut e = e.expect("a tar entry");
        let name = e.path().unwrap().to_string_lossy().to_string();
        assert!(is_segment(&name) || is_hint(&name), "{name} in a backup");
        assert_eq!(e.header().entry_type(), tar::EntryType::Regular, "{name}");
        assert_eq!(e.header().mode().unwrap(), 0o644, "{name}");
        assert!(!names.contains(&name), "{name} twice");
        if let Some(dir) = into {
            assert!(e.unpack_in(dir).unwrap(), "{name}");
        }
        names.push(name);
    }
    // the archive ends with its two zero blocks, and nothing follows them
    assert!(
        tar.len() >= 1024 && tar.len().is_multiple_of(512),
        "{} bytes",
        tar.len()
    );
    assert!(
        tar[tar.len() - 1024..].iter().all(|&b| b == 0),
        "no end blocks"
    );
    names
}

fn segment_id(name: &str) -> u64 {
    name.split('.').next().unwrap().parse().unwrap()
}

#[test]
fn a_backup_under_writes_and_compaction_restores_every_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let seq = Arc::new(AtomicU64::new(1));
    let history = Arc::new(Mutex::new(Vec::new()));
    const KEYS: usize = 20_000;

    // a store of old segments with hints (sealed by a restart), as a
    // running volume has
    let (s, _) = start(&dir, &[]);
    fill(s.addr, KEYS, &seq, &history);
    s.stop();
    wait_unlocked(&dir);
    let (s, m) = start(&dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !files_in(&dir).iter().any(|f| is_hint(f)) {
        assert!(
            Instant::now() < deadline,
            "no hint written: {:?}",
            files_in(&dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let before: Vec<String> = files_in(&dir)
        .into_iter()
        .filter(|f| is_segment(f))
        .collect();

    // eight clients overwrite it all through the backup, so every old
    // segment becomes worth compacting while the backup needs it
    let stop = Arc::new(AtomicBool::new(false));
    let load = overwrite_load(s.addr, KEYS, &seq, &history, &stop);
    std::thread::sleep(Duration::from_millis(500));
    let began = Instant::now();
    let watch_stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (dir, watch_stop) = (dir.clone(), watch_stop.clone());
        std::thread::spawn(move || {
            // segments seen during the backup, and those of them removed
            let (mut seen, mut gone) = (BTreeSet::new(), BTreeSet::new());
            while !watch_stop.load(Ordering::Relaxed) {
                let now: BTreeSet<String> = files_in(&dir)
                    .into_iter()
                    .filter(|f| is_segment(f))
                    .collect();
                gone.extend(seen.difference(&now).cloned());
                seen.extend(now);
                std::thread::sleep(Duration::from_millis(20));
            }
            gone
        })
    };
    let (status, tar) = backup(m, None, Some(4 << 20));
    watch_stop.store(true, Ordering::Relaxed);
    let gone_during = watcher.join().unwrap();
    let took = began.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert_eq!(status, 200);

    let restored = tmp.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    let names = entries(&tar, Some(&restored));
    let held: Vec<&String> = names.iter().filter(|n| is_segment(n)).collect();
    assert!(
        names.iter().any(|n| is_hint(n)),
        "the hints are in it: {names:?}"
    );
    for old in &before {
        assert!(names.contains(old), "{old}, there when it began, not in it");
    }
    // compaction went on through it: segments made after the backup began
    // were removed before it ended (held ones may go too, once the server
    // has sent the end: the client reads it seconds later)
    let last_held = held.iter().map(|n| segment_id(n)).max().unwrap();
    assert!(
        gone_during.iter().any(|n| segment_id(n) > last_held),
        "compaction removed nothing during the backup ({took:?}): {gone_during:?}"
    );
    // once it is over, the held segments are compacted (all of their
    // records overwritten once more, whatever the load's pace was)
    fill(s.addr, KEYS, &seq, &history);
    let deadline = Instant::now() + Duration::from_secs(60);
    while files_in(&dir).contains(&before[0]) {
        assert!(
            Instant::now() < deadline,
            "{} still there after the backup",
            before[0]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    s.stop();

    // the restored store: every write acknowledged before the backup began,
    // no torn value, nothing taken for damage; and again after a kill -9
    let h = as_of(&history.lock().unwrap(), began);
    let log = tmp.path().join("restored.log");
    for round in 0..2 {
        let mut s = Server::start_logged(&restored, &ARGS, &log);
        let m = metrics_addr(&mut s);
        let (acked, keys) = check_history(&s, &h);
        assert!(
            acked >= KEYS && keys >= KEYS,
            "{acked} writes of {keys} keys"
        );
        assert_eq!(metric(m, "asmkv_damaged_records"), 0.0, "round {round}");
        // it takes writes, and the kill -9 leaves them in its own segments
        let a = agent();
        if round == 1 {
            assert_eq!(get(&a, &s.url("/after-restore-0")).body, b"x");
        }
        assert_eq!(
            put(&a, &s.url(&format!("/after-restore-{round}")), b"x").status,
            201
        );
        s.crash();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains("damaged"), "a restore read damage: {text}");
    }
}

#[test]
fn one_backup_at_a_time_behind_the_write_token() {
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    std::fs::write(&tokens, "sekrit\n").unwrap();
    let dir = tmp.path().join("data");
    let tf = tokens.to_str().unwrap();
    let (s, m) = start(&dir, &["--token-file", tf]);

    // an empty store is an empty archive
    assert_eq!(backup(m, None, None).0, 401, "no token");
    assert_eq!(backup(m, Some("wrong"), None).0, 401);
    let (status, tar) = backup(m, Some("sekrit"), None);
    assert_eq!(status, 200);
    assert!(entries(&tar, None).is_empty());
    assert_eq!(tar.len(), 1024, "two zero blocks");

    // 24 MiB: more than the sockets hold, so a backup nobody reads stays open
    let a = agent();
    let auth = ("Authorization", "Bearer sekrit");
    for i in 0..24 {
        let r = a
            .put(s.url(&format!("/v{i}")))
            .header(auth.0, auth.1)
            .send(&pattern(1 << 20, i)[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let mut stalled = Raw::connect(m);
    stalled.send(b"GET /backup HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer sekrit\r\n\r\n");
    let mut first = [0u8; 12];
    stalled.stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let w = raw_once(
        m,
        b"GET /backup HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer sekrit\r\n\r\n",
    );
    assert_eq!(w.status, 503, "a second backup while one runs");
    assert_eq!(w.header("retry-after").as_deref(), Some("1"));
    drop(stalled); // the first is over once its connection is

    // HTTP/1.0 ends a body with the connection, which would not tell a
    // cut archive from a whole one: refused
    let w = raw_once(
        m,
        b"GET /backup HTTP/1.0\r\nAuthorization: Bearer sekrit\r\n\r\n",
    );
    assert_eq!(w.status, 505);
    // the first is over once its connection is
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = backup(m, Some("sekrit"), None);
        if status == 503 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        assert_eq!(status, 200);
        break body;
    };
    let names = entries(&body, None);
    assert!(names.iter().any(|n| is_segment(n)), "{names:?}");

    // only GET
    for req in [
        &b"HEAD /backup HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer sekrit\r\n\r\n"[..],
        b"PUT /backup HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    ] {
        let mut c = Raw::connect(m);
        c.send(req);
        assert_eq!(c.response_to(req.starts_with(b"HEAD")).unwrap().status, 405);
    }
    s.stop();
}

#[test]
fn with_read_tokens_alone_a_backup_needs_one() {
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("readers");
    std::fs::write(&tokens, "reader\n").unwrap();
    let (s, m) = start(
        &tmp.path().join("data"),
        &["--read-token-file", tokens.to_str().unwrap()],
    );
    assert_eq!(backup(m, None, None).0, 401);
    let (status, tar) = backup(m, Some("reader"), None);
    assert_eq!(status, 200);
    assert!(entries(&tar, None).is_empty());
    s.stop();
}

#[test]
fn a_backup_whose_worker_is_killed_holds_nothing_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--workers", "1", "--metrics", "127.0.0.1:0"];
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    let a = agent();
    for i in 0..24 {
        assert_eq!(
            put(&a, &s.url(&format!("/v{i}")), &pattern(1 << 20, i)).status,
            201
        );
    }
    // a backup nobody reads holds the segment...
    let mut stalled = Raw::connect(m);
    stalled.send(b"GET /backup HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut first = [0u8; 12];
    stalled.stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let old: Vec<String> = files_in(&dir)
        .into_iter()
        .filter(|f| is_segment(f))
        .collect();
    assert_eq!(old.len(), 1, "{old:?}");
    for i in 0..24 {
        assert_eq!(delete(&a, &s.url(&format!("/v{i}"))).status, 204);
    }
    // ...through compaction rounds that would remove it (all of it is dead)
    std::thread::sleep(Duration::from_secs(4));
    assert!(files_in(&dir).contains(&old[0]), "removed under a backup");
    // the worker that serves it is killed: the hold goes with it
    let w = s.workers()[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(w),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while files_in(&dir).contains(&old[0]) {
        assert!(
            Instant::now() < deadline,
            "{} kept after its backup died",
            old[0]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // and a new backup can begin
    let (status, tar) = backup(m, None, None);
    assert_eq!(status, 200);
    entries(&tar, None);
    s.stop();
}

/// A reader that stops part-way holds back only the segments it has not
/// been sent: a segment sent already is compacted away while the backup
/// stalls, the one it stalls in is not, until its connection ends.
#[test]
fn a_stalled_backup_holds_only_what_it_has_not_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--workers", "1", "--metrics", "127.0.0.1:0"];
    let a = agent();
    let mut sessions = Vec::new();
    for (prefix, n) in [("v", 12), ("w", 24)] {
        let s = Server::start_in(&dir, &args);
        for i in 0..n {
            let url = s.url(&format!("/{prefix}{i}"));
            assert_eq!(put(&a, &url, &pattern(1 << 20, i)).status, 201);
        }
        s.stop();
        wait_unlocked(&dir);
        sessions.push(
            files_in(&dir)
                .into_iter()
                .filter(|f| is_segment(f))
                .collect::<Vec<_>>(),
        );
    }
    let (first, second) = (sessions[0][0].clone(), sessions[1][1].clone());
    let mut s = Server::start_in(&dir, &args);
    let m = metrics_addr(&mut s);
    // read the first segment (its file, with the zeros written ahead of its
    // records, and its hint) and a little more, then stop
    let size = |f: &str| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len() as usize);
    let sent = size(&first) + size(&first.replace(".seg", ".hint")) + (1 << 20);
    let mut stalled = Raw::connect(m);
    stalled.send(b"GET /backup HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut part = vec![0u8; sent];
    stalled.stream.read_exact(&mut part).unwrap();
    assert!(part.starts_with(b"HTTP/1.1 200"));
    for (prefix, n) in [("v", 12), ("w", 24)] {
        for i in 0..n {
            assert_eq!(delete(&a, &s.url(&format!("/{prefix}{i}"))).status, 204);
        }
    }
    // both are dead now: the one sent goes, the one being sent stays
    let deadline = Instant::now() + Duration::from_secs(30);
    while files_in(&dir).contains(&first) {
        assert!(
            Instant::now() < deadline,
            "{first}, sent, kept by the backup"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        files_in(&dir).contains(&second),
        "{second} removed while being sent"
    );
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(30);
    while files_in(&dir).contains(&second) {
        assert!(
            Instant::now() < deadline,
            "{second} kept after the backup ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.stop();
}
