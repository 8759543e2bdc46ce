//! Fault harness: crashes under load, dying workers, clients that vanish, an
//! unusable data directory. Its own runner, so it takes flags:
//!
//!     cargo test --release --test faults                    # 20 crash cycles
//!     cargo test --release --test faults -- --cycles 200    # the longer mode
mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn kill_all(s: &Server) {
    let mut pids = children_of(s.pid());
    pids.push(s.pid());
    for p in pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// Many clients PUT distinct and overlapping keys while every process is
/// killed at a random moment; after a restart every acknowledged write reads
/// back (or a value that legitimately replaced it), nothing is torn, and no
/// temporary file is left.
fn crash_under_load(cycles: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let seq = Arc::new(AtomicU64::new(1));
    let history: Arc<Mutex<Vec<Put>>> = Arc::new(Mutex::new(Vec::new()));
    let expiring: Arc<Mutex<Vec<(String, bool)>>> = Arc::new(Mutex::new(Vec::new()));
    for cycle in 0..cycles {
        let s = Server::start_in(&data, &[]);
        let load = WriteLoad::start(s.addr, cycle, &seq, &history);
        let side = ExpiringLoad::start(s.addr, cycle, &expiring);
        let delay = 30 + (pattern(1, cycle + 1000)[0] as u64) % 250;
        thread::sleep(Duration::from_millis(delay));
        kill_all(&s);
        load.join();
        side.join();
        s.crash();
    }
    // recover and check everything
    thread::sleep(Duration::from_millis(2100));
    let s = Server::start_in(&data, &[]);
    let expiring = expiring.lock().unwrap();
    check_expiring(&s, &expiring, true);
    let history = history.lock().unwrap();
    let (acked_total, keys) = check_history(&s, &history);
    let temps: Vec<String> = files_in(&data)
        .into_iter()
        .filter(|f| f.starts_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
    assert!(
        acked_total > cycles as usize,
        "too little work to prove anything: {acked_total} acknowledged writes"
    );
    println!(
        "    {cycles} crash cycles, {} writes, {acked_total} acknowledged, {} keys checked, {} expiring",
        history.len(),
        keys,
        expiring.len()
    );
}

/// A worker killed under load is replaced; clients that retry succeed, and
/// the server never stops answering.
fn worker_death_under_load() {
    let s = Server::start();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..6)
        .map(|t| {
            let (url, stop, failures) = (s.url(""), stop.clone(), failures.clone());
            thread::spawn(move || {
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("{url}/w{t}-{done}");
                    let v = format!("value {t} {done}");
                    // a request caught in the dying worker fails; the retry must succeed
                    let mut tries = 0;
                    loop {
                        tries += 1;
                        let a = agent();
                        let ok = a
                            .put(&key)
                            .send(v.as_bytes())
                            .map(|r| r.status().as_u16() < 300)
                            .unwrap_or(false)
                            && a.get(&key)
                                .call()
                                .ok()
                                .and_then(|mut r| r.body_mut().read_to_vec().ok())
                                == Some(v.clone().into_bytes());
                        if ok {
                            break;
                        }
                        failures.fetch_add(1, Ordering::Relaxed);
                        assert!(tries < 20, "{key}: still failing after {tries} tries");
                        thread::sleep(Duration::from_millis(20));
                    }
                    done += 1;
                }
                done
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let victims = s.workers();
    kill(Pid::from_raw(victims[0]), Signal::SIGKILL).unwrap();
    // the server keeps answering while the master replaces the worker
    let probe = agent();
    let end = Instant::now() + Duration::from_secs(1);
    while Instant::now() < end {
        let r = probe.get(&s.url("/probe")).call();
        assert!(
            r.is_ok_and(|r| r.status() == 404),
            "a request failed while a worker was being replaced"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let done: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let workers = s.workers();
    assert_eq!(workers.len(), 2, "{workers:?}");
    assert!(!workers.contains(&victims[0]));
    assert!(done > 50, "{done} writes");
    println!(
        "    {done} verified writes, {} retried",
        failures.load(Ordering::Relaxed)
    );
}

/// Uploads and downloads abandoned midway: the old value stays, no temporary
/// file or descriptor is left behind.
fn clients_that_vanish() {
    let s = Server::start();
    let a = agent();
    let big = pattern(16 << 20, 3);
    assert_eq!(put(&a, &s.url("/big"), &big).status, 201);
    assert_eq!(put(&a, &s.url("/small"), b"old").status, 201);
    let before = s.open_fds();
    for i in 0..50 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        if i % 2 == 0 {
            c.write_all(b"PUT /small HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
                .unwrap();
            c.write_all(&[b'x'; 100_000]).unwrap();
        } else {
            c.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut some = [0u8; 10_000];
            c.read_exact(&mut some).unwrap();
        }
        drop(c);
    }
    s.assert_fds_back_to(before, Duration::from_secs(5));
    assert_eq!(get(&agent(), &s.url("/small")).body, b"old");
    assert_eq!(get(&agent(), &s.url("/big")).body.len(), big.len());
    assert!(files_in(&s.data).iter().all(|f| !f.starts_with(".tmp")));
}

/// A data directory on a read-only file system: a clear error and exit 2.
fn read_only_data_directory_at_startup() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,ro", "tmpfs"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        skip(
            "read_only_data_directory_at_startup",
            "cannot mount a tmpfs here (needs root)",
        );
        return;
    }
    let out = std::process::Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::process::Command::new("umount").arg(&dir).status();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot write in data directory") && err.contains("read-only file system"),
        "{err}"
    );
}

/// A data directory the server's user may not write: a clear error and exit 2.
fn unwritable_data_directory_at_startup() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        skip(
            "unwritable_data_directory_at_startup",
            "needs root to run the server as another user",
        );
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("root-owned");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // a copy nobody can reach, wherever the checkout lives
    let bin = tmp.path().join("asmkv");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(&bin)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(&dir)
        .uid(nobody.uid.as_raw())
        .gid(nobody.gid.as_raw())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot write in data directory") && err.contains("permission denied"),
        "{err}"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut cycles = 20;
    let mut filter: Option<String> = None;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--cycles" => {
                cycles = args
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .expect("--cycles N");
                i += 1;
            }
            a if a.starts_with('-') => {} // flags cargo passes to every test binary
            a => filter = Some(a.to_string()),
        }
        i += 1;
    }
    type Check = Box<dyn Fn()>;
    let checks: Vec<(&str, Check)> = vec![
        (
            "crash_under_load",
            Box::new(move || crash_under_load(cycles)),
        ),
        ("worker_death_under_load", Box::new(worker_death_under_load)),
        ("clients_that_vanish", Box::new(clients_that_vanish)),
        (
            "read_only_data_directory_at_startup",
            Box::new(read_only_data_directory_at_startup),
        ),
        (
            "unwritable_data_directory_at_startup",
            Box::new(unwritable_data_directory_at_startup),
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in &checks {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        println!("fault {name} ...");
        let start = Instant::now();
        match catch_unwind(AssertUnwindSafe(check)) {
            Ok(()) => {
                passed += 1;
                println!(
                    "fault {name} ... ok ({:.1} s)",
                    start.elapsed().as_secs_f64()
                );
            }
            Err(_) => {
                failed += 1;
                println!("fault {name} ... FAILED");
            }
        }
    }
    println!("faults: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
