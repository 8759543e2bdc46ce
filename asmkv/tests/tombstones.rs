//! Deleted keys are given back on disk: compaction drops a delete's record
//! (its tombstone) once no older record of its key is left in any segment
//! (Bitcask's rule), and never before, so a deleted key stays deleted and an
//! overwritten value never comes back, across compactions and restarts. The
//! disk is read with the harness's own segment reader, not through the server.
mod common;
use common::*;

use std::path::Path;
use std::time::{Duration, Instant};

/// Every sealed record of every segment.
fn records(dir: &Path) -> Vec<Record> {
    files_in(dir)
        .into_iter()
        .filter(|n| is_segment(n))
        .flat_map(|n| segment_records(dir, &n))
        .filter(|r| r.sealed)
        .collect()
}

fn records_of(dir: &Path, key: &str) -> Vec<Record> {
    records(dir).into_iter().filter(|r| r.key == key).collect()
}

/// Waits (up to `limit`) for `done` to hold of the disk; fails with `what`
/// and what the disk holds.
fn wait_disk(dir: &Path, limit: Duration, what: &str, done: impl Fn(&[Record]) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        let r = records(dir);
        if done(&r) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} records on disk, e.g. {:?}",
            r.len(),
            r.iter()
                .take(5)
                .map(|r| (&r.key, r.value.is_some(), &r.segment))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A clean stop and a start that reads the segments (not the index's image):
/// what is on disk is what these tests are about.
fn restart(s: Server, dir: &Path, args: &[&str]) -> Server {
    s.stop();
    wait_unlocked(dir);
    forget_image(dir);
    Server::start_in(dir, args)
}

/// Keys made and removed all day leave nothing behind: once the load stops,
/// compaction gives back the values and then the tombstones, until the disk
/// holds only the live keys' records; the same after a restart.
#[test]
fn churn_gives_the_disk_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--workers", "1"];
    let s = Server::start_in(&dir, &args);
    let a = agent();
    for i in 0..100 {
        assert_eq!(put(&a, &s.url(&format!("/live{i}")), b"stays").status, 201);
    }
    for i in 0..3000 {
        let url = s.url(&format!("/churn{i}"));
        assert_eq!(put(&a, &url, &pattern(40, i)).status, 201);
        assert_eq!(delete(&a, &url).status, 204);
    }
    let only_live = |r: &[Record]| r.len() == 100 && r.iter().all(|r| r.key.starts_with("live"));
    wait_disk(&dir, Duration::from_secs(60), "not given back", only_live);
    for i in (0..3000).step_by(97) {
        assert_eq!(get(&a, &s.url(&format!("/churn{i}"))).status, 404);
    }
    let s = restart(s, &dir, &args);
    assert!(only_live(&records(&dir)), "the same after a restart");
    for i in (0..3000).step_by(97) {
        assert_eq!(get(&a, &s.url(&format!("/churn{i}"))).status, 404);
    }
    for i in 0..100 {
        assert_eq!(get(&a, &s.url(&format!("/live{i}"))).body, b"stays");
    }
}

/// A tombstone is kept while an older record of its key is on disk: the
/// first value of K sits in a segment of live keys that is never compacted
/// while the overwrite and the delete are, and K stays deleted through
/// compactions and restarts. Once that old segment is compacted too, the
/// tombstone goes, and K is still absent.
#[test]
fn a_deleted_key_never_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--workers", "1"];
    let a = agent();
    // session 1: K's first value among 200 live keys (a segment of its own,
    // too little of it dead ever to be compacted)
    let s = Server::start_in(&dir, &args);
    assert_eq!(put(&a, &s.url("/K"), b"first").status, 201);
    for i in 0..200 {
        assert_eq!(put(&a, &s.url(&format!("/f{i}")), b"filler").status, 201);
    }
    // session 2: K overwritten, then deleted, in a newer segment
    let s = restart(s, &dir, &args);
    assert_eq!(put(&a, &s.url("/K"), b"second").status, 204);
    assert_eq!(delete(&a, &s.url("/K")).status, 204);
    let first_seg = records_of(&dir, "K")
        .into_iter()
        .find(|r| r.value.as_deref() == Some(b"first"))
        .unwrap()
        .segment;
    // the newer segment is compacted (its value is dead); the tombstone
    // must survive it, as the first value is still on disk
    wait_disk(&dir, Duration::from_secs(60), "second value kept", |r| {
        !r.iter()
            .any(|r| r.key == "K" && r.value.as_deref() == Some(b"second"))
    });
    let k = records_of(&dir, "K");
    assert!(
        k.iter().any(|r| r.value.is_none()),
        "the tombstone was dropped while an older value is on disk: {k:?}"
    );
    assert!(k.iter().any(|r| r.segment == first_seg));
    assert_eq!(get(&a, &s.url("/K")).status, 404);
    // a restart reads the old value and the tombstone: still deleted
    let s = restart(s, &dir, &args);
    assert_eq!(get(&a, &s.url("/K")).status, 404);
    // the fillers overwritten: the old segment is compacted, its value of K
    // goes, and then the tombstone (the only record of K left) goes too
    for i in 0..200 {
        assert_eq!(put(&a, &s.url(&format!("/f{i}")), b"again").status, 204);
    }
    wait_disk(&dir, Duration::from_secs(60), "K not given back", |r| {
        !r.iter().any(|r| r.key == "K")
    });
    assert_eq!(get(&a, &s.url("/K")).status, 404);
    let s = restart(s, &dir, &args);
    assert_eq!(get(&a, &s.url("/K")).status, 404);
    assert!(records_of(&dir, "K").is_empty());
    for i in (0..200).step_by(13) {
        assert_eq!(get(&a, &s.url(&format!("/f{i}"))).body, b"again");
    }
}

/// A hint file whose segment is gone is removed at startup: segment ids are
/// handed out again after a restart, and a hint outliving its segment would
/// be read as the index of a newer segment of the same id (and, with
/// tombstones dropped, could bring back a deleted key's old records).
#[test]
fn a_hint_without_its_segment_is_removed_at_startup() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--workers", "1"];
    let s = Server::start_in(&dir, &args);
    assert_eq!(put(&agent(), &s.url("/k"), b"v").status, 201);
    s.stop();
    wait_unlocked(&dir);
    std::fs::write(dir.join("999.hint"), b"AKH1 not a hint of anything").unwrap();
    std::fs::write(dir.join("998.hint"), b"").unwrap();
    let s = Server::start_in(&dir, &args);
    let files = files_in(&dir);
    assert!(
        !files.iter().any(|f| f == "999.hint" || f == "998.hint"),
        "{files:?}"
    );
    assert_eq!(get(&agent(), &s.url("/k")).body, b"v");
}

/// A segment whose removal fails (here: made immutable, so unlink is EPERM)
/// is not taken for gone: its records stay counted, so a tombstone of a key
/// whose old value it holds is kept through compactions and restarts; once
/// the segment can be removed, it is, and then the tombstone goes too.
#[test]
fn a_segment_that_cannot_be_removed_keeps_its_keys_deleted() {
    const T: &str = "a_segment_that_cannot_be_removed_keeps_its_keys_deleted";
    if !need(T, "chattr", "e2fsprogs") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ["--workers", "1"];
    let a = agent();
    let s = Server::start_in(&dir, &args);
    assert_eq!(put(&a, &s.url("/K"), b"first").status, 201);
    for i in 0..50 {
        assert_eq!(put(&a, &s.url(&format!("/f{i}")), b"filler").status, 201);
    }
    let s = restart(s, &dir, &args);
    let old = records_of(&dir, "K").remove(0).segment;
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(dir.join(&old))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
    };
    if !chattr("+i") {
        skip(
            T,
            "cannot make a file immutable here (needs root and a file system with chattr +i)",
        );
        return;
    }
    // K overwritten and deleted in a newer segment, which is compacted: the
    // tombstone is copied (K's first value is still on disk)
    assert_eq!(put(&a, &s.url("/K"), b"second").status, 204);
    assert_eq!(delete(&a, &s.url("/K")).status, 204);
    wait_disk(&dir, Duration::from_secs(60), "second value kept", |r| {
        !r.iter()
            .any(|r| r.key == "K" && r.value.as_deref() == Some(b"second"))
    });
    // then the old segment all dead: compaction takes it, and cannot remove it
    for i in 0..50 {
        assert_eq!(put(&a, &s.url(&format!("/f{i}")), b"again").status, 204);
    }
    std::thread::sleep(Duration::from_secs(8)); // rounds that try to remove it
    let k = records_of(&dir, "K");
    let kept = k.iter().any(|r| r.value.is_none());
    let first = k.iter().any(|r| r.segment == old);
    let s = restart(s, &dir, &args);
    let after_restart = get(&a, &s.url("/K")).status;
    assert!(chattr("-i"));
    assert!(first, "the immutable segment is gone?");
    assert!(
        kept,
        "tombstone dropped while the old value is on disk: {k:?}"
    );
    assert_eq!(after_restart, 404, "K came back");
    // removable again: it goes, and so does K's tombstone
    for i in 0..50 {
        assert_eq!(put(&a, &s.url(&format!("/f{i}")), b"third").status, 204);
    }
    wait_disk(&dir, Duration::from_secs(60), "K not given back", |r| {
        !r.iter().any(|r| r.key == "K")
    });
    assert_eq!(get(&a, &s.url("/K")).status, 404);
}
