//! The error log: one line per event on stderr, "TIME asmkv[PID]: MESSAGE",
//! TIME in ISO 8601: startup, a worker's death and restart, storage errors
//! behind a 500 (counted, reported once a second), graceful stop.
mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn lines(log: &Path) -> Vec<(u32, String)> {
    let mut text = String::new();
    std::fs::File::open(log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(log_line).collect()
}

/// Waits (up to 10 s) for a line whose message contains `want`.
fn wait_for(log: &Path, want: &str) -> (u32, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(l) = lines(log).into_iter().find(|(_, m)| m.contains(want)) {
            return l;
        }
        assert!(
            Instant::now() < deadline,
            "no {want:?} in the error log: {:?}",
            lines(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn start_worker_death_and_stop_are_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr");
    let s = Server::start_logged(&tmp.path().join("data"), &[], &log);
    let master = s.pid() as u32;
    // written before the listening line, so it is there now
    assert_eq!(lines(&log), vec![(master, "started".to_string())]);
    let victim = s.workers()[0];
    kill(Pid::from_raw(victim), Signal::SIGKILL).unwrap();
    let (pid, msg) = wait_for(&log, "exited");
    assert_eq!(pid, master);
    assert_eq!(
        msg,
        format!("a worker exited unexpectedly; starting another: pid {victim}, killed by signal 9")
    );
    assert!(s.stop().success());
    let all = lines(&log);
    let msgs: Vec<&str> = all.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        &msgs[msgs.len() - 2..],
        [
            "stopping: no new connections; finishing the requests in flight",
            "stopped"
        ]
    );
    assert!(all.iter().all(|(p, _)| *p == master));
}

/// A stored record that fails its checksum answers 500, and the worker says
/// so in the error log - once a second at most, with the count.
#[test]
fn a_record_failing_its_checksum_is_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr");
    let data = tmp.path().join("data");
    let s = Server::start_logged(&data, &["--workers", "1"], &log);
    let a = agent();
    put(&a, &s.url("/k"), b"a value that will rot on disk");
    // flip one byte of the value in its segment, under the running server
    let seg = files_in(&data).into_iter().find(|n| is_segment(n)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(data.join(&seg))
        .unwrap();
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).unwrap();
    let at = bytes.windows(4).position(|w| w == b"rot ").unwrap();
    f.seek(SeekFrom::Start(at as u64)).unwrap();
    f.write_all(b"R").unwrap();
    for _ in 0..3 {
        assert_eq!(get(&a, &s.url("/k")).status, 500);
    }
    let (pid, msg) = wait_for(&log, "checksum");
    assert_eq!(pid, s.workers()[0] as u32, "the worker that read it");
    assert_eq!(
        msg,
        "3 records that failed their checksum when read (500) in the last second: input/output error"
    );
    // nothing more to report: no more lines about it
    std::thread::sleep(Duration::from_millis(2500));
    let n = lines(&log)
        .iter()
        .filter(|(_, m)| m.contains("checksum"))
        .count();
    assert_eq!(n, 1);
}
