//! The index's image (`.asmkv-index`): a clean stop saves it, the next start
//! reads it instead of the segments and removes it before any write, and an
//! image that does not match itself or the segments (a flipped byte, a cut,
//! a segment changed, added or taken away since) is not believed: the
//! segments are read as always. Each case checks every key against a model.
mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

/// Keys made, overwritten and deleted, some under directories: the model of
/// what the store holds.
fn fill(s: &Server, from: usize, model: &mut BTreeMap<String, Option<Vec<u8>>>) {
    let a = agent();
    for i in from..from + 3000 {
        let k = if i % 3 == 0 {
            format!("d{}/k{i}", i % 7)
        } else {
            format!("k{i}")
        };
        let v = pattern(20 + i % 50, i as u64);
        assert!(put(&a, &s.url(&format!("/{k}")), &v).status < 300);
        model.insert(k, Some(v));
    }
    for i in (from..from + 3000).step_by(5) {
        let k = if i % 3 == 0 {
            format!("d{}/k{i}", i % 7)
        } else {
            format!("k{i}")
        };
        if i % 2 == 0 {
            assert_eq!(delete(&a, &s.url(&format!("/{k}"))).status, 204);
            model.insert(k, None);
        } else {
            let v = pattern(30, i as u64 + 1);
            assert_eq!(put(&a, &s.url(&format!("/{k}")), &v).status, 204);
            model.insert(k, Some(v));
        }
    }
}

/// Every key reads back as the model says, and the listings of the root and
/// of each directory are exactly the keys that have a value.
fn check(s: &Server, model: &BTreeMap<String, Option<Vec<u8>>>) {
    let a = agent();
    for (k, v) in model {
        let r = get(&a, &s.url(&format!("/{k}")));
        match v {
            Some(v) => assert_eq!(&r.body, v, "{k}"),
            None => assert_eq!(r.status, 404, "{k}"),
        }
    }
    for d in 0..7 {
        let mut listed: Vec<String> = parse_listing(&get(&a, &s.url(&format!("/d{d}/"))).body)
            .into_iter()
            .map(|e| format!("d{d}/{}", String::from_utf8_lossy(&e.name)))
            .collect();
        listed.sort();
        let want: Vec<String> = model
            .iter()
            .filter(|(k, v)| v.is_some() && k.starts_with(&format!("d{d}/")))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(listed, want, "listing of d{d}/");
    }
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A store on `dir` (its error log in `log`) filled by `fill`, and its model.
fn filled(dir: &Path, log: &Path) -> (Server, BTreeMap<String, Option<Vec<u8>>>) {
    let mut model = BTreeMap::new();
    let s = Server::start_logged(dir, &[], log);
    fill(&s, 0, &mut model);
    (s, model)
}

fn restart(s: Server, dir: &Path, log: &Path) -> Server {
    assert!(s.stop().success());
    wait_unlocked(dir);
    Server::start_logged(dir, &[], log)
}

#[test]
fn a_clean_stop_saves_the_index_and_the_next_start_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let log = tmp.path().join("err.log");
    let (s, mut model) = filled(&dir, &log);
    assert!(s.stop().success());
    assert!(
        log_of(&log).contains("index saved (.asmkv-index)"),
        "{}",
        log_of(&log)
    );
    assert!(dir.join(".asmkv-index").exists());
    wait_unlocked(&dir);
    let s = Server::start_logged(&dir, &[], &log);
    assert!(
        log_of(&log).contains("index read from .asmkv-index"),
        "{}",
        log_of(&log)
    );
    assert!(
        !dir.join(".asmkv-index").exists(),
        "removed before any write"
    );
    check(&s, &model);
    // writes after it, then a crash: no image, and a start that reads the
    // segments finds them all
    fill(&s, 3000, &mut model);
    s.crash();
    assert!(!dir.join(".asmkv-index").exists());
    let s = Server::start_logged(&dir, &[], &log);
    assert!(!log_of(&log).contains("index read from .asmkv-index"));
    check(&s, &model);
    // and a second clean stop and start, from that
    let s = restart(s, &dir, &log);
    assert!(log_of(&log).contains("index read from .asmkv-index"));
    check(&s, &model);
    // a run in which a process died saves no image: what it left behind
    // (counts kept high, a node leaked) only a full read of the segments clears
    let victim = s.workers()[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(s.stop().success());
    assert!(!dir.join(".asmkv-index").exists());
    assert!(!log_of(&log).contains("index saved"));
}

#[test]
fn an_image_that_does_not_match_is_not_believed() {
    type Tamper = fn(&Path);
    let cases: [(&str, Tamper); 6] = [
        ("a byte flipped in the image", |d| {
            let p = d.join(".asmkv-index");
            let mut b = std::fs::read(&p).unwrap();
            let at = b.len() * 2 / 3;
            b[at] ^= 0x10;
            std::fs::write(&p, b).unwrap();
        }),
        ("the image cut short", |d| {
            let p = d.join(".asmkv-index");
            let b = std::fs::read(&p).unwrap();
            std::fs::write(&p, &b[..b.len() - 100]).unwrap();
        }),
        ("its header changed", |d| {
            let p = d.join(".asmkv-index");
            let mut b = std::fs::read(&p).unwrap();
            b[24] ^= 1;
            std::fs::write(&p, b).unwrap();
        }),
        ("a segment longer than listed", |d| {
            let seg = files_in(d).into_iter().find(|n| is_segment(n)).unwrap();
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(d.join(seg))
                .unwrap();
            std::io::Write::write_all(&mut f, &[0; 8]).unwrap();
        }),
        ("a segment replaced by a copy with its times", |d| {
            let seg = files_in(d).into_iter().find(|n| is_segment(n)).unwrap();
            let p = d.join(seg);
            let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
            let copy = d.join("copy");
            std::fs::copy(&p, &copy).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&copy)
                .unwrap()
                .set_modified(modified)
                .unwrap();
            std::fs::rename(&copy, &p).unwrap();
        }),
        ("a segment changed in place", |d| {
            let seg = files_in(d).into_iter().find(|n| is_segment(n)).unwrap();
            let p = d.join(seg);
            let b = std::fs::read(&p).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::fs::write(&p, b).unwrap();
        }),
    ];
    for (what, tamper) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let log = tmp.path().join("err.log");
        let (s, model) = filled(&dir, &log);
        assert!(s.stop().success());
        wait_unlocked(&dir);
        tamper(&dir);
        let s = Server::start_logged(&dir, &[], &log);
        let text = log_of(&log);
        assert!(
            text.contains(".asmkv-index did not match the segments or itself"),
            "{what}: {text}"
        );
        assert!(
            !text.contains("index read from .asmkv-index"),
            "{what}: {text}"
        );
        assert!(!dir.join(".asmkv-index").exists(), "{what}");
        check(&s, &model);
    }
}

/// A segment taken away (with its hint) or one added beside those the image
/// lists (another store's, copied in) makes the image not the store's.
#[test]
fn an_image_is_believed_only_with_exactly_its_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let log = tmp.path().join("err.log");
    let (s, model) = filled(&dir, &log);
    let s = restart(s, &dir, &log);
    // a key written after the restart goes into a segment of its own; that
    // segment taken away, the image would still name the key
    let before: Vec<String> = files_in(&dir)
        .into_iter()
        .filter(|n| is_segment(n))
        .collect();
    let a = agent();
    assert_eq!(put(&a, &s.url("/lonely"), b"one").status, 201);
    assert!(s.stop().success());
    wait_unlocked(&dir);
    let mut removed = 0;
    for n in files_in(&dir) {
        let stem = n.split('.').next().unwrap();
        let old = before.iter().any(|b| b.split('.').next() == Some(stem));
        if !old && n != ".asmkv-index" {
            std::fs::remove_file(dir.join(&n)).unwrap();
            removed += 1;
        }
    }
    assert!(removed > 0);
    let s = Server::start_logged(&dir, &[], &log);
    let stale = ".asmkv-index did not match the segments or itself";
    assert!(log_of(&log).contains(stale), "{}", log_of(&log));
    assert_eq!(get(&a, &s.url("/lonely")).status, 404);
    check(&s, &model);
    // a segment copied in from elsewhere
    assert!(s.stop().success());
    wait_unlocked(&dir);
    std::fs::copy(dir.join(&before[0]), dir.join("999.seg")).unwrap();
    let s = Server::start_logged(&dir, &[], &log);
    assert!(log_of(&log).contains(stale), "{}", log_of(&log));
    check(&s, &model);
}
