//! The log-structured store: recovery from torn and corrupted segments,
//! create-only races across restarts, writes seen by the very next request on
//! any worker, compaction under load and under kill -9, the import of the old
//! one-file-per-key layout, and data directories it must not trust.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

fn start_log(data: &Path, workers: &str) -> Server {
    Server::start_in(data, &["--workers", workers])
}

/// Copies a data directory's segments (not their hints: these tests damage
/// a segment, and a hint would spare recovery from reading it).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in files_in(from).into_iter().filter(|n| !is_hint(n)) {
        std::fs::copy(from.join(&name), to.join(&name)).unwrap();
    }
}

fn chunked_put(s: &Server, key: &str, body: &[u8]) -> u16 {
    let mut req = format!("PUT /{key} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .into_bytes();
    for part in body.chunks(7000) {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let mut c = Raw::connect(s.addr);
    c.send(&req);
    c.response().status
}

/// Writes of every kind (small and streamed, Content-Length and chunked,
/// overwrites and deletes) read back after a restart, as the server and as an
/// independent reader of the segments see them; and a write after the restart
/// wins over the ones before it.
#[test]
fn a_restart_reads_back_every_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = start_log(&data, "2");
    let a = agent();
    let mut model: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for i in 0..300u64 {
        let key = format!("k{}", i % 50);
        let url = s.url(&format!("/{key}"));
        if i % 7 == 6 {
            let st = delete(&a, &url).status;
            let had = model.get(&key).is_some_and(|v| v.is_some());
            assert_eq!(st, if had { 204 } else { 404 }, "{key}");
            model.insert(key, None);
            continue;
        }
        let len = [0, 1, 64, 4000, 5000, 70_000, 300_000][(i % 7) as usize];
        let v = pattern(len, i);
        let st = if i % 5 == 0 {
            chunked_put(&s, &key, &v)
        } else {
            put(&a, &url, &v).status
        };
        let had = model.get(&key).is_some_and(|v| v.is_some());
        assert_eq!(st, if had { 204 } else { 201 }, "{key}");
        model.insert(key, Some(v));
    }
    assert!(s.stop().success());
    let expected: BTreeMap<String, Vec<u8>> = model
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    assert_eq!(read_log(&data).values, expected, "the segments on disk");
    let s = start_log(&data, "2");
    let a = agent();
    for (key, v) in &model {
        let r = get(&a, &s.url(&format!("/{key}")));
        match v {
            Some(v) => assert_eq!(&r.body, v, "{key}"),
            None => assert_eq!(r.status, 404, "{key}"),
        }
    }
    let key = model.keys().next().unwrap().clone();
    assert_eq!(
        put(&a, &s.url(&format!("/{key}")), b"after").status == 201,
        model[&key].is_none()
    );
    assert!(s.stop().success());
    let s = start_log(&data, "2");
    assert_eq!(get(&agent(), &s.url(&format!("/{key}"))).body, b"after");
}

/// Makes a store whose newest record is `last = NEW` over `last = old`, with
/// other keys around it; returns it stopped, and that record.
fn store_with_a_last_record(data: &Path) -> Record {
    let s = start_log(data, "1");
    let a = agent();
    for i in 0..5 {
        assert_eq!(
            put(&a, &s.url(&format!("/k{i}")), &pattern(100, i)).status,
            201
        );
    }
    assert_eq!(put(&a, &s.url("/last"), b"old").status, 201);
    assert_eq!(put(&a, &s.url("/last"), &pattern(90, 99)).status, 204);
    assert!(s.stop().success());
    files_in(data)
        .iter()
        .filter(|n| is_segment(n))
        .flat_map(|n| segment_records(data, n))
        .max_by_key(|r| r.seq)
        .unwrap()
}

/// The state before the last record: what recovery must give when that
/// record did not fully reach the disk.
fn assert_state_before_last(data: &Path, what: &str) {
    let s = start_log(data, "1");
    let a = agent();
    assert_eq!(get(&a, &s.url("/last")).body, b"old", "{what}");
    for i in 0..5 {
        assert_eq!(
            get(&a, &s.url(&format!("/k{i}"))).body,
            pattern(100, i),
            "{what}"
        );
    }
    // and the store goes on: a new write lands and reads back
    assert_eq!(put(&a, &s.url("/next"), b"n").status, 201, "{what}");
    assert_eq!(get(&a, &s.url("/next")).body, b"n", "{what}");
}

/// A crash in the middle of appending the last record: the segment ends at
/// every byte offset of it (or the rest of it is zeros, as in the space
/// written ahead). Recovery gives exactly the state before that record; with
/// all of its bytes, the record counts.
#[test]
fn a_torn_last_record_recovers_the_state_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let last = store_with_a_last_record(&data);
    for cut in last.offset..last.offset + last.len {
        for zeros in [false, true] {
            let copy = tmp.path().join(format!("cut-{cut}-{zeros}"));
            copy_dir(&data, &copy);
            let seg = copy.join(&last.segment);
            let mut bytes = std::fs::read(&seg).unwrap();
            if zeros {
                bytes[cut..last.offset + last.len].fill(0);
            } else {
                bytes.truncate(cut);
            }
            std::fs::write(&seg, &bytes).unwrap();
            assert_state_before_last(&copy, &format!("cut at {cut}, zeros {zeros}"));
            std::fs::remove_dir_all(&copy).unwrap();
        }
    }
    let s = start_log(&data, "1");
    assert_eq!(get(&agent(), &s.url("/last")).body, pattern(90, 99));
}

/// One flipped byte anywhere in the last record (header, key, value, padding
/// or footer) and the record is not believed: the state before it.
#[test]
fn a_flipped_byte_in_the_last_record_is_never_believed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let last = store_with_a_last_record(&data);
    let value_end = last.offset + 32 + "last".len() + 90;
    for at in last.offset..last.offset + last.len {
        if (value_end..last.offset + last.len - 16).contains(&at) {
            continue; // padding: no part of the record's meaning
        }
        let copy = tmp.path().join(format!("flip-{at}"));
        copy_dir(&data, &copy);
        let seg = copy.join(&last.segment);
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[at] ^= 0x20;
        std::fs::write(&seg, &bytes).unwrap();
        assert_state_before_last(&copy, &format!("byte {at} flipped"));
        std::fs::remove_dir_all(&copy).unwrap();
    }
}

/// Of 16 clients racing to create one key, exactly one wins, and after a
/// restart it is still the winner's value: the losers' records never count.
#[test]
fn create_only_losers_never_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for round in 0..5u8 {
        let s = start_log(&data, "2");
        let key = format!("/lock{round}");
        let racers: Vec<_> = (0..16u8)
            .map(|i| {
                let url = s.url(&key);
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
        let winners: Vec<u8> = results.iter().filter(|r| r.1 == 201).map(|r| r.0).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert!(
            results.iter().all(|r| r.1 == 201 || r.1 == 412),
            "{results:?}"
        );
        assert!(s.stop().success());
        assert_eq!(
            read_log(&data).values[&key[1..]],
            vec![winners[0]; 100],
            "on disk"
        );
        let s = start_log(&data, "2");
        assert_eq!(get(&agent(), &s.url(&key)).body, vec![winners[0]; 100]);
    }
}

/// The index is shared: a write acknowledged on one connection is what the
/// very next request sees on a new connection, whichever worker takes it.
#[test]
fn a_write_is_visible_to_the_next_request_on_any_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_log(&tmp.path().join("data"), "2");
    for i in 0..300u64 {
        let url = s.url(&format!("/rw{}", i % 10));
        let v = pattern(10 + (i as usize % 3) * 3000, i);
        let st = put(&agent(), &url, &v).status;
        assert!(st == 201 || st == 204);
        assert_eq!(get(&agent(), &url).body, v, "write {i}");
        if i % 10 == 9 {
            assert_eq!(delete(&agent(), &url).status, 204);
            assert_eq!(get(&agent(), &url).status, 404);
        }
    }
}

fn disk_use(data: &Path) -> u64 {
    files_in(data)
        .iter()
        .map(|n| {
            std::fs::metadata(data.join(n))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

/// A sustained overwrite load, with readers checking every value they get:
/// compaction runs under it, and once it stops disk use settles to at most
/// twice the live data; every value reads back, before and after a restart.
#[test]
fn overwrites_are_compacted_and_disk_use_settles() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = start_log(&data, "2");
    const KEYS: u64 = 200;
    const LEN: usize = 3000;
    // each value names its key and round, so a reader can tell a right one
    let value = |k: u64, round: u64| {
        let mut v = pattern(LEN, k * 1_000_000 + round);
        v[..16].copy_from_slice(&k.to_le_bytes().repeat(2));
        v
    };
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (addr, stop) = (s.addr, stop.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let k = (n * 7 + r) % KEYS;
                    let got = get(&a, &format!("http://{addr}/hot{k}"));
                    if got.status == 404 {
                        continue;
                    }
                    assert_eq!(got.status, 200);
                    assert_eq!(got.body.len(), LEN, "key {k}");
                    assert_eq!(&got.body[..8], &k.to_le_bytes(), "key {k}");
                }
                n
            })
        })
        .collect();
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let addr = s.addr;
            std::thread::spawn(move || {
                let a = agent();
                for round in 0..60u64 {
                    for k in (w..KEYS).step_by(4) {
                        let st = put(&a, &format!("http://{addr}/hot{k}"), &value(k, round)).status;
                        assert!(st == 201 || st == 204, "{st}");
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    let written = KEYS * 60 * (LEN as u64 + 64);
    let live = KEYS * (LEN as u64 + 64);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while disk_use(&data) > 2 * live && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let used = disk_use(&data);
    eprintln!("wrote {written} bytes of records, {live} live, {used} on disk");
    assert!(used <= 2 * live, "{used} bytes on disk for {live} live");
    let a = agent();
    for k in 0..KEYS {
        assert_eq!(get(&a, &s.url(&format!("/hot{k}"))).body, value(k, 59));
    }
    assert!(s.stop().success());
    let s = start_log(&data, "2");
    let a = agent();
    for k in 0..KEYS {
        assert_eq!(get(&a, &s.url(&format!("/hot{k}"))).body, value(k, 59));
    }
}

/// A GET of a 100 MiB value that started before its segment was compacted
/// away returns the whole old value.
#[test]
fn a_get_under_way_survives_the_compaction_of_its_segment() {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = start_log(&data, "1");
    let a = agent();
    let big = pattern(100 << 20, 5);
    assert_eq!(put(&a, &s.url("/big"), &big).status, 201);
    let segments_before: Vec<String> = files_in(&data);
    let mut c = Raw::connect(s.addr);
    c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut first = vec![0u8; 1 << 20];
    c.stream.read_exact(&mut first).unwrap();
    // the value is replaced; its segment is now all dead and gets compacted
    assert_eq!(put(&a, &s.url("/big"), b"small").status, 204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while files_in(&data).iter().any(|n| {
        segments_before.contains(n) && {
            std::fs::metadata(data.join(n))
                .map(|m| m.len() > 50 << 20)
                .unwrap_or(false)
        }
    }) && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        disk_use(&data) < 50 << 20,
        "the old value's segment was not compacted: {:?}",
        files_in(&data)
    );
    let mut rest = Vec::new();
    c.stream.read_to_end(&mut rest).unwrap_or(0);
    first.extend_from_slice(&rest);
    let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let body = &first[head_end..];
    assert_eq!(body.len(), big.len());
    assert!(body == &big[..], "the old value, whole");
    assert_eq!(get(&a, &s.url("/big")).body, b"small");
}

/// kill -9 of the compactor at random moments while it compacts, then of the
/// whole server: after a restart every key has its last acknowledged value.
#[test]
fn compaction_killed_at_any_moment_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = start_log(&data, "2");
    let a = agent();
    let mut last = BTreeMap::new();
    let mut kills = 0;
    for round in 0..8u64 {
        for k in 0..300u64 {
            let v = pattern(2000 + (k as usize % 5) * 100, round * 1000 + k);
            let st = put(&a, &s.url(&format!("/k{k}")), &v).status;
            assert!(st == 201 || st == 204);
            last.insert(k, v);
            if k % 60 == 59 {
                if let Some(c) = s.compactor() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(c),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    kills += 1;
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300 + round * 150));
    }
    assert!(kills > 0);
    for (k, v) in &last {
        assert_eq!(
            &get(&a, &s.url(&format!("/k{k}"))).body,
            v,
            "k{k} before the crash"
        );
    }
    s.crash();
    let s = start_log(&data, "2");
    let a = agent();
    for (k, v) in &last {
        assert_eq!(&get(&a, &s.url(&format!("/k{k}"))).body, v, "k{k}");
    }
}

/// A data directory of the one-file-per-key layout (as earlier versions wrote
/// it) is imported at the first start: every key with its value, then the old
/// files are gone; the values stay after a restart.
#[test]
fn the_one_file_per_key_layout_is_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let big = pattern(3 << 20, 3);
    let old: Vec<(&str, &str, Vec<u8>)> = vec![
        ("a%20b", "/a%20b", b"space".to_vec()),
        ("dir%2Ffile", "/dir/file", b"slash".to_vec()),
        ("%2Ehidden", "/.hidden", b"dot".to_vec()),
        ("empty", "/empty", Vec::new()),
        ("big", "/big", big.clone()),
    ];
    for (file, _, v) in &old {
        std::fs::write(data.join(file), v).unwrap();
    }
    std::fs::write(data.join(".tmp-4242-1"), b"an upload a crash cut short").unwrap();
    for round in 0..2 {
        let s = start_log(&data, "2");
        let a = agent();
        for (_, path, v) in &old {
            let r = get(&a, &s.url(path));
            assert_eq!(r.status, 200, "{path} (start {round})");
            assert_eq!(&r.body, v, "{path} (start {round})");
        }
        assert!(
            files_in(&data).iter().all(|n| is_segment(n) || is_hint(n)),
            "{:?}",
            files_in(&data)
        );
        assert!(s.stop().success());
    }
    let s = start_log(&data, "2");
    assert_eq!(put(&agent(), &s.url("/big"), b"new").status, 204);
}

/// What it cannot trust stops the server at startup with one clear line and
/// exit status 2, and it changes nothing in the directory: a foreign file, a
/// segment written by a newer format, a segment it cannot read.
#[test]
fn a_data_directory_it_cannot_trust_stops_it_untouched() {
    fn snapshot(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
        files_in(dir)
            .into_iter()
            .map(|n| {
                let content = std::fs::read(dir.join(&n)).ok();
                (n, content)
            })
            .collect()
    }
    let cases: [(&str, &str); 5] = [
        ("subdir", "not asmkv's (move it away): subdir"),
        ("has space", "not asmkv's (move it away): has space"),
        ("%41", "not asmkv's (move it away): %41"),
        (
            "99.seg",
            "newer format than this asmkv reads (upgrade asmkv): 99.seg",
        ),
        ("98.seg", "cannot read segment: 98.seg: is a directory"),
    ];
    for (name, message) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let s = start_log(&data, "1");
        assert_eq!(put(&agent(), &s.url("/kept"), b"value").status, 201);
        assert!(s.stop().success());
        let path = data.join(name);
        match name {
            "subdir" | "98.seg" => std::fs::create_dir(&path).unwrap(),
            "99.seg" => {
                let mut v = b"AKV3".to_vec();
                v.extend_from_slice(&pattern(200, 1));
                std::fs::write(&path, v).unwrap()
            }
            _ => std::fs::write(&path, b"?").unwrap(),
        }
        let before = snapshot(&data);
        let out = std::process::Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        log_line(err.trim_end());
        assert!(err.contains(message), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}: it listened");
        assert_eq!(snapshot(&data), before, "{name}: the directory changed");
    }
}

/// The shared index under worker death: workers are killed with kill -9 in a
/// loop while clients write and read the same keys. No request hangs (each
/// has a deadline), reads are never torn, and after the last kill every key
/// holds its last acknowledged value (or a later one).
#[test]
fn workers_killed_in_a_loop_leave_the_index_whole() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let s = start_log(&tmp.path().join("data"), "2");
    let addr = s.addr;
    let seq = Arc::new(AtomicU64::new(1));
    let history: Arc<Mutex<Vec<Put>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let (seq, history, stop) = (seq.clone(), history.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut c) = std::net::TcpStream::connect(addr) else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let key = format!("k{}", (n * 7 + t) % 20);
                        let sq = seq.fetch_add(1, Ordering::Relaxed);
                        let idx = {
                            let mut h = history.lock().unwrap();
                            h.push(Put {
                                key: key.clone(),
                                seq: sq,
                                start: Instant::now(),
                                acked: None,
                            });
                            h.len() - 1
                        };
                        match raw_put(&mut c, &key, &make_value(sq, 100 + (sq as usize % 3000))) {
                            Ok(201) | Ok(204) => {
                                history.lock().unwrap()[idx].acked = Some(Instant::now())
                            }
                            Ok(other) => panic!("PUT {key}: {other}"),
                            Err(e) => {
                                // its worker was killed: this write is in flight
                                assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "a hang");
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2u64)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let a = agent();
                let mut n = 0u64;
                let mut ok = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let url = format!("http://{addr}/k{}", (n + t) % 20);
                    let started = Instant::now();
                    let r = a.get(&url).call();
                    assert!(started.elapsed() < Duration::from_secs(10), "a GET hung");
                    if let Ok(mut r) = r {
                        let body = r.body_mut().read_to_vec().unwrap_or_default();
                        if r.status() == 200 && body.len() > 24 {
                            assert!(parse_value(&body).is_some(), "a torn value");
                            ok += 1;
                        }
                    }
                }
                ok
            })
        })
        .collect();
    let mut kills = 0;
    for round in 0..12u64 {
        std::thread::sleep(Duration::from_millis(120 + round * 10));
        let workers = s.workers();
        if let Some(&w) = workers.get((round % 2) as usize) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(w),
                nix::sys::signal::Signal::SIGKILL,
            );
            kills += 1;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(kills >= 10 && reads > 0, "{kills} kills, {reads} reads");
    let history = history.lock().unwrap();
    let (acked, _) = check_history(&s, &history);
    assert!(acked > 100, "{acked} acknowledged writes");
}

/// A segment no one writes to any more gets a hint file (its keys, places and
/// sequence numbers), which a restart reads instead of the segment; a hint
/// that does not check out is ignored and the segment read instead.
#[test]
fn hints_stand_in_for_sealed_segments_and_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // an imported segment is sealed at once
    for i in 0..300 {
        std::fs::write(data.join(format!("key{i}")), pattern(50 + i, i as u64)).unwrap();
    }
    let s = start_log(&data, "2");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !files_in(&data).iter().any(|n| is_hint(n)) {
        assert!(std::time::Instant::now() < deadline, "no hint written");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(delete(&agent(), &s.url("/key7")).status, 204);
    assert!(s.stop().success());
    let hint = files_in(&data).into_iter().find(|n| is_hint(n)).unwrap();
    let check = |what: &str| {
        forget_image(&data); // the hints, not the index's image
        let s = start_log(&data, "2");
        let a = agent();
        for i in 0..300 {
            let r = get(&a, &s.url(&format!("/key{i}")));
            if i == 7 {
                assert_eq!(r.status, 404, "{what}");
            } else {
                assert_eq!(r.body, pattern(50 + i, i as u64), "key{i}, {what}");
            }
        }
        assert!(s.stop().success());
    };
    check("with the hint");
    let mut bytes = std::fs::read(data.join(&hint)).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(data.join(&hint), &bytes).unwrap();
    check("with a damaged hint");
    bytes.truncate(at);
    std::fs::write(data.join(&hint), &bytes).unwrap();
    check("with a cut hint");
}

/// Startup fills the index in one loader process per worker at once, each
/// taking its share of the segments. With hundreds of segments (more than
/// one read of the directory returns) and 32 loaders, every key is found,
/// with the value it was last given, and so it is with 2 loaders.
#[test]
fn many_loaders_read_hundreds_of_segments() {
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut expect = BTreeMap::new();
    for round in 0..32u32 {
        // each worker appends to a segment of its own: 32 workers, many
        // connections, a new segment each for every worker that got one
        let s = Server::start_in(&data, &["--workers", "32", "--sync", "none"]);
        let base = Arc::new(s.url(""));
        let writers: Vec<_> = (0..48u32)
            .map(|c| {
                let base = base.clone();
                std::thread::spawn(move || {
                    let mut raw = Raw::connect(base.trim_start_matches("http://").parse().unwrap());
                    let mut put = Vec::new();
                    for i in 0..40u32 {
                        let k = format!("r{round}-c{c}-{i}");
                        let v = format!("{k} {}", round * 1000 + i);
                        raw.send(
                            format!("PUT /{k} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{v}", v.len())
                                .as_bytes(),
                        );
                        assert_eq!(raw.response().status, 201);
                        // and an overwrite of one written a round before
                        if round > 0 && i % 8 == 0 {
                            let old = format!("r{}-c{c}-{i}", round - 1);
                            let v = format!("{old} again {round}");
                            raw.send(
                                format!("PUT /{old} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{v}", v.len())
                                    .as_bytes(),
                            );
                            assert_eq!(raw.response().status, 204);
                            put.push((old, v));
                        }
                        put.push((k, v));
                    }
                    put
                })
            })
            .collect();
        for w in writers {
            expect.extend(w.join().unwrap());
        }
        assert!(s.stop().success());
        wait_unlocked(&data);
    }
    let segments = files_in(&data)
        .into_iter()
        .filter(|n| is_segment(n))
        .count();
    assert!(
        files_in(&data).len() > 130,
        "{segments} segments, {} files: too few to need more than one read of the directory",
        files_in(&data).len()
    );
    for workers in ["32", "2"] {
        forget_image(&data); // the segments themselves, not the index's image
        let s = Server::start_in(&data, &["--workers", workers]);
        let a = agent();
        for (k, v) in &expect {
            let r = get(&a, &s.url(&format!("/{k}")));
            assert_eq!(r.status, 200, "{workers} loaders: {k}");
            assert_eq!(r.body, v.as_bytes(), "{workers} loaders: {k}");
        }
        assert!(s.stop().success());
        wait_unlocked(&data);
    }
    eprintln!("{segments} segments, {} keys", expect.len());
}

/// Loaders that fail at once (every segment in a newer format) say why in
/// one line among them, and the server exits 2 only once they are all gone:
/// the data directory's lock is free the moment it has exited.
#[test]
fn loaders_failing_at_once_say_why_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for id in 1..=40 {
        let mut v = b"AKV3".to_vec();
        v.extend_from_slice(&pattern(200, id));
        std::fs::write(data.join(format!("{id}.seg")), v).unwrap();
    }
    for round in 0..20 {
        let out = std::process::Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--workers", "16", "--data"])
            .arg(&data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "round {round}: {err}");
        assert_eq!(err.lines().count(), 1, "round {round}: {err}");
        assert!(
            err.contains("newer format than this asmkv reads"),
            "round {round}: {err}"
        );
        // nothing of it is left holding the lock
        let dir = std::fs::File::open(&data).unwrap();
        nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .unwrap_or_else(|_| panic!("round {round}: the data directory is still locked"));
    }
}
