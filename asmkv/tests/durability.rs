//! The order of flushes behind the durability promise, observed with strace on
//! the real server: data flushed before the rename, directory flushed before the 2xx.
mod common;
use common::*;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::thread;

#[test]
fn durable_puts_flush_data_then_rename_then_directory_then_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let trace = tmp.path().join("trace");
    let mut child = Command::new("strace")
        .args(["-ff", "-qq", "-s", "64", "-e"])
        .arg("trace=openat,fdatasync,fsync,renameat,renameat2,sendto")
        .arg("-o")
        .arg(&trace)
        .args([BIN, "--listen", "127.0.0.1:0", "--workers", "2", "--data"])
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
                for i in 0..25 {
                    let url = format!("http://{addr}/k{}", (t * 25 + i) % 60);
                    let st = put(&a, &url, &pattern(5000, i)).status;
                    assert!(st == 201 || st == 204);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
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

    let mut answers = 0;
    let mut dir_flushes = 0;
    for entry in std::fs::read_dir(tmp.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("trace.") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let mut tmp_of_fd: HashMap<String, String> = HashMap::new();
        let mut synced: HashSet<String> = HashSet::new();
        // A worker serves many connections, and an answer may be sent a little
        // after others' work (it yields between steps), so the check is: when any
        // 2xx goes out, no rename of this process is still waiting for its
        // directory flush, and there were at least as many renames as answers.
        let mut unflushed_rename = false;
        let mut renames = 0;
        let mut local_answers = 0;
        for l in text.lines() {
            if l.starts_with("openat(") && l.contains("\".tmp-") && !l.contains("probe") {
                let tmp = l.split('"').nth(1).unwrap().to_string();
                let fd = l.rsplit("= ").next().unwrap().trim().to_string();
                tmp_of_fd.insert(fd, tmp);
            } else if let Some(rest) = l.strip_prefix("fdatasync(") {
                let fd = rest.split(')').next().unwrap();
                assert!(l.ends_with("= 0"), "{l}");
                synced.insert(tmp_of_fd[fd].clone());
            } else if l.starts_with("renameat") {
                let tmp = l.split('"').nth(1).unwrap();
                if l.ends_with("= 0") {
                    assert!(
                        synced.contains(tmp),
                        "renamed before its data was flushed: {l}"
                    );
                    unflushed_rename = true;
                    renames += 1;
                }
            } else if l.starts_with("fsync(") {
                assert!(l.ends_with("= 0"), "{l}");
                unflushed_rename = false;
            } else if l.starts_with("sendto(")
                && (l.contains("\"HTTP/1.1 201") || l.contains("\"HTTP/1.1 204"))
            {
                assert!(
                    !unflushed_rename,
                    "answered before the directory was flushed: {l}"
                );
                local_answers += 1;
                assert!(renames >= local_answers, "an answer without a rename: {l}");
            }
        }
        answers += local_answers;
        dir_flushes += text.lines().filter(|l| l.starts_with("fsync(")).count();
    }
    assert_eq!(answers, 200, "every acknowledged PUT was checked");
    eprintln!("{answers} acknowledged writes, {dir_flushes} directory flushes");
    // group commit: concurrent writes share directory flushes
    assert!(
        dir_flushes < answers,
        "{dir_flushes} directory flushes for {answers} writes"
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
        files_in(&data),
        vec!["first".to_string()],
        "no temporary file left"
    );
    // room again: writes succeed
    assert_eq!(delete(&a, &s.url("/first")).status, 204);
    assert_eq!(put(&a, &s.url("/second"), &pattern(600_000, 2)).status, 201);
    assert_eq!(get(&a, &s.url("/second")).body, pattern(600_000, 2));
    drop(s);
}

#[test]
fn storage_errors_answer_500_and_the_server_stays_up() {
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
