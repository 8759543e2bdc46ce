//! The order of flushes behind the durability promise, observed with strace on
//! the real server: a write's record is flushed before its 2xx; and a full
//! disk answers 507, keeps every value, and gets its room back by compaction.
mod common;
use common::*;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::thread;

/// Runs the server under `strace -f` (tracing `calls`) while 8 clients make
/// 200 durable writes and some deletes, then stops it. Returns the trace and
/// the number of deletes answered 204.
fn traced_writes(calls: &str) -> (String, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let trace = tmp.path().join("trace");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-s", "64", "-e"])
        .arg(calls)
        .arg("-o")
        .arg(&trace)
        .args([BIN, "--listen", "127.0.0.1:0", "--workers", "2"])
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("strace is needed for this test (apt-get install strace)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit('/').next().unwrap().to_string();

    let writers: Vec<_> = (0..8)
        .map(|t| {
            let addr = addr.clone();
            thread::spawn(move || {
                let a = agent();
                let mut deleted = 0;
                for i in 0..25 {
                    let url = format!("http://{addr}/k{}", (t * 25 + i) % 60);
                    let st = put(&a, &url, &pattern(5000, i)).status;
                    assert!(st == 201 || st == 204);
                    if i % 5 == 4 {
                        let st = delete(&a, &url).status;
                        assert!(st == 204 || st == 404, "{st}");
                        deleted += usize::from(st == 204);
                    }
                }
                deleted
            })
        })
        .collect();
    let deleted: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    // stop the server itself (strace's child); strace ends with it
    let master = children_of(child.id() as i32);
    assert_eq!(master.len(), 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(master[0]),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(20)).expect("stop");
    assert!(status.success());
    assert!(deleted > 0);
    (std::fs::read_to_string(&trace).unwrap(), deleted)
}

/// For every 2xx to a PUT or DELETE, the last write of its record (the one
/// that sealed it) was followed by an fdatasync of the same segment that
/// started after that write and finished before the answer began to go out;
/// and writes share flushes (group commit).
#[test]
fn every_write_is_answered_only_after_its_record_is_flushed() {
    if !need(
        "every_write_is_answered_only_after_its_record_is_flushed",
        "strace",
        "strace",
    ) {
        return;
    }
    let (text, deleted) =
        traced_writes("trace=accept4,read,pwrite64,fdatasync,sendto,clone,close,openat");
    let check = check_flush_order(&text);
    assert_eq!(check.answers, 200, "every acknowledged PUT was checked");
    assert_eq!(
        check.deletes, deleted,
        "every acknowledged DELETE was checked"
    );
    eprintln!(
        "{} acknowledged writes, {} deletes, {} flushes",
        check.answers, check.deletes, check.flushes
    );
    assert!(
        check.flushes < check.answers,
        "{} flushes for {} writes",
        check.flushes,
        check.answers
    );
}

/// Replays an `strace -f` log of the server. A worker's event loop
/// handles one socket at a time, so a `pwrite64` belongs to the socket the
/// thread read from last; the last one before the answer sealed the record.
fn check_flush_order(text: &str) -> FlushOrder {
    let mut group: HashMap<String, String> = HashMap::new(); // thread -> its process
    let mut pending: HashMap<String, (usize, String)> = HashMap::new();
    let mut sockets: HashSet<(String, String)> = HashSet::new(); // accepted, per process
    let mut current: HashMap<String, String> = HashMap::new(); // thread -> socket it read last
    let mut method: HashMap<(String, String), String> = HashMap::new();
    let mut sealed: HashMap<(String, String), (usize, String)> = HashMap::new(); // socket -> (done at, fd)
    let mut flushes: Vec<(String, String, usize, usize)> = Vec::new(); // (process, fd, start, end)
    let mut images: HashSet<(String, String)> = HashSet::new(); // the index's image (a clean stop)
    let (mut answers, mut deletes) = (0, 0);
    let quoted = |l: &str, n: usize| l.split('"').nth(n).unwrap_or("").to_string();
    let first_arg = |l: &str| {
        let inner = &l[l.find('(').unwrap() + 1..];
        inner.split([',', ')']).next().unwrap().trim().to_string()
    };
    for (at, raw) in text.lines().enumerate() {
        let Some((tid, rest)) = raw.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let tid = tid.to_string();
        let g = group.get(&tid).cloned().unwrap_or_else(|| tid.clone());
        let (started, call) = if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((start, head)) = pending.remove(&tid) else {
                continue;
            };
            let tail = resumed.split_once("resumed>").map(|x| x.1).unwrap_or("");
            (start, format!("{head}{tail}"))
        } else if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            if head.starts_with("sendto(") && is_2xx(head) {
                let delete = log_answer(&method, &mut sealed, &flushes, &g, head, at);
                *(if delete { &mut deletes } else { &mut answers }) += 1;
            }
            pending.insert(tid, (at, head.to_string()));
            continue;
        } else {
            (at, rest.to_string())
        };
        let ret = call.rsplit("= ").next().unwrap_or("").trim().to_string();
        if call.starts_with("clone(") && call.contains("CLONE_THREAD") {
            group.insert(ret, g.clone());
        } else if call.starts_with("accept4(") && !ret.starts_with('-') {
            sockets.insert((g.clone(), ret));
        } else if call.starts_with("close(") {
            sockets.remove(&(g.clone(), first_arg(&call)));
        } else if call.starts_with("read(") && sockets.contains(&(g.clone(), first_arg(&call))) {
            let socket = first_arg(&call);
            let text = quoted(&call, 1);
            if let Some(m) = ["PUT", "DELETE", "GET"]
                .iter()
                .find(|m| text.starts_with(&format!("{m} /")))
            {
                method.insert((g.clone(), socket.clone()), m.to_string());
            }
            current.insert(tid.clone(), socket);
        } else if call.starts_with("openat(") && call.contains("\".tmp-index\"") {
            images.insert((g.clone(), ret));
        } else if call.starts_with("pwrite64(") && images.contains(&(g.clone(), first_arg(&call))) {
            // the master saving the index at the stop: no request's
        } else if call.starts_with("pwrite64(") {
            assert!(!ret.starts_with('-'), "{call}");
            let socket = current
                .get(&tid)
                .unwrap_or_else(|| panic!("a write outside any request: {raw}"));
            sealed.insert((g.clone(), socket.clone()), (at, first_arg(&call)));
        } else if call.starts_with("fdatasync(") {
            assert!(call.trim_end().ends_with("= 0"), "{call}");
            flushes.push((g.clone(), first_arg(&call), started, at));
        } else if call.starts_with("sendto(") && started == at && is_2xx(&call) {
            let delete = log_answer(&method, &mut sealed, &flushes, &g, &call, at);
            *(if delete { &mut deletes } else { &mut answers }) += 1;
        }
    }
    FlushOrder {
        answers,
        deletes,
        flushes: flushes.len(),
    }
}

struct FlushOrder {
    answers: usize,
    deletes: usize,
    flushes: usize,
}

type Socket = (String, String); // (process, fd)

/// Checks one 2xx answer (see check_flush_order).
/// Returns whether it answered a DELETE.
fn log_answer(
    method: &HashMap<Socket, String>,
    sealed: &mut HashMap<Socket, (usize, String)>,
    flushes: &[(String, String, usize, usize)],
    g: &str,
    call: &str,
    at: usize,
) -> bool {
    let inner = &call[call.find('(').unwrap() + 1..];
    let key = (
        g.to_string(),
        inner.split(',').next().unwrap().trim().to_string(),
    );
    let (done, fd) = sealed
        .remove(&key)
        .unwrap_or_else(|| panic!("an answer without its record: {call}"));
    assert!(
        flushes
            .iter()
            .any(|(p, f, start, end)| p == g && *f == fd && *start > done && *end < at),
        "answered before its record's segment was flushed: {call}"
    );
    method.get(&key).map(String::as_str) == Some("DELETE")
}

fn is_2xx(call: &str) -> bool {
    call.contains("\"HTTP/1.1 201") || call.contains("\"HTTP/1.1 204")
}

/// Mounts a small tmpfs for a data directory; None (and the test is skipped
/// with a message) where this process may not mount.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            skip("a small disk", "cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn disk_full_answers_507_and_keeps_the_old_value() {
    let Some(disk) = SmallDisk::mount("1m") else {
        return;
    };
    let data = disk.dir.path().join("data");
    let s = Server::start_in(&data, &[]);
    let a = agent();
    let first = pattern(600_000, 1);
    assert_eq!(put(&a, &s.url("/first"), &first).status, 201);
    // no room for a second value, nor for a new version of the first
    assert_eq!(put(&a, &s.url("/second"), &pattern(600_000, 2)).status, 507);
    assert_eq!(put(&a, &s.url("/first"), &pattern(600_000, 3)).status, 507);
    assert_eq!(get(&a, &s.url("/first")).body, first);
    assert_eq!(get(&a, &s.url("/second")).status, 404);
    assert_eq!(
        stored_names(&data),
        vec!["first".to_string()],
        "no temporary file left"
    );
    // room again: once the deleted value's segment is compacted away
    assert_eq!(delete(&a, &s.url("/first")).status, 204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let second = pattern(600_000, 2);
    loop {
        let st = put(&a, &s.url("/second"), &second).status;
        if st == 201 {
            break;
        }
        assert_eq!(st, 507);
        assert!(std::time::Instant::now() < deadline, "no room came back");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(get(&a, &s.url("/second")).body, second);
    assert_eq!(get(&a, &s.url("/first")).status, 404);
    drop(s);
}

/// A small keep-alive GET costs three system calls in its worker: `read` of
/// the request, `pread64` of the record, one `sendto` with the head and the
/// value (besides the `epoll_wait` that may wake it). With the access log on
/// too: the clock is read through the vDSO, and the lines are written by the
/// log writer thread, never by the event loop.
#[test]
fn a_small_get_is_three_system_calls() {
    if !need("a_small_get_is_three_system_calls", "strace", "strace") {
        return;
    }
    for log in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let log_path = tmp.path().join("access.log");
        let mut args = vec![];
        if log {
            args = vec!["--access-log", log_path.to_str().unwrap()];
        }
        let calls = small_get_calls(tmp.path(), &args);
        let name = |l: &str| {
            l.split_whitespace()
                .nth(1)
                .unwrap()
                .split('(')
                .next()
                .unwrap()
                .to_string()
        };
        let mut gets = 0;
        for (i, l) in calls.iter().enumerate() {
            if name(l) == "read" && l.contains("\"GET /k HTTP/1.1") {
                gets += 1;
                let next: Vec<String> = calls[i + 1..].iter().take(2).map(|l| name(l)).collect();
                assert_eq!(
                    next,
                    ["pread64", "sendto"],
                    "log {log}, GET {gets}: {:?}",
                    &calls[i..i + 3]
                );
            }
        }
        assert_eq!(gets, 20);
        // while serving (a stopping worker writes its last lines itself)
        let last = calls
            .iter()
            .rposition(|l| l.contains("\"GET /k HTTP/1.1"))
            .unwrap();
        let others: Vec<&String> = calls[..last + 3]
            .iter()
            .filter(|l| ["clock_gettime", "write"].contains(&name(l).as_str()))
            .collect();
        assert!(others.is_empty(), "log {log}: {others:?}");
        if log {
            let text = std::fs::read_to_string(&log_path).unwrap();
            assert_eq!(text.matches("\"GET /k HTTP/1.1\" 200").count(), 20);
        }
    }
}

/// Runs a server under strace, PUTs /k, GETs it 20 times on one connection,
/// stops the server, and returns the system calls of the thread that read
/// the GETs (strace's lines, unfinished and resumed ones once).
fn small_get_calls(dir: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let trace = dir.join("trace");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .args([BIN, "--listen", "127.0.0.1:0", "--workers", "1", "--data"])
        .arg(dir.join("data"))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit('/').next().unwrap().to_string();
    assert_eq!(
        put(&agent(), &format!("http://{addr}/k"), b"a small value").status,
        201
    );
    let mut c = Raw::connect(addr.parse().unwrap());
    for _ in 0..20 {
        c.send(b"GET /k HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response().body, b"a small value");
    }
    drop(c);
    let master = children_of(child.id() as i32);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(master[0]),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_timeout(&mut child, std::time::Duration::from_secs(20)).expect("stop");
    let text = std::fs::read_to_string(&trace).unwrap();
    // the calls of the thread that read the GETs, from its first GET (the
    // per-second tick may add calls between requests, not within one)
    let first = text
        .lines()
        .position(|l| l.contains("\"GET /k HTTP/1.1"))
        .expect("no GET in the trace");
    let tid = text
        .lines()
        .nth(first)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    // a call strace had to split (another thread of the server made one
    // meanwhile) is joined again: "read(5, <unfinished ...>" and "<... read
    // resumed>..." are one read
    let mut calls = Vec::new();
    let mut head: Option<String> = None;
    for l in text
        .lines()
        .skip(first)
        .filter(|l| l.split_whitespace().next() == Some(tid))
    {
        if let Some(h) = l.strip_suffix(" <unfinished ...>") {
            head = Some(h.to_string());
        } else if let Some((before, tail)) = l.split_once(" resumed>") {
            // (its start may be before the first GET: then only its name)
            let call = before.rsplit("<... ").next().unwrap_or("");
            let h = head.take().unwrap_or_else(|| format!("{tid} {call}("));
            calls.push(format!("{h}{tail}"));
        } else {
            calls.push(l.to_string());
        }
    }
    calls
}

/// A storage error other than a full disk (here: the segment made immutable
/// under the running server, so every write to it fails with EPERM) answers
/// 500 to writes and deletes, keeps every value readable, and the server
/// recovers by itself once the file can be written again.
#[test]
fn storage_errors_answer_500_and_the_server_recovers() {
    if !need(
        "storage_errors_answer_500_and_the_server_recovers",
        "chattr",
        "e2fsprogs",
    ) {
        return;
    }
    let s = Server::start_with(&["--workers", "1"]);
    let a = agent();
    assert_eq!(put(&a, &s.url("/kept"), b"before").status, 201);
    let segments: Vec<String> = files_in(&s.data)
        .into_iter()
        .filter(|n| is_segment(n))
        .collect();
    let chattr = |flag: &str| {
        segments.iter().all(|n| {
            Command::new("chattr")
                .arg(flag)
                .arg(s.data.join(n))
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success())
        })
    };
    if !chattr("+i") {
        skip(
            "storage_errors_answer_500_and_the_server_recovers",
            "cannot make a file immutable here (needs root and a file system with chattr +i)",
        );
        return;
    }
    let r = put(&a, &s.url("/kept"), b"after");
    let d = delete(&agent(), &s.url("/kept"));
    let got = get(&agent(), &s.url("/kept"));
    assert!(chattr("-i"));
    assert_eq!(r.status, 500, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body, b"storage error\n");
    assert_eq!(d.status, 500);
    assert_eq!(got.body, b"before");
    // writable again: the server goes on by itself
    assert_eq!(put(&agent(), &s.url("/kept"), b"after").status, 204);
    assert_eq!(get(&agent(), &s.url("/kept")).body, b"after");
}

/// A hint file names records that are on disk: even under --sync none, the
/// process that writes a segment's hint flushes that segment first (a hint
/// that outlived its records in a power cut would point at zeros).
#[test]
fn a_hint_is_written_only_after_its_segment_is_flushed() {
    if !need(
        "a_hint_is_written_only_after_its_segment_is_flushed",
        "strace",
        "strace",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for i in 0..50 {
        std::fs::write(data.join(format!("key{i}")), pattern(100, i)).unwrap();
    }
    let trace = tmp.path().join("trace");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat,fdatasync", "-o"])
        .arg(&trace)
        .args([
            BIN,
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--sync",
            "none",
            "--data",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !files_in(&data).iter().any(|n| is_hint(n)) {
        assert!(std::time::Instant::now() < deadline, "no hint written");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let master = children_of(child.id() as i32);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(master[0]),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_timeout(&mut child, std::time::Duration::from_secs(20)).expect("stop");
    let text = std::fs::read_to_string(&trace).unwrap();
    let hint = text
        .lines()
        .find(|l| l.contains("\".tmp-hint-"))
        .expect("no hint written in the trace");
    let pid = hint.split_whitespace().next().unwrap();
    let flushed = text.lines().take_while(|l| *l != hint).any(|l| {
        l.split_whitespace().next() == Some(pid)
            && l.contains("fdatasync(")
            && l.trim_end().ends_with("= 0")
    });
    assert!(
        flushed,
        "the hint's writer flushed nothing before it:\n{text}"
    );
}
