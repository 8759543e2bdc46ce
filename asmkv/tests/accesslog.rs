//! The access log (`--access-log PATH`, `-` for stdout): nginx's combined
//! format plus the request's microseconds and the worker; lines checked field
//! by field under concurrent load; SIGUSR1 reopens the file; a full disk for
//! the log never stops serving; tokens are never logged.
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// One line, field by field.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    addr: String,
    time: String,
    request: String,
    status: u16,
    bytes: u64,
    referer: String,
    agent: String,
    micros: u64,
    worker: u32,
}

/// Parses `ADDR - - [TIME] "REQUEST" STATUS BYTES "REFERER" "AGENT" US WORKER`.
fn parse(line: &str) -> Line {
    let split = |s: &'_ str, sep: &str| -> (String, String) {
        let (a, b) = s
            .split_once(sep)
            .unwrap_or_else(|| panic!("not a log line (no {sep:?}): {line:?}"));
        (a.to_string(), b.to_string())
    };
    let num = |s: &str| -> u64 {
        s.parse()
            .unwrap_or_else(|_| panic!("not a number {s:?}: {line:?}"))
    };
    let (addr, rest) = split(line, " - - [");
    let (time, rest) = split(&rest, "] \"");
    // "26/Nov/2026:08:45:00 +0000"
    assert_eq!(time.len(), 26, "{line}");
    assert!(time.ends_with(" +0000"), "{line}");
    let (request, rest) = split(&rest, "\" ");
    let (status, rest) = split(&rest, " ");
    let (bytes, rest) = split(&rest, " \"");
    let (referer, rest) = split(&rest, "\" \"");
    let (agent, rest) = split(&rest, "\" ");
    let (micros, worker) = split(&rest, " ");
    for f in [&request, &referer, &agent] {
        assert!(!f.contains('"'), "quotes are escaped: {line}");
        assert!(f.bytes().all(|b| (0x20..0x7f).contains(&b)), "{line}");
    }
    Line {
        addr,
        time,
        request,
        status: num(&status) as u16,
        bytes: num(&bytes),
        referer,
        agent,
        micros: num(&micros),
        worker: num(&worker) as u32,
    }
}

/// The file's whole lines. A line still being written (the writer thread's
/// write may be seen half done by a read) is not one yet: it has no LF.
fn lines_of(path: &Path) -> Vec<Line> {
    let text = std::fs::read(path).unwrap_or_default();
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    String::from_utf8(text[..whole].to_vec())
        .expect("log lines are ASCII")
        .lines()
        .map(parse)
        .collect()
}

/// Waits (up to 10 s) until the file holds `n` lines.
fn wait_lines(path: &Path, n: usize) -> Vec<Line> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = lines_of(path);
        if l.len() >= n || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_answer_is_a_line_checked_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    let s = Server::start_with(&["--access-log", log.to_str().unwrap()]);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let base = s.url("");
            std::thread::spawn(move || {
                let a = agent();
                let mut want = Vec::new();
                for i in 0..25 {
                    let key = format!("/t{t}-{i}");
                    let value = vec![b'v'; 10 + i];
                    let ua = format!("tester \"{t}\"/{i}");
                    let r = a
                        .put(&format!("{base}{key}"))
                        .header("User-Agent", &ua)
                        .header("Referer", "http://example.com/page")
                        .header("Authorization", "Bearer sekrit-token")
                        .send(&value[..])
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 201);
                    want.push((format!("PUT {key} HTTP/1.1"), 201, 0, ua.clone()));
                    let r = a
                        .get(&format!("{base}{key}"))
                        .header("User-Agent", &ua)
                        .call()
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    want.push((
                        format!("GET {key} HTTP/1.1"),
                        200,
                        value.len() as u64,
                        ua.clone(),
                    ));
                    let r = a
                        .get(&format!("{base}{key}-missing"))
                        .header("User-Agent", &ua)
                        .call()
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 404);
                    want.push((format!("GET {key}-missing HTTP/1.1"), 404, 10, ua));
                }
                want
            })
        })
        .collect();
    let want: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let got = wait_lines(&log, want.len());
    assert_eq!(got.len(), want.len(), "one line per answer");
    let mut by_request: BTreeMap<String, Line> = BTreeMap::new();
    for l in &got {
        assert_eq!(l.addr, "127.0.0.1");
        assert!(l.worker < 2, "{l:?}");
        assert!(l.micros < 60_000_000, "{l:?}");
        httpdate_of(&l.time);
        assert!(
            by_request.insert(l.request.clone(), l.clone()).is_none(),
            "once: {l:?}"
        );
    }
    for (request, status, bytes, ua) in &want {
        let l = &by_request[request];
        assert_eq!(l.status, *status, "{request}");
        assert_eq!(l.bytes, *bytes, "{request}: the body's bytes");
        assert_eq!(l.agent, ua.replace('"', "\\x22"), "{request}");
        if request.starts_with("PUT") {
            assert_eq!(l.referer, "http://example.com/page");
        } else {
            assert_eq!(l.referer, "-");
        }
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("sekrit"), "tokens are never logged");
}

/// "26/Nov/2026:08:45:00 +0000" is a time within a minute of now (checked
/// as the error log's ISO 8601 time is).
fn httpdate_of(t: &str) {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|m| *m == &t[3..6]).unwrap() + 1;
    let iso = format!("{}-{m:02}-{}T{}Z", &t[7..11], &t[0..2], &t[12..20]);
    log_line(&format!("{iso} asmkv[1]: x"));
}

#[test]
fn sigusr1_reopens_the_log_and_loses_no_line() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    let s = Server::start_with(&["--access-log", log.to_str().unwrap()]);
    let a = agent();
    for i in 0..20 {
        put(&a, &s.url(&format!("/before{i}")), b"x");
    }
    // logrotate: rename, then SIGUSR1 to the master
    let rotated = tmp.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    s.signal(Signal::SIGUSR1);
    // every worker has the new file open (each reopens on its own)
    let deadline = Instant::now() + Duration::from_secs(10);
    let reopened = |pid: i32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| {
                d.flatten()
                    .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == log))
            })
            .unwrap_or(false)
    };
    while !s.workers().into_iter().all(reopened) {
        assert!(Instant::now() < deadline, "the log was not reopened");
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in 0..20 {
        put(&a, &s.url(&format!("/after{i}")), b"x");
    }
    let after = wait_lines(&log, 20);
    let before = lines_of(&rotated);
    assert_eq!(before.len(), 20, "{before:?}");
    assert!(before.iter().all(|l| l.request.starts_with("PUT /before")));
    assert_eq!(after.len(), 20);
    assert!(after.iter().all(|l| l.request.starts_with("PUT /after")));
    // a worker started after the rotation writes to the new file too (the
    // master reopened its own copy, which new workers inherit)
    let victim = s.workers()[0];
    kill(Pid::from_raw(victim), Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.workers().contains(&victim) || s.workers().len() < 2 {
        assert!(Instant::now() < deadline, "no new worker");
        std::thread::sleep(Duration::from_millis(20));
    }
    while !s.workers().into_iter().all(reopened) {
        assert!(
            Instant::now() < deadline,
            "the new worker has not the new log"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in 0..20 {
        put(&agent(), &s.url(&format!("/later{i}")), b"x");
    }
    let all = wait_lines(&log, 40);
    assert_eq!(all.len(), 40);
    assert_eq!(lines_of(&rotated).len(), 20, "nothing more in the old file");
    // the server is still whole
    assert_eq!(s.workers().len(), 2);
    assert!(s.stop().success());
}

#[test]
fn a_full_disk_for_the_log_never_stops_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        skip(
            "a_full_disk_for_the_log_never_stops_serving",
            "cannot mount a tmpfs here (needs root)",
        );
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    let log = dir.path().join("access.log");
    let tmp = tempfile::tempdir().unwrap();
    let errlog = tmp.path().join("stderr");
    let s = Server::start_logged(
        &tmp.path().join("data"),
        &["--access-log", log.to_str().unwrap()],
        &errlog,
    );
    let a = agent();
    let long = "x".repeat(200);
    for i in 0..2000 {
        let r = a
            .get(&s.url(&format!("/missing-{i}-{long}")))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "request {i}");
    }
    assert_eq!(put(&a, &s.url("/k"), b"v").status, 201);
    assert_eq!(get(&a, &s.url("/k")).body, b"v");
    // the dropped lines are reported in the error log
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&errlog).unwrap_or_default();
        if text.contains("access log lines that could not be written") {
            assert!(text.contains("no space left on device"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(Pid::from_raw(s.pid()), Signal::SIGTERM);
}

/// The log is a pipe no one reads: once it is full, a write to it blocks for
/// good, as on a stalled disk. Serving goes on; every answer is either a line
/// in the log or counted as dropped in the error log.
#[test]
fn a_stalled_log_never_stalls_serving() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("access.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // a reader that reads nothing yet (so the server's open does not wait)
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(&fifo)
        .unwrap();
    let errlog = tmp.path().join("stderr");
    let s = Server::start_logged(
        &tmp.path().join("data"),
        &["--access-log", fifo.to_str().unwrap()],
        &errlog,
    );
    // two clients at once, so that both workers write to the pipe: their
    // lines must not mix there (a pipe is written in whole lines of at most
    // PIPE_BUF bytes)
    let requests = 12_000;
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let url = s.url("/");
            std::thread::spawn(move || {
                let a = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(10)))
                    .http_status_as_error(false)
                    .build()
                    .new_agent();
                let long = "x".repeat(200);
                for i in (c..requests).step_by(2) {
                    let r = a.get(&format!("{url}m{i}-{long}")).call();
                    assert_eq!(r.expect("served while the log is stalled").status(), 404);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // the drops are reported
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&errlog)
        .unwrap()
        .contains("the log's writer is behind")
    {
        assert!(Instant::now() < deadline, "no drops reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    // the reader wakes up; the server stops; every line or its drop is counted
    let drain = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "the log never ended");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert!(s.stop().success());
    let text = String::from_utf8(drain.join().unwrap()).unwrap();
    let written = text.lines().map(parse).count();
    let errors = std::fs::read_to_string(&errlog).unwrap();
    let dropped: usize = errors
        .lines()
        .filter(|l| l.contains("access log lines"))
        .map(|l| {
            let (_, msg) = log_line(l);
            msg.split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .sum();
    assert!(
        dropped > 0 && written > 0,
        "{written} written, {dropped} dropped"
    );
    assert_eq!(written + dropped, requests, "{errors}");
}

#[test]
fn the_log_can_go_to_stdout() {
    let mut s = Server::start_with(&["--access-log", "-"]);
    put(&agent(), &s.url("/k"), b"v");
    let line = parse(&s.stdout_line());
    assert_eq!(line.request, "PUT /k HTTP/1.1");
    assert_eq!(line.status, 201);
    // an unusable path stops the start
    let out = Command::new(BIN)
        .args(["--access-log", "/nonexistent/dir/log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open the access log: /nonexistent/dir/log"),
        "{err}"
    );
}

/// A line is never written with another request's fields. Answers given
/// before a head is parsed (a bare LF's 400, 414, 431, the head timeout's
/// 408) once carried the request line, Referer and User-Agent of the
/// previous request on that descriptor: another client's, or the same
/// connection's last. Now they carry what came of their own first line.
#[test]
fn a_line_never_carries_another_requests_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    let s = Server::start_with(&[
        "--access-log",
        log.to_str().unwrap(),
        "--workers",
        "1",
        "--request-timeout",
        "1",
    ]);
    let victim = "GET /victim-secret-path HTTP/1.1\r\nHost: t\r\n\
                  Referer: http://victim/?token=abc123\r\nUser-Agent: victim-agent\r\n";
    let secret = ["victim", "abc123"];
    // the victim's connection ends; the next ones reuse its descriptor
    let w = raw_once(
        s.addr,
        format!("{victim}Connection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(w.status, 404);
    let mut want = vec![(404, "GET /victim-secret-path HTTP/1.1".to_string())];
    let long_uri = format!("GET /{}", "a".repeat(17_000));
    let big_head = format!("GET /big HTTP/1.1\r\nHost: t\r\nX: {}", "b".repeat(17_000));
    let early: [(&[u8], u16, &str); 3] = [
        (
            b"GET /bare HTTP/1.1\nHost: t\n\n",
            400,
            "GET /bare HTTP/1.1",
        ),
        (long_uri.as_bytes(), 414, "GET /aaaaaaaa"),
        (big_head.as_bytes(), 431, "GET /big HTTP/1.1"),
    ];
    for (req, status, line) in early {
        assert_eq!(raw_once(s.addr, req).status, status);
        want.push((status, line.to_string()));
    }
    // the head timeout
    let mut slow = Raw::connect(s.addr);
    slow.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n");
    assert_eq!(slow.response().status, 408);
    want.push((408, "GET /slow HTTP/1.1".into()));
    // and on one connection: an answered request, then a bad one
    let mut c = Raw::connect(s.addr);
    c.send(format!("{victim}\r\n").as_bytes());
    assert_eq!(c.response().status, 404);
    want.push((404, "GET /victim-secret-path HTTP/1.1".into()));
    c.send(b"GET /next HTTP/1.1\nHost: t\n\n");
    assert_eq!(c.response().status, 400);
    want.push((400, "GET /next HTTP/1.1".into()));
    drop(c);

    let lines = wait_lines(&log, want.len());
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for (l, (status, request)) in lines.iter().zip(&want) {
        assert_eq!(l.status, *status, "{l:?}");
        assert!(l.request.starts_with(request.as_str()), "{l:?}");
        if !request.contains("victim") {
            for s in secret {
                assert!(
                    !l.request.contains(s) && !l.referer.contains(s) && !l.agent.contains(s),
                    "another request's fields in {l:?}"
                );
            }
            assert_eq!((l.referer.as_str(), l.agent.as_str()), ("-", "-"), "{l:?}");
        }
    }
}
