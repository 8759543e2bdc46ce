//! Many clients at once: exact contents, no torn reads, idle connections, no zombies.
mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn fifty_clients_write_and_read_exactly() {
    let s = Server::start();
    let url = s.url("");
    let handles: Vec<_> = (0..50u64)
        .map(|c| {
            let url = url.clone();
            thread::spawn(move || {
                let a = agent();
                for i in 0..20u64 {
                    let key = format!("{url}/c{c}-{i}");
                    let v = pattern(1 + ((c * 131 + i * 977) % 40_000) as usize, c * 1000 + i);
                    assert_eq!(put(&a, &key, &v).status, 201);
                    let r = get(&a, &key);
                    assert_eq!(r.status, 200);
                    assert_eq!(r.body, v, "{key}");
                }
                // and one key every client overwrites
                let v = format!("client {c}");
                let st = put(&a, &format!("{url}/shared"), v.as_bytes()).status;
                assert!(st == 201 || st == 204);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let a = agent();
    for c in 0..50u64 {
        for i in 0..20u64 {
            let v = pattern(1 + ((c * 131 + i * 977) % 40_000) as usize, c * 1000 + i);
            assert_eq!(get(&a, &s.url(&format!("/c{c}-{i}"))).body, v);
        }
    }
    let shared = String::from_utf8(get(&a, &s.url("/shared")).body).unwrap();
    assert!(shared.starts_with("client "), "{shared}");
    assert_eq!(
        stored_names(&s.data).len(),
        50 * 20 + 1,
        "no temporary file left"
    );
}

#[test]
fn readers_never_see_a_torn_value() {
    let s = Server::start();
    let a_val = vec![b'a'; 2 << 20];
    let b_val = vec![b'b'; 3 << 20];
    let a = agent();
    put(&a, &s.url("/t"), &a_val);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, stop) = (s.url("/t"), stop.clone());
        let (a_val, b_val) = (a_val.clone(), b_val.clone());
        thread::spawn(move || {
            let a = agent();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let v = if n % 2 == 0 { &b_val } else { &a_val };
                assert_eq!(put(&a, &url, v).status, 204);
                n += 1;
            }
            n
        })
    };
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let url = s.url("/t");
            thread::spawn(move || {
                let a = agent();
                let mut seen = [0usize; 2];
                let end = Instant::now() + Duration::from_secs(3);
                while Instant::now() < end {
                    let r = get(&a, &url);
                    assert_eq!(r.status, 200);
                    let first = r.body[0];
                    let len = if first == b'a' { 2 << 20 } else { 3 << 20 };
                    assert_eq!(r.body.len(), len, "length matches the value it starts as");
                    assert!(r.body.iter().all(|&b| b == first), "torn value");
                    seen[(first == b'b') as usize] += 1;
                }
                seen
            })
        })
        .collect();
    let mut total = [0usize; 2];
    for r in readers {
        let seen = r.join().unwrap();
        total[0] += seen[0];
        total[1] += seen[1];
    }
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 2, "writer made progress");
    assert!(total[0] + total[1] > 10, "readers made progress: {total:?}");
}

/// Raises the soft descriptor limit of this test process as far as the hard limit.
fn raise_nofile(want: u64) -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let soft = want.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    soft
}

#[test]
fn idle_connections_do_not_block_others() {
    let limit = raise_nofile(8192);
    let idle_count = (limit as usize).saturating_sub(200).min(3000);
    let s = Server::start();
    let mut idle = Vec::with_capacity(idle_count);
    for _ in 0..idle_count {
        idle.push(std::net::TcpStream::connect(s.addr).unwrap());
    }
    // half of them have sent half a request
    for c in idle.iter_mut().step_by(2) {
        use std::io::Write;
        c.write_all(b"GET /slow HTTP/1.1\r\nHo").unwrap();
    }
    let a = agent();
    for i in 0..50 {
        assert_eq!(put(&a, &s.url(&format!("/busy{i}")), b"v").status, 201);
        assert_eq!(get(&a, &s.url(&format!("/busy{i}"))).body, b"v");
    }
    drop(idle);
}

#[test]
fn no_zombies_after_a_thousand_connections() {
    let s = Server::start();
    put(&agent(), &s.url("/z"), b"zz");
    for _ in 0..1000 {
        let w = raw_once(
            s.addr,
            b"GET /z HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(w.body, b"zz");
    }
    let workers = s.workers();
    assert_eq!(
        workers.len(),
        2,
        "exactly the workers, no process per connection"
    );
    for pid in workers.iter().chain([s.pid()].iter()) {
        let (state, _) = proc_state(*pid).unwrap();
        assert_ne!(state, 'Z', "zombie {pid}");
    }
}

/// Resident memory of a process, in bytes.
fn rss_bytes(pid: i32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .map(|v| v.trim().parse().unwrap())
        .expect("VmRSS");
    kib * 1024
}

#[test]
fn idle_keep_alive_connections_cost_little_memory() {
    let limit = raise_nofile(8192);
    let n = (limit as usize).saturating_sub(200).min(3000);
    let s = Server::start_with(&["--workers", "1"]);
    let worker = s.workers()[0];
    put(&agent(), &s.url("/k"), b"value");
    let before = rss_bytes(worker);
    // each connection reads a request and is answered, then waits idle
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = Raw::connect(s.addr);
        c.send(b"GET /k HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response().body, b"value");
        idle.push(c);
    }
    let grown = rss_bytes(worker).saturating_sub(before);
    eprintln!("{} bytes resident per idle connection", grown / n);
    // a connection slot is 1 KiB; the 32 KiB input buffer goes back to the
    // pool while the connection is idle (a page or more each, without it)
    assert!(
        grown / n < 2048,
        "{} bytes resident per idle connection ({grown} for {n})",
        grown / n
    );
    drop(idle);
}

/// Out of descriptors: connections beyond the limit are closed at once (not
/// left hanging), requests that need a file answer 503 with Retry-After, and
/// service comes back by itself when descriptors are free again.
#[test]
fn out_of_descriptors_sheds_and_answers_503_then_recovers() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("k"), b"hello").unwrap();
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["--listen", "127.0.0.1:0", "--workers", "1", "--data"])
        .arg(&data)
        .stdout(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 40, 40)
                .map_err(std::io::Error::from)
        });
    }
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line.trim().rsplit('/').next().unwrap().parse().unwrap();

    let get = b"GET /k HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut conns: Vec<std::net::TcpStream> = (0..60)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    for c in &conns {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    // connections are taken in order: once the last one has been closed by
    // the server, every earlier one was either accepted or closed too
    let mut buf = [0u8; 512];
    match read_some(conns.last_mut().unwrap(), &mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection over the limit was not closed: {other:?}"),
    }
    // the accepted ones now hold every descriptor: a GET cannot open its file
    let (mut busy, mut shed, mut other) = (Vec::new(), 0, Vec::new());
    for (i, c) in conns.iter_mut().enumerate() {
        let _ = c.write_all(get);
        match read_some(c, &mut buf) {
            Ok(0) => shed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => shed += 1,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                if text.starts_with("HTTP/1.1 503 ") {
                    assert!(text.contains("\r\nRetry-After: 1\r\n"), "{text}");
                    busy.push(i);
                } else {
                    other.push(text);
                }
            }
            Err(e) => panic!("connection {i} hung or failed: {e}"),
        }
    }
    assert!(other.is_empty(), "{other:?}");
    assert!(shed > 0 && !busy.is_empty(), "shed {shed}, 503 {busy:?}");
    // free the descriptors: the connection that got a 503 is served again
    let mut kept = conns.swap_remove(busy[0]);
    drop(conns);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        kept.write_all(get).unwrap();
        let mut buf = [0u8; 512];
        let n = read_some(&mut kept, &mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("HTTP/1.1 200 ") {
            assert!(text.ends_with("hello"), "{text}");
            break;
        }
        // the server may not have seen all the closes yet
        assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
        assert!(Instant::now() < deadline, "still busy");
        thread::sleep(Duration::from_millis(50));
    }
    let a = agent();
    assert_eq!(put(&a, &format!("http://{addr}/new"), b"v").status, 201);
    drop(child);
}
