//! The order of flushes behind the durability promise, observed with strace on
//! the real server: data flushed before the rename, directory flushed before the 2xx.
mod common;
use common::*;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::thread;

/// Runs the server under `strace -f` (tracing `calls`) while 8 clients make
/// 200 durable writes and some deletes, then stops it. Returns the trace and
/// the number of deletes answered 204.
fn traced_writes(engine: &str, calls: &str) -> (String, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let trace = tmp.path().join("trace");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-s", "64", "-e"])
        .arg(calls)
        .arg("-o")
        .arg(&trace)
        .args([
            BIN,
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--engine",
            engine,
        ])
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

#[test]
fn durable_puts_flush_data_then_rename_then_directory_then_answer() {
    let (text, deleted) = traced_writes(
        "files",
        "trace=openat,read,fdatasync,fsync,renameat,renameat2,unlinkat,sendto,clone",
    );
    let check = check_flush_order(&text);
    assert_eq!(check.answers, 200, "every acknowledged PUT was checked");
    assert_eq!(
        check.deletes, deleted,
        "every acknowledged DELETE was checked"
    );
    eprintln!(
        "{} acknowledged writes, {} deletes, {} directory flushes",
        check.answers, check.deletes, check.dir_flushes
    );
    // group commit: concurrent writes share directory flushes
    assert!(
        check.dir_flushes < check.answers,
        "{} directory flushes for {} writes",
        check.dir_flushes,
        check.answers
    );
}

/// The log engine: for every 2xx to a PUT or DELETE, the last write of its
/// record (the one that sealed it) was followed by an fdatasync of the same
/// segment that started after that write and finished before the answer
/// began to go out; and writes share flushes (group commit).
#[test]
fn log_engine_answers_only_after_its_record_is_flushed() {
    let (text, deleted) = traced_writes(
        "log",
        "trace=accept4,read,pwrite64,fdatasync,sendto,clone,close",
    );
    let check = check_log_flush_order(&text);
    assert_eq!(check.answers, 200, "every acknowledged PUT was checked");
    assert_eq!(
        check.deletes, deleted,
        "every acknowledged DELETE was checked"
    );
    eprintln!(
        "{} acknowledged writes, {} deletes, {} flushes",
        check.answers, check.deletes, check.dir_flushes
    );
    assert!(
        check.dir_flushes < check.answers,
        "{} flushes for {} writes",
        check.dir_flushes,
        check.answers
    );
}

/// Replays an `strace -f` log of the log engine. A worker's event loop
/// handles one socket at a time, so a `pwrite64` belongs to the socket the
/// thread read from last; the last one before the answer sealed the record.
fn check_log_flush_order(text: &str) -> FlushOrder {
    let mut group: HashMap<String, String> = HashMap::new(); // thread -> its process
    let mut pending: HashMap<String, (usize, String)> = HashMap::new();
    let mut sockets: HashSet<(String, String)> = HashSet::new(); // accepted, per process
    let mut current: HashMap<String, String> = HashMap::new(); // thread -> socket it read last
    let mut method: HashMap<(String, String), String> = HashMap::new();
    let mut sealed: HashMap<(String, String), (usize, String)> = HashMap::new(); // socket -> (done at, fd)
    let mut flushes: Vec<(String, String, usize, usize)> = Vec::new(); // (process, fd, start, end)
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
        } else if call.starts_with("pwrite64(") {
            assert!(!ret.starts_with('-'), "{call}");
            let socket = current.get(&tid).expect("a write outside any request");
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
        dir_flushes: flushes.len(),
    }
}

struct FlushOrder {
    answers: usize,
    deletes: usize,
    dir_flushes: usize,
}

/// Replays an `strace -f` log of the server (every thread, in the order the
/// kernel saw the calls) and checks each 2xx answer to a PUT against the calls
/// made for that very upload: its temporary file was opened, its data flushed
/// (fdatasync) before it was renamed over the key, and a directory flush
/// *started after* that rename had *completed* before the answer was sent.
/// A 204 to a DELETE likewise needs a directory flush after its unlink.
/// Threads (a worker and its flusher) share descriptors; worker processes do not.
fn check_flush_order(text: &str) -> FlushOrder {
    let mut group: HashMap<String, String> = HashMap::new(); // thread -> its process
    let mut pending: HashMap<String, (usize, String)> = HashMap::new(); // unfinished calls
    let mut request_socket: HashMap<String, String> = HashMap::new(); // thread -> socket of its last head
    let mut method: HashMap<(String, String), String> = HashMap::new(); // socket -> its last request's method
    let mut tmp_of_fd: HashMap<(String, String), String> = HashMap::new();
    let mut socket_of_tmp: HashMap<String, (String, String)> = HashMap::new();
    let mut synced: HashSet<String> = HashSet::new();
    let mut changed: HashMap<(String, String), usize> = HashMap::new(); // socket -> its rename or unlink done at
    let mut flushes: Vec<(usize, usize)> = Vec::new(); // directory flushes: (start, end)
    let mut answers = 0;
    let mut deletes = 0;
    let quoted = |l: &str, n: usize| l.split('"').nth(n).unwrap_or("").to_string();
    let first_arg = |l: &str| {
        let inner = &l[l.find('(').unwrap() + 1..];
        inner.split([',', ')']).next().unwrap().trim().to_string()
    };
    for (at, raw) in text.lines().enumerate() {
        // "PID  call(...)": strace pads the thread id
        let Some((tid, rest)) = raw.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let tid = tid.to_string();
        let g = group.get(&tid).cloned().unwrap_or_else(|| tid.clone());
        // the call's text and when it started
        let (started, call) = if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((start, head)) = pending.remove(&tid) else {
                continue;
            };
            let tail = resumed.split_once("resumed>").map(|x| x.1).unwrap_or("");
            (start, format!("{head}{tail}"))
        } else if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            if head.starts_with("sendto(") && is_2xx(head) {
                // an answer counts from when it starts to go out
                let key = (g.clone(), first_arg(head));
                let counter = if method[&key] == "DELETE" {
                    &mut deletes
                } else {
                    &mut answers
                };
                *counter += 1;
                check_answer(head, at, changed.remove(&key), &flushes);
            }
            pending.insert(tid, (at, head.to_string()));
            continue;
        } else {
            (at, rest.to_string())
        };
        let ok = call.trim_end().ends_with("= 0");
        let ret = call.rsplit("= ").next().unwrap_or("").trim().to_string();
        if call.starts_with("clone(") && call.contains("CLONE_THREAD") {
            group.insert(ret, g.clone());
        } else if call.starts_with("read(")
            && ["PUT /", "DELETE /"]
                .iter()
                .any(|m| quoted(&call, 1).starts_with(m))
        {
            let socket = first_arg(&call);
            let m = quoted(&call, 1).split(' ').next().unwrap().to_string();
            method.insert((g.clone(), socket.clone()), m);
            request_socket.insert(tid.clone(), socket);
        } else if call.starts_with("openat(") && quoted(&call, 1).starts_with(".tmp-") {
            let name = quoted(&call, 1);
            if name.contains("probe") {
                continue;
            }
            let socket = request_socket
                .get(&tid)
                .cloned()
                .expect("an upload without its request");
            tmp_of_fd.insert((g.clone(), ret), name.clone());
            socket_of_tmp.insert(name, (g.clone(), socket));
        } else if call.starts_with("fdatasync(") {
            assert!(ok, "{call}");
            synced.insert(tmp_of_fd[&(g.clone(), first_arg(&call))].clone());
        } else if call.starts_with("renameat") && ok {
            let name = quoted(&call, 1);
            assert!(
                synced.contains(&name),
                "renamed before its data was flushed: {call}"
            );
            changed.insert(socket_of_tmp[&name].clone(), at);
        } else if call.starts_with("unlinkat(") && ok && !quoted(&call, 1).starts_with(".tmp-") {
            changed.insert((g.clone(), request_socket[&tid].clone()), at);
        } else if call.starts_with("fsync(") {
            assert!(ok, "{call}");
            flushes.push((started, at));
        } else if call.starts_with("sendto(") && started == at && is_2xx(&call) {
            let key = (g.clone(), first_arg(&call));
            let counter = if method[&key] == "DELETE" {
                &mut deletes
            } else {
                &mut answers
            };
            *counter += 1;
            check_answer(&call, at, changed.remove(&key), &flushes);
        }
    }
    FlushOrder {
        answers,
        deletes,
        dir_flushes: flushes.len(),
    }
}

type Socket = (String, String); // (process, fd)

/// Checks one 2xx answer of the log engine (see check_log_flush_order).
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

fn check_answer(call: &str, at: usize, changed_at: Option<usize>, flushes: &[(usize, usize)]) {
    let changed_at =
        changed_at.unwrap_or_else(|| panic!("an answer without its rename or unlink: {call}"));
    assert!(
        flushes
            .iter()
            .any(|&(start, end)| start > changed_at && end < at),
        "answered before the directory was flushed after its change: {call}"
    );
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
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
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
    if log_engine() {
        // the room of a deleted value comes back only by compaction
        return;
    }
    // room again: writes succeed
    assert_eq!(delete(&a, &s.url("/first")).status, 204);
    assert_eq!(put(&a, &s.url("/second"), &pattern(600_000, 2)).status, 201);
    assert_eq!(get(&a, &s.url("/second")).body, pattern(600_000, 2));
    drop(s);
}

#[test]
fn storage_errors_answer_500_and_the_server_stays_up() {
    if log_engine() {
        // the log engine holds its segment open for writing, so the file
        // system cannot be remounted read-only under it
        return;
    }
    let Some(disk) = SmallDisk::mount("4m") else {
        return;
    };
    let data = disk.dir.path().join("data");
    let s = Server::start_in(&data, &[]);
    let a = agent();
    assert_eq!(put(&a, &s.url("/kept"), b"before").status, 201);
    // the file system turns read-only under the running server
    let ro = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(disk.dir.path())
        .status()
        .unwrap();
    assert!(ro.success());
    let r = put(&a, &s.url("/kept"), b"after");
    assert_eq!(r.status, 500, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body, b"storage error\n");
    assert_eq!(delete(&agent(), &s.url("/kept")).status, 500);
    assert_eq!(get(&agent(), &s.url("/kept")).body, b"before");
    // writable again: the server recovers by itself
    let rw = Command::new("mount")
        .args(["-o", "remount,rw"])
        .arg(disk.dir.path())
        .status()
        .unwrap();
    assert!(rw.success());
    assert_eq!(put(&agent(), &s.url("/kept"), b"after").status, 204);
    assert_eq!(get(&agent(), &s.url("/kept")).body, b"after");
}

/// A failure inside the group commit (here: renaming over a directory that an
/// operator left where a key's file would be) answers 500 to that upload
/// only, leaves no temporary file, and the other uploads of the same moment
/// and later ones are committed as usual.
#[test]
fn a_failed_commit_answers_500_to_its_upload_only() {
    if log_engine() {
        // a file in the way of a key's file: the files engine's failure only
        return;
    }
    let s = Server::start();
    std::fs::create_dir(s.data.join("blocked")).unwrap();
    let uploads: Vec<_> = (0..8)
        .map(|i| {
            let url = if i == 0 {
                s.url("/blocked")
            } else {
                s.url(&format!("/fine{i}"))
            };
            thread::spawn(move || put(&agent(), &url, &pattern(3000, i)).status)
        })
        .collect();
    let statuses: Vec<u16> = uploads.into_iter().map(|u| u.join().unwrap()).collect();
    assert_eq!(statuses[0], 500, "{statuses:?}");
    assert!(statuses[1..].iter().all(|&st| st == 201), "{statuses:?}");
    let a = agent();
    for i in 1..8 {
        assert_eq!(get(&a, &s.url(&format!("/fine{i}"))).body, pattern(3000, i));
    }
    assert_eq!(get(&a, &s.url("/blocked")).status, 404);
    assert_eq!(put(&a, &s.url("/after"), b"v").status, 201);
    // the request was read whole: the connection stays usable after the 500
    let mut c = Raw::connect(s.addr);
    c.send(b"PUT /blocked HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    c.send(b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    let failed = c.response();
    assert_eq!(failed.status, 500);
    assert_eq!(failed.header("connection"), None);
    assert_eq!(c.response().body, b"v");
    assert!(s.data.join("blocked").is_dir());
    let left: Vec<String> = files_in(&s.data)
        .into_iter()
        .filter(|f| f.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
