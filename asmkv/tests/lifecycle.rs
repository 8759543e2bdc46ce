//! Processes and disk: startup errors, restarts, signals, crashes, stale temporary files.
mod common;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run asmkv");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--listen ADDR:PORT") && out.contains("--sync always|none"),
        "{out}"
    );
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("asmkv "), "{out}");
}

#[test]
fn startup_errors_are_one_clear_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let d = d.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--bogus"], "unknown argument"),
        (vec!["--listen"], "missing value"),
        (
            vec!["--listen", "localhost:80:1", "--data", d],
            "bad value for flag --listen (want A.B.C.D:PORT, [IPV6]:PORT or localhost:PORT): localhost:80:1",
        ),
        (vec!["--listen", "[::1]", "--data", d], "--listen"),
        (vec!["--listen", "[::1", "--data", d], "--listen"),
        (vec!["--listen", "[1::2::3]:80", "--data", d], "--listen"),
        (vec!["--listen", "[:::]:80", "--data", d], "--listen"),
        (vec!["--listen", "[12345::]:80", "--data", d], "--listen"),
        (vec!["--listen", "[1:2:3:4:5:6:7:8:9]:80", "--data", d], "--listen"),
        (vec!["--listen", "[1:2:3:4:5:6:7::8]:80", "--data", d], "--listen"),
        (vec!["--listen", "[::1]:65536", "--data", d], "--listen"),
        (vec!["--listen", "[1::]:0", "--data", d], "cannot listen on: [1::]:0: "),
        (vec!["--listen", "localhost", "--data", d], "--listen"),
        (vec!["--listen", "localhostx:80", "--data", d], "--listen"),
        (vec!["--listen", "10.0.0:80", "--data", d], "--listen"),
        (vec!["--listen", "1.2.3.256:80", "--data", d], "bad value"),
        (
            vec!["--listen", "127.0.0.1:65536", "--data", d],
            "bad value",
        ),
        (vec!["--workers", "0"], "bad value for flag: --workers"),
        (vec!["--workers", "999"], "bad value"),
        (vec!["--sync", "sometimes"], "bad value for flag: --sync"),
        (vec!["--max-body", "-1"], "bad value for flag: --max-body"),
        (vec!["--scrub-rate", "65537"], "bad value for flag: --scrub-rate"),
        (vec!["--scrub-rate", "fast"], "bad value for flag: --scrub-rate"),
    ];
    for (args, want) in cases {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}");
        let (_, msg) = log_line(err.trim_end());
        assert!(msg.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn localhost_names_the_loopback_address() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--listen", "LocalHost:0", "--workers", "1", "--data"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("asmkv listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{line}");
}

#[test]
fn ipv6_addresses_are_bound_as_written() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        skip("IPv6", "no IPv6 loopback on this machine");
        return;
    }
    // "0:0::1" is ::1 written the long way: the server must expand it exactly
    let s = Server::start_with(&["--listen", "[0:0::1]:0"]);
    assert!(s.addr.is_ipv6() && s.addr.ip().is_loopback(), "{}", s.addr);
    let a = agent();
    assert_eq!(put(&a, &s.url("/six"), b"over IPv6").status, 201);
    assert_eq!(get(&a, &s.url("/six")).body, b"over IPv6");
    // bound to ::1 only, not to every address (which would take IPv4 too)
    let v4 = std::net::SocketAddr::from(([127, 0, 0, 1], s.addr.port()));
    assert!(std::net::TcpStream::connect(v4).is_err());
}

#[test]
fn port_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let (code, _, err) = run(&["--listen", &listen, "--data", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(
        log_line(err.trim()).1,
        format!("cannot listen on: {listen}: address already in use")
    );
}

#[test]
fn unusable_data_directory_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let (code, _, err) = run(&["--listen", "127.0.0.1:0", "--data", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot open data directory") && err.contains("not a directory"),
        "{err}"
    );

    let nested = tmp.path().join("missing/parent");
    let (code, _, err) = run(&[
        "--listen",
        "127.0.0.1:0",
        "--data",
        nested.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot create data directory"), "{err}");

    // a directory another server is using
    let s = Server::start();
    let (code, _, err) = run(&[
        "--listen",
        "127.0.0.1:0",
        "--data",
        s.data.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("in use by another asmkv"), "{err}");
}

#[test]
fn values_survive_sigterm_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Server::start_in(&data, &[]);
    let a = agent();
    for i in 0..100 {
        assert_eq!(
            put(&a, &s.url(&format!("/k{i}")), format!("v{i}").as_bytes()).status,
            201
        );
    }
    let status = s.stop();
    assert_eq!(status.code(), Some(0), "graceful stop exits 0");
    let s = Server::start_in(&data, &[]);
    for i in 0..100 {
        assert_eq!(
            get(&a, &s.url(&format!("/k{i}"))).body,
            format!("v{i}").as_bytes()
        );
    }
}

#[test]
fn acknowledged_values_survive_kill_9_of_every_process() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for round in 0..3 {
        let s = Server::start_in(&data, &[]);
        let a = agent();
        for i in 0..50 {
            let v = pattern(1000 + i * 37, round * 100 + i as u64);
            assert!(put(&a, &s.url(&format!("/r{round}-{i}")), &v).status == 201);
        }
        // leave an upload half done, then crash everything
        let mut c = Raw::connect(s.addr);
        c.send(b"PUT /half HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\npartial");
        std::thread::sleep(Duration::from_millis(100));
        s.crash();
    }
    // a crash can leave a temporary file; startup removes it
    std::fs::write(data.join(".tmp-99999-1"), b"stale").unwrap();
    let s = Server::start_in(&data, &[]);
    let a = agent();
    for round in 0..3u64 {
        for i in 0..50usize {
            let v = pattern(1000 + i * 37, round * 100 + i as u64);
            assert_eq!(get(&a, &s.url(&format!("/r{round}-{i}"))).body, v);
        }
    }
    assert_eq!(get(&a, &s.url("/half")).status, 404);
    assert!(
        files_in(&data).iter().all(|f| !f.starts_with(".tmp")),
        "{:?}",
        files_in(&data)
    );
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let s = Server::start();
    let a = agent();
    let big = pattern(8 << 20, 5);
    put(&a, &s.url("/big"), &big);
    // a download in progress, read slowly
    let mut down = Raw::connect(s.addr);
    down.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut first = [0u8; 1024];
    down.stream.read_exact(&mut first).unwrap();
    // an upload in progress
    let mut up = Raw::connect(s.addr);
    up.send(b"PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n");
    up.send(&[1u8; 100_000]);
    // an idle keep-alive connection
    let mut idle = Raw::connect(s.addr);
    idle.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(idle.response().body.len(), big.len());
    std::thread::sleep(Duration::from_millis(100));

    s.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    // new connections are refused, idle ones are closed
    assert!(
        std::net::TcpStream::connect(s.addr).is_err(),
        "still accepting"
    );
    assert!(idle.closed());
    // the upload completes
    up.send(&[1u8; 100_000]);
    let w = up.response();
    assert_eq!(w.status, 201);
    assert_eq!(w.header("connection").as_deref(), Some("close"));
    // the download completes
    let mut rest = Vec::new();
    down.stream.read_to_end(&mut rest).unwrap();
    let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut body = first[head_end..].to_vec();
    body.extend_from_slice(&rest);
    assert_eq!(body, big);
    let mut s = s;
    let status = wait_timeout(&mut s.child, Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(0));
    assert_eq!(stored_value(&s.data, "up").unwrap(), vec![1u8; 200_000]);
}

#[test]
fn a_dead_worker_is_replaced() {
    let s = Server::start();
    let a = agent();
    put(&a, &s.url("/w"), b"still here");
    let before = s.workers();
    assert_eq!(before.len(), 2);
    kill(Pid::from_raw(before[0]), Signal::SIGKILL).unwrap();
    let mut after = Vec::new();
    for _ in 0..200 {
        after = s.workers();
        if after.len() == 2 && !after.contains(&before[0]) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(!after.contains(&before[0]));
    for _ in 0..20 {
        assert_eq!(get(&a, &s.url("/w")).body, b"still here");
    }
    for pid in after {
        assert_ne!(proc_state(pid).unwrap().0, 'Z');
    }
}

#[test]
fn workers_default_to_the_cpus_we_may_use() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--data",
            tmp.path().to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 40];
    let _ = child.stdout.as_mut().unwrap().read(&mut line).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let cpus = std::thread::available_parallelism().unwrap().get();
    let n = children_of(child.id() as i32)
        .into_iter()
        .filter(|&p| !is_compactor(p))
        .count();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(n, cpus);
    assert_eq!(status.code(), Some(0));
    let _ = std::io::stdout().flush();
}

#[test]
fn sync_none_still_stores_values() {
    let s = Server::start_with(&["--sync", "none"]);
    let a = agent();
    assert_eq!(put(&a, &s.url("/n"), b"fast").status, 201);
    assert_eq!(get(&a, &s.url("/n")).body, b"fast");
    assert_eq!(delete(&a, &s.url("/n")).status, 204);
}

#[test]
fn sigint_stops_gracefully_too() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Server::start_in(&data, &[]);
    assert_eq!(put(&agent(), &s.url("/i"), b"int").status, 201);
    let workers = s.workers();
    let mut s = s;
    s.signal(Signal::SIGINT);
    let status = wait_timeout(&mut s.child, Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(0));
    for w in workers {
        assert!(proc_state(w).is_none(), "worker {w} outlived the master");
    }
    assert_eq!(stored_value(&data, "i").unwrap(), b"int");
}

#[test]
fn workers_stop_when_the_master_is_killed() {
    let s = Server::start();
    let workers = s.workers();
    kill(Pid::from_raw(s.pid()), Signal::SIGKILL).unwrap();
    for _ in 0..500 {
        if workers
            .iter()
            .all(|w| proc_state(*w).is_none_or(|(st, _)| st == 'Z'))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("workers {workers:?} still running without their master");
}

/// Started by a parent that ignores SIGCHLD (the setting survives exec, and
/// would have the kernel reap the master's children before it waits for
/// them), the server still starts, serves, replaces a killed worker and
/// stops cleanly.
#[test]
fn a_parent_that_ignores_sigchld_changes_nothing() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    {
        let s = Server::start_in(&data, &[]); // a segment for the loaders to read
        assert_eq!(put(&agent(), &s.url("/before"), b"1").status, 201);
        assert!(s.stop().success());
        wait_unlocked(&data);
    }
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["--listen", "127.0.0.1:0", "--workers", "2", "--data"])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls: sigaction
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGCHLD,
                nix::sys::signal::SigHandler::SigIgn,
            )
            .map(|_| ())
            .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("asmkv listening on http://")
        .unwrap_or_else(|| {
            let _ = child.kill();
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            panic!("it did not start: {line:?} {err}")
        })
        .to_string();
    let a = agent();
    assert_eq!(get(&a, &format!("http://{addr}/before")).body, b"1");
    let pid = child.id() as i32;
    let workers = children_of(pid);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(workers[0]),
        nix::sys::signal::Signal::SIGKILL,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while children_of(pid).len() < workers.len() || children_of(pid).contains(&workers[0]) {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed worker was not replaced"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(put(&a, &format!("http://{addr}/after"), b"2").status, 201);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(10)).expect("it stopped");
    assert!(status.success(), "{status:?}");
}
