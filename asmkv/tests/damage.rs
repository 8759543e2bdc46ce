//! Damage in a segment costs only the damaged records. A start that reads a
//! segment and meets a record that does not check out tells a torn tail (the
//! end of the file, a crash mid-append) from damage (anywhere else): it finds
//! the next intact record, keeps everything intact, and reports each damaged
//! span or record in the error log and the metrics. A key whose newest
//! record is damaged but still names it answers 500, never an older value nor
//! a 404. Compaction never removes a segment with damage in it.
mod common;
use common::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Keys a session writes; three sessions make three segments.
const PER_SESSION: usize = 1000;
const SESSIONS: usize = 3;
const ARGS: [&str; 4] = ["--workers", "1", "--metrics", "127.0.0.1:0"];

fn key(i: usize) -> String {
    format!("d{i:05}")
}

fn value(i: usize) -> Vec<u8> {
    pattern(1024, i as u64)
}

/// Starts on `dir` with its error log in `log`; returns the server and its
/// metrics address.
fn start(dir: &Path, log: &Path) -> (Server, SocketAddr) {
    let mut s = Server::start_logged(dir, &ARGS, log);
    let m = metrics_addr(&mut s);
    (s, m)
}

fn stop(s: Server, dir: &Path) {
    s.stop();
    wait_unlocked(dir);
}

/// PUTs (or GETs) keys [from, to), pipelined; GETs return each answer's
/// status and body.
fn put_keys(addr: SocketAddr, from: usize, to: usize, value: impl Fn(usize) -> Vec<u8>) {
    let mut c = Raw::connect(addr);
    for start in (from..to).step_by(100) {
        let end = (start + 100).min(to);
        let mut req = Vec::new();
        for i in start..end {
            let v = value(i);
            req.extend_from_slice(
                format!(
                    "PUT /{} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    key(i),
                    v.len()
                )
                .as_bytes(),
            );
            req.extend_from_slice(&v);
        }
        c.send(&req);
        for i in start..end {
            assert!(matches!(c.response().status, 201 | 204), "{}", key(i));
        }
    }
}

fn get_keys(addr: SocketAddr, n: usize) -> Vec<(u16, Vec<u8>)> {
    let mut c = Raw::connect(addr);
    let mut out = Vec::new();
    for start in (0..n).step_by(100) {
        let end = (start + 100).min(n);
        let mut req = Vec::new();
        for i in start..end {
            req.extend_from_slice(
                format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", key(i)).as_bytes(),
            );
        }
        c.send(&req);
        for _ in start..end {
            let w = c.response();
            out.push((w.status, w.body));
        }
    }
    out
}

/// Reads keys [0, n) and checks that each answers 200 with its value, but
/// key `damaged` (if any), which must answer `want`.
fn reads_back(addr: SocketAddr, n: usize, damaged: Option<usize>, want: u16, what: &str) {
    for (i, (status, body)) in get_keys(addr, n).iter().enumerate() {
        if Some(i) == damaged {
            assert_eq!(*status, want, "{what}: the damaged key");
        } else {
            let expected = (200, value(i));
            assert_eq!((*status, body.clone()), expected, "{what}: {}", key(i));
        }
    }
}

/// The segment that holds a record of key `i`, and that record.
fn record_of(dir: &Path, i: usize) -> (String, Record) {
    files_in(dir)
        .into_iter()
        .filter(|f| is_segment(f))
        .find_map(|f| {
            let r = segment_records(dir, &f)
                .into_iter()
                .find(|r| r.key == key(i))?;
            Some((f, r))
        })
        .unwrap_or_else(|| panic!("no record of {}", key(i)))
}

/// A store of three sessions' keys, each session's in a segment of its own,
/// the server then started once more until every segment is sealed (its
/// segments are old: none was being written at a crash), and no hint nor
/// image left, so a start reads every segment. Returns the directory, the
/// middle segment's name and its records.
fn old_store(tmp: &Path) -> (PathBuf, String, Vec<Record>) {
    let sessions = [0, PER_SESSION, 2 * PER_SESSION, 3 * PER_SESSION];
    sessions_store(tmp, "pristine", &sessions)
}

/// `old_store` with sessions writing keys [at[i], at[i + 1]).
fn sessions_store(tmp: &Path, name: &str, at: &[usize]) -> (PathBuf, String, Vec<Record>) {
    let dir = tmp.join(name);
    let log = tmp.join("setup.log");
    for w in at.windows(2) {
        let (srv, _) = start(&dir, &log);
        put_keys(srv.addr, w[0], w[1], value);
        stop(srv, &dir);
    }
    let (srv, _) = start(&dir, &log);
    let segments = || files_in(&dir).into_iter().filter(|f| is_segment(f)).count();
    wait_for("every segment sealed", || seals(&dir).len() == segments());
    stop(srv, &dir);
    for f in files_in(&dir) {
        if is_hint(&f) {
            std::fs::remove_file(dir.join(&f)).unwrap();
        }
    }
    forget_image(&dir);
    let (middle, _) = record_of(&dir, at[1]);
    let records = segment_records(&dir, &middle);
    assert_eq!(records.len(), at[2] - at[1], "{middle}");
    (dir, middle, records)
}

/// A copy of `from` in `to` (a directory of segments only).
fn copy_store(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for f in files_in(from) {
        std::fs::copy(from.join(&f), to.join(&f)).unwrap();
    }
}

/// The error log's lines about damage.
fn reports(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("damaged"))
        .map(str::to_string)
        .collect()
}

/// One damage: what is hit, where, how many bytes zeroed (0: one bit
/// flipped: 0x10, or 0x02 in the magic's last byte, which makes "AKV1" the
/// "AKV3" of a newer format), and how it must show.
#[derive(Clone, Copy)]
struct Case {
    how: &'static str,
    at: usize,
    zero: usize,
    shows: Shows,
}

/// How one damaged record is reported after a restart, and what its key
/// answers then (no older value of it exists here).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shows {
    /// its header is gone: a span, with its place; the key is not known
    /// (404)
    Span,
    /// its header is whole: the record, with its place and its key; the
    /// key answers 500
    Record,
    /// zeros, as a write a crash cut short leaves them: not reported
    Torn,
}

/// Damages one record of the middle segment of a copy of the store, starts
/// on it and checks: that record's key has no value, every other key reads
/// back its value, and the report is as `shows` says.
fn check_damage(tmp: &Path, pristine: &Path, seg: &str, r: &Record, case: Case) {
    let Case {
        how,
        at,
        zero,
        shows,
    } = case;
    let what = format!(
        "{how} at {} of the record at {} ({} bytes)",
        at - r.offset,
        r.offset,
        r.len
    );
    let dir = tmp.join("damaged");
    copy_store(pristine, &dir);
    let path = dir.join(seg);
    let mut b = std::fs::read(&path).unwrap();
    if zero > 0 {
        b[at..at + zero].fill(0);
    } else if at == r.offset + 3 {
        b[at] ^= 0x02;
    } else {
        b[at] ^= 0x10;
    }
    std::fs::write(&path, &b).unwrap();
    let log = tmp.join("damaged.log");
    let (s, m) = start(&dir, &log);
    let damaged: usize = r.key[1..].parse().unwrap();
    // a record whose key is known answers 500 (its newest write is damaged);
    // one whose header is gone, or torn, cannot be told from no write
    let want = if shows == Shows::Record { 500 } else { 404 };
    reads_back(s.addr, SESSIONS * PER_SESSION, Some(damaged), want, &what);
    let lines = reports(&log);
    if shows == Shows::Torn {
        assert_eq!(lines, Vec::<String>::new(), "{what}");
        assert_eq!(metric(m, "asmkv_damaged_records"), 0.0, "{what}");
        stop(s, &dir);
        return;
    }
    assert_eq!(lines.len(), 1, "{what}: {lines:?}");
    let place = format!("{seg} at {}, {} bytes", r.offset, r.len);
    assert!(lines[0].contains(&place), "{what}: {lines:?}, want {place}");
    let named = lines[0].ends_with(&format!(", key {}", r.key));
    assert_eq!(named, shows == Shows::Record, "{what}: {lines:?}");
    assert_eq!(metric(m, "asmkv_damaged_records"), 1.0, "{what}");
    assert_eq!(metric(m, "asmkv_damaged_bytes"), r.len as f64, "{what}");
    stop(s, &dir);
}

/// A flipped byte in any part of a record, at records spread over a segment
/// in the middle of the store: exactly that record is lost, and reported (as
/// a span if its header is gone, with its key if not); everything else reads
/// back. A zeroed 512-byte sector in its value costs the record too, and is
/// reported: the segment is sealed, so it cannot be what a crash leaves.
#[test]
fn a_damaged_record_costs_only_itself_and_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (pristine, seg, records) = old_store(tmp.path());
    for r in [1, 250, 500, 750, PER_SESSION - 2].map(|i| &records[i]) {
        let klen = r.key.len();
        let value_at = r.offset + 32 + klen;
        let footer = r.offset + r.len - 16;
        let cases = [
            ("the magic", r.offset + 1, 0, Shows::Span),
            ("the magic's version", r.offset + 3, 0, Shows::Record),
            ("the value's length", r.offset + 8, 0, Shows::Span),
            ("the key", r.offset + 32, 0, Shows::Span),
            ("the value", value_at + 500, 0, Shows::Record),
            ("the footer's sequence number", footer + 2, 0, Shows::Record),
            ("the footer's checksum", footer + 9, 0, Shows::Record),
            (
                "a sector of the value",
                value_at.div_ceil(512) * 512,
                512,
                Shows::Record,
            ),
        ];
        for (how, at, zero, shows) in cases {
            let case = Case {
                how,
                at,
                zero,
                shows,
            };
            check_damage(tmp.path(), &pristine, &seg, r, case);
        }
    }
}

/// The end of the segment being written at a crash cut in the middle of its
/// last record, or followed by half a record (its header whole, or cut too)
/// and zeros: a torn tail, as a crash leaves it. Nothing is reported, and
/// every record before it reads back.
#[test]
fn a_torn_tail_is_not_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, _, _) = old_store(tmp.path());
    let pristine = tmp.path().join("crashed");
    copy_store(&old, &pristine);
    let n = SESSIONS * PER_SESSION;
    let (s, _) = start(&pristine, &tmp.path().join("crashed.log"));
    put_keys(s.addr, n, n + 100, value);
    s.crash();
    let mut segs: Vec<String> = files_in(&pristine)
        .into_iter()
        .filter(|f| is_segment(f))
        .collect();
    segs.sort_by_key(|f| f.trim_end_matches(".seg").parse::<u64>().unwrap());
    let newest = segs.last().unwrap().clone();
    let id: u64 = newest.trim_end_matches(".seg").parse().unwrap();
    assert!(seals(&pristine).iter().all(|&(s, _)| s != id), "{newest}");
    forget_image(&pristine);
    let records = segment_records(&pristine, &newest);
    assert_eq!(records.last().unwrap().key, key(n + 99));
    let last = records.last().unwrap().clone();
    let lost: usize = last.key[1..].parse().unwrap();
    for (cut, half) in [(true, 0), (false, 600), (false, 20)] {
        let dir = tmp.path().join("torn");
        copy_store(&pristine, &dir);
        let path = dir.join(&newest);
        let mut b = std::fs::read(&path).unwrap();
        if cut {
            b.truncate(last.offset + last.len / 2);
        } else {
            let end = last.offset + last.len;
            let part = b[last.offset..last.offset + half].to_vec();
            b.truncate(end);
            b.extend_from_slice(&part);
            b.extend_from_slice(&[0; 1 << 16]);
        }
        std::fs::write(&path, &b).unwrap();
        let log = tmp.path().join("torn.log");
        let (s, m) = start(&dir, &log);
        let torn = cut.then_some(lost);
        reads_back(s.addr, n + 100, torn, 404, "a torn tail");
        assert_eq!(reports(&log), Vec::<String>::new());
        assert_eq!(metric(m, "asmkv_damaged_records"), 0.0);
        stop(s, &dir);
    }
}

/// A segment with damage is never compacted away, whether a start found the
/// damage or compaction did (its hint kept, so the start read no segment):
/// its intact records after the damage stay readable, through compaction and
/// a restart, while the clean segments beside it are compacted.
#[test]
fn compaction_keeps_a_damaged_segment() {
    let tmp = tempfile::tempdir().unwrap();
    // (whether a start reads the segment, whether the damage has a crash's
    // shape: a sector of zeros, which a scan does not report, but compaction
    // sees a record fewer than the segment holds)
    for (found_by_start, zeros) in [(true, false), (false, false), (false, true)] {
        let dir = tmp.path().join(format!("store-{found_by_start}-{zeros}"));
        let log = tmp
            .path()
            .join(format!("store-{found_by_start}-{zeros}.log"));
        for s in 0..SESSIONS {
            let (srv, _) = start(&dir, &log);
            put_keys(srv.addr, s * PER_SESSION, (s + 1) * PER_SESSION, value);
            stop(srv, &dir);
        }
        // one more session, until every segment has its hint
        let (srv, _) = start(&dir, &log);
        let deadline = Instant::now() + Duration::from_secs(60);
        while files_in(&dir).iter().filter(|f| is_hint(f)).count() < SESSIONS {
            assert!(Instant::now() < deadline, "no hints: {:?}", files_in(&dir));
            std::thread::sleep(Duration::from_millis(100));
        }
        stop(srv, &dir);
        forget_image(&dir);
        if found_by_start {
            for f in files_in(&dir).into_iter().filter(|f| is_hint(f)) {
                std::fs::remove_file(dir.join(f)).unwrap();
            }
        }
        // a record damaged 30 % into the middle segment
        let (seg, _) = record_of(&dir, PER_SESSION);
        let clean: Vec<String> = files_in(&dir)
            .into_iter()
            .filter(|f| is_segment(f) && *f != seg && !segment_records(&dir, f).is_empty())
            .collect();
        assert_eq!(clean.len(), SESSIONS - 1, "{:?}", files_in(&dir));
        let records = segment_records(&dir, &seg);
        let r = &records[PER_SESSION * 3 / 10];
        let damaged: usize = r.key[1..].parse().unwrap();
        let path = dir.join(&seg);
        let mut b = std::fs::read(&path).unwrap();
        if zeros {
            let at = (r.offset + 32 + r.key.len()).div_ceil(512) * 512;
            b[at..at + 512].fill(0);
        } else {
            b[r.offset + 8] ^= 0x10;
        }
        std::fs::write(&path, &b).unwrap();
        // every key overwritten but the last tenth of each session's: every
        // segment is mostly dead, and worth compacting
        let (s, m) = start(&dir, &log);
        let kept = |i: usize| i % PER_SESSION >= PER_SESSION * 9 / 10;
        let newer = |i: usize| format!("newer {i}").into_bytes();
        for sess in 0..SESSIONS {
            for i in sess * PER_SESSION..(sess + 1) * PER_SESSION {
                if !kept(i) && i != damaged {
                    put_keys(s.addr, i, i + 1, newer);
                }
            }
        }
        // the clean segments go; the damaged one stays
        let deadline = Instant::now() + Duration::from_secs(60);
        let left = |d: &Path| files_in(d).iter().filter(|f| clean.contains(f)).count();
        while left(&dir) > 0 {
            assert!(
                Instant::now() < deadline,
                "the clean segments were not compacted"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            files_in(&dir).contains(&seg),
            "the damaged segment was removed"
        );
        if !found_by_start {
            // compaction read it, found the damage and said so
            wait_for("compaction did not report the damage", || {
                !reports(&log).is_empty()
            });
        }
        // counted once, though rounds went on (nothing takes it again)
        assert_eq!(metric(m, "asmkv_damaged_records"), 1.0);
        // it has no hint: none is written for it (hints of the clean segments
        // were, rounds ago), and the one it had is removed, so a start without
        // the image reads it
        let hint = seg.replace(".seg", ".hint");
        assert!(!files_in(&dir).contains(&hint), "{:?}", files_in(&dir));
        let check = |addr: SocketAddr| {
            for (i, (status, body)) in get_keys(addr, SESSIONS * PER_SESSION).iter().enumerate() {
                if i == damaged {
                    // lost by a start's read; with its hint, the read of it fails
                    let want = if found_by_start { 404 } else { 500 };
                    assert_eq!(*status, want, "the damaged key");
                } else if kept(i) {
                    assert_eq!(
                        (*status, body.as_slice()),
                        (200, value(i).as_slice()),
                        "{}",
                        key(i)
                    );
                } else {
                    assert_eq!((*status, body.clone()), (200, newer(i)), "{}", key(i));
                }
            }
        };
        check(s.addr);
        stop(s, &dir);
        let (s, _) = start(&dir, &log);
        check(s.addr);
        assert!(
            files_in(&dir).contains(&seg),
            "the damaged segment was removed"
        );
        stop(s, &dir);
    }
}

/// A store of one session's keys in `tmp`, the server stopped (a next start
/// seals its segment); returns its directory and its error log.
fn one_session(tmp: &Path) -> (PathBuf, PathBuf) {
    let dir = tmp.join("data");
    let log = tmp.join("error.log");
    let (s, _) = start(&dir, &log);
    put_keys(s.addr, 0, PER_SESSION, value);
    stop(s, &dir);
    (dir, log)
}

/// Waits (up to a minute) for `done`; fails with `what`.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The scrubber finds a record damaged while the server runs, before any
/// client reads it: the error log names the record and its key, the metrics
/// count it, and a read of its key then answers 500. It reads every sealed
/// segment again and again, and counts its passes. At 1 MiB a round it reads
/// the segment (about 1 MiB of records) in two parts, and finds damage in
/// the second.
#[test]
fn scrubbing_finds_damage_before_a_read_does() {
    scrub_finds("1", 990);
    scrub_finds("64", 500);
}

/// `--scrub-rate 0`: no scrubbing. Rounds go on (a hint is written, then
/// three more rounds pass), and the scrubber reads nothing.
#[test]
fn no_scrubbing_at_rate_0() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, log) = one_session(tmp.path());
    let mut args = ARGS.to_vec();
    args.extend(["--scrub-rate", "0"]);
    let mut s = Server::start_logged(&dir, &args, &log);
    let m = metrics_addr(&mut s);
    // (the first session's scrubber may have passed over its no sealed
    // segment: the index's image keeps the count)
    let (bytes, passes) = (
        metric(m, "asmkv_scrub_bytes_total"),
        metric(m, "asmkv_scrub_passes_total"),
    );
    wait_for("no hint", || files_in(&dir).iter().any(|f| is_hint(f)));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(metric(m, "asmkv_scrub_bytes_total"), bytes);
    assert_eq!(metric(m, "asmkv_scrub_passes_total"), passes);
    stop(s, &dir);
}

fn scrub_finds(rate: &str, damaged: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, log) = one_session(tmp.path());
    // a second session: the first one's segment is sealed, and scrubbed
    let mut args = ARGS.to_vec();
    args.extend(["--scrub-rate", rate]);
    let mut s = Server::start_logged(&dir, &args, &log);
    let m = metrics_addr(&mut s);
    // (the count goes on from the first session's, kept in the index's image)
    let passes = metric(m, "asmkv_scrub_passes_total");
    wait_for("no scrub pass", || {
        metric(m, "asmkv_scrub_passes_total") > passes
            && metric(m, "asmkv_scrub_bytes_total") >= (PER_SESSION * 1080) as f64
    });
    assert!(metric(m, "asmkv_scrub_last_pass_timestamp_seconds") > 1.7e9);
    assert_eq!(metric(m, "asmkv_damaged_records"), 0.0);
    assert!(reports(&log).is_empty());
    // a byte of a value flipped on disk under the running server
    let (seg, r) = record_of(&dir, damaged);
    {
        use std::io::{Read, Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(&seg))
            .unwrap();
        let at = (r.offset + 32 + r.key.len() + 100) as u64;
        let mut byte = [0u8];
        f.seek(SeekFrom::Start(at)).unwrap();
        f.read_exact(&mut byte).unwrap();
        byte[0] ^= 0x10;
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&byte).unwrap();
    }
    wait_for("the scrubber did not report the damage", || {
        !reports(&log).is_empty()
    });
    let lines = reports(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let place = format!("{seg} at {}, {} bytes, key {}", r.offset, r.len, r.key);
    assert!(lines[0].ends_with(&place), "{lines:?}, want {place}");
    assert_eq!(metric(m, "asmkv_damaged_records"), 1.0);
    // only now a client reads
    reads_back(s.addr, PER_SESSION, Some(damaged), 500, "scrubbed");
    // passes go on, and the damage is not counted again
    let passes = metric(m, "asmkv_scrub_passes_total");
    wait_for("no further pass", || {
        metric(m, "asmkv_scrub_passes_total") > passes
    });
    assert_eq!(reports(&log).len(), 1);
    stop(s, &dir);
}

/// A hint whose checksum checks out but whose entries go bad half-way is not
/// taken, and nothing of it is counted: the start reads the segment instead,
/// and each record counts once (a half-read hint used to leave its first half
/// counted, and the segment's read counted them again, as dead: a count a
/// scan never finds, which compaction would take for damage).
#[test]
fn a_hint_bad_half_way_counts_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, log) = one_session(tmp.path());
    let (s, _) = start(&dir, &log);
    wait_for("no hint", || files_in(&dir).iter().any(|f| is_hint(f)));
    stop(s, &dir);
    forget_image(&dir);
    let hint = files_in(&dir).into_iter().find(|f| is_hint(f)).unwrap();
    let mut h = std::fs::read(dir.join(&hint)).unwrap();
    // entries from offset 8: seq u64, loc u64, len u32, klen u32, key (to 8)
    let (mut at, mut n) = (8, 0);
    while n < PER_SESSION / 2 {
        let klen = u32::from_le_bytes(h[at + 20..at + 24].try_into().unwrap()) as usize;
        at += (24 + klen).div_ceil(8) * 8;
        n += 1;
    }
    h[at + 20..at + 24].copy_from_slice(&0u32.to_le_bytes());
    let end = h.len() - 4;
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&h[..end]);
    h[end..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(dir.join(&hint), &h).unwrap();
    let (s, m) = start(&dir, &log);
    assert_eq!(metric(m, "asmkv_keys"), PER_SESSION as f64);
    assert_eq!(
        metric(m, "asmkv_records{state=\"live\"}"),
        PER_SESSION as f64,
        "records counted twice"
    );
    assert_eq!(
        metric(m, "asmkv_records{state=\"dead\"}"),
        0.0,
        "records counted twice (the second time as dead)"
    );
    reads_back(s.addr, PER_SESSION, None, 0, "after a bad hint");
    stop(s, &dir);
}

/// Flips a byte of the value of `r` (a record of `dir`'s segment `seg`).
fn flip_value(dir: &Path, seg: &str, r: &Record, into: usize) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(seg))
        .unwrap();
    let at = (r.offset + 32 + r.key.len() + into) as u64;
    let mut byte = [0u8];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut byte).unwrap();
    byte[0] ^= 0x10;
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&byte).unwrap();
}

/// The newest record of `key` in the segments, and its segment.
fn newest_record(dir: &Path, key: &str) -> (String, Record) {
    files_in(dir)
        .into_iter()
        .filter(|f| is_segment(f))
        .flat_map(|f| segment_records(dir, &f))
        .filter(|r| r.key == key)
        .max_by_key(|r| r.seq)
        .map(|r| (r.segment.clone(), r))
        .unwrap_or_else(|| panic!("no record of {key}"))
}

/// A key whose newest record is damaged answers 500 with that reason, never
/// its older value, whether a start or the scrubber found it, and for a
/// value sent with sendfile too; it is not listed; a write makes it whole,
/// through restarts with and without the index's image.
#[test]
fn a_damaged_newest_record_answers_500_never_an_older_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let log = tmp.path().join("error.log");
    let big = |v: u64| pattern(64 << 10, v);
    let (s, _) = start(&dir, &log);
    let a = agent();
    for (k, v) in [
        ("small", pattern(1000, 1)),
        ("big", big(1)),
        ("scrubbed", big(1)),
    ] {
        assert_eq!(put(&a, &s.url(&format!("/{k}")), &v).status, 201);
    }
    stop(s, &dir);
    let (s, _) = start(&dir, &log); // the new values in a segment of their own
    for (k, v) in [("small", pattern(1000, 2)), ("big", big(2))] {
        assert_eq!(put(&a, &s.url(&format!("/{k}")), &v).status, 204);
    }
    // (damage in a segment's last record looks like a torn tail: not that)
    assert_eq!(put(&a, &s.url("/tail2"), b"t").status, 201);
    stop(s, &dir);
    // (and one in a third: the scrubber reads no segment it found damage in)
    let (s, _) = start(&dir, &log);
    assert_eq!(put(&a, &s.url("/scrubbed"), &big(2)).status, 204);
    assert_eq!(put(&a, &s.url("/tail3"), b"t").status, 201);
    stop(s, &dir);
    for f in files_in(&dir) {
        if is_hint(&f) {
            std::fs::remove_file(dir.join(&f)).unwrap();
        }
    }
    forget_image(&dir);
    for k in ["small", "big"] {
        let (seg, r) = newest_record(&dir, k);
        flip_value(&dir, &seg, &r, 100);
    }
    let mut args = ARGS.to_vec();
    args.extend(["--scrub-rate", "64"]);
    let mut s = Server::start_logged(&dir, &args, &log);
    let m = metrics_addr(&mut s);
    let damaged = |s: &Server, k: &str| {
        let r = get(&a, &s.url(&format!("/{k}")));
        assert_eq!(r.status, 500, "{k}");
        assert!(String::from_utf8_lossy(&r.body).contains("damaged"), "{k}");
        assert_eq!(head(&a, &s.url(&format!("/{k}"))).status, 500, "{k}");
    };
    damaged(&s, "small");
    damaged(&s, "big");
    assert_eq!(get(&a, &s.url("/scrubbed")).body, big(2));
    let listed: Vec<Vec<u8>> = parse_listing(&get(&a, &s.url("/")).body)
        .into_iter()
        .map(|e| e.name)
        .collect();
    let want: Vec<Vec<u8>> = ["scrubbed", "tail2", "tail3"]
        .map(|k| k.as_bytes().to_vec())
        .to_vec();
    assert_eq!(listed, want, "a damaged key is not listed");
    let lines = reports(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().any(|l| l.ends_with("key small")), "{lines:?}");
    assert!(lines.iter().any(|l| l.ends_with("key big")), "{lines:?}");
    // rot under the running server, in a value sent with sendfile: the
    // scrubber finds it, and from then on the key answers 500 too
    let (seg, r) = newest_record(&dir, "scrubbed");
    flip_value(&dir, &seg, &r, 40_000);
    wait_for("the scrubber did not find it", || reports(&log).len() == 3);
    damaged(&s, "scrubbed");
    assert_eq!(metric(m, "asmkv_damaged_records"), 3.0);
    // a write makes a key whole again; so does a delete
    assert_eq!(put(&a, &s.url("/small"), b"again").status, 204);
    assert_eq!(delete(&a, &s.url("/big")).status, 204);
    let whole = |s: &Server| {
        assert_eq!(get(&a, &s.url("/small")).body, b"again");
        assert_eq!(get(&a, &s.url("/big")).status, 404);
        damaged(s, "scrubbed");
    };
    whole(&s);
    stop(s, &dir);
    for image in [true, false] {
        if !image {
            forget_image(&dir);
        }
        let (s, _) = start(&dir, &log);
        whole(&s);
        stop(s, &dir);
    }
}

/// A sealed segment cut short once it has its hint, at every 512-byte
/// boundary of its records: a start finds it shorter than the records its
/// hint lists, reports the part cut off, and the keys of the records in it
/// answer 500 (never an older value); every record before the cut, and every
/// other segment's, reads back. A cut in the zeros after its last record
/// loses nothing and is not reported.
#[test]
fn a_segment_cut_short_under_its_hint_is_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    let setup = tmp.path().join("setup.log");
    let a = agent();
    let keys = |s: &Server, prefix: &str, n: usize, v: u64| {
        for i in 0..n {
            let url = s.url(&format!("/{prefix}{i}"));
            assert!(matches!(
                put(&a, &url, &pattern(1000, v + i as u64)).status,
                201 | 204
            ));
        }
    };
    // the middle segment's keys have older values in the first: a lost
    // record must not bring one back (and keys of its own keep it from
    // being compacted)
    for session in [
        &[("m", 40, 0), ("o", 50, 300)][..],
        &[("m", 40, 100)],
        &[("z", 10, 200)],
    ] {
        let (s, _) = start(&pristine, &setup);
        for &(prefix, n, v) in session {
            keys(&s, prefix, n, v);
        }
        stop(s, &pristine);
    }
    let (s, _) = start(&pristine, &setup);
    wait_for("no hints", || {
        let f = files_in(&pristine);
        f.iter().filter(|f| is_hint(f)).count() == 3
            && f.iter().filter(|f| is_segment(f)).count() == 3
    });
    stop(s, &pristine);
    forget_image(&pristine);
    let (middle, last) = newest_record(&pristine, "m0");
    let records: Vec<Record> = segment_records(&pristine, &middle);
    assert_eq!(records.len(), 40, "{middle}");
    assert_eq!(last.offset, records[0].offset);
    let end = records.iter().map(|r| r.offset + r.len).max().unwrap();
    let dir = tmp.path().join("cut");
    let log = tmp.path().join("cut.log");
    for cut in (0..end.div_ceil(512) * 512 + 512).step_by(512) {
        copy_store(&pristine, &dir);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(&middle))
            .unwrap();
        f.set_len(cut as u64).unwrap();
        drop(f);
        let _ = std::fs::remove_file(&log);
        let (s, m) = start(&dir, &log);
        for r in &records {
            let i: u64 = r.key[1..].parse().unwrap();
            let got = get(&a, &s.url(&format!("/{}", r.key)));
            if r.offset + r.len <= cut {
                assert_eq!(
                    (got.status, got.body),
                    (200, pattern(1000, 100 + i)),
                    "cut at {cut}: {}",
                    r.key
                );
            } else {
                assert_eq!(got.status, 500, "cut at {cut}: {}", r.key);
            }
        }
        for i in 0..10 {
            assert_eq!(
                get(&a, &s.url(&format!("/z{i}"))).body,
                pattern(1000, 200 + i),
                "cut at {cut}"
            );
        }
        let lines = reports(&log);
        if cut >= end {
            assert!(lines.is_empty(), "cut at {cut}: {lines:?}");
            assert_eq!(metric(m, "asmkv_damaged_records"), 0.0);
        } else {
            assert_eq!(lines.len(), 1, "cut at {cut}: {lines:?}");
            let place = format!("{middle} at {cut}, {} bytes", end - cut);
            assert!(
                lines[0].contains("a damaged segment ends before the records its hint lists"),
                "{lines:?}"
            );
            assert!(
                lines[0].ends_with(&place),
                "cut at {cut}: {lines:?}, want {place}"
            );
            assert_eq!(metric(m, "asmkv_damaged_records"), 1.0);
        }
        stop(s, &dir);
    }
}

/// Once a segment has its hint it was whole: the scrubber takes a zeroed
/// sector in it, or damage in its last record, for damage rather than for
/// what a crash leaves, reports each with its key, and the keys answer 500.
#[test]
fn in_a_hinted_segment_a_crashs_shapes_are_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, log) = one_session(tmp.path());
    let mut args = ARGS.to_vec();
    args.extend(["--scrub-rate", "64"]);
    let mut s = Server::start_logged(&dir, &args, &log);
    let m = metrics_addr(&mut s);
    let (seg, first) = record_of(&dir, 0);
    let hint = seg.replace(".seg", ".hint");
    wait_for("no hint", || files_in(&dir).contains(&hint));
    let passes = metric(m, "asmkv_scrub_passes_total");
    wait_for("no scrub pass", || {
        metric(m, "asmkv_scrub_passes_total") > passes + 1.0
    });
    assert!(reports(&log).is_empty());
    assert_eq!(first.offset, 0);
    // a sector of zeros in one record's value, and a flipped byte in the
    // last record's value (nothing but zeros after it)
    let (_, zeroed) = record_of(&dir, 300);
    let (_, last) = record_of(&dir, PER_SESSION - 1);
    let sector = (zeroed.offset + 32 + zeroed.key.len()).div_ceil(512) * 512;
    assert!(sector + 512 <= zeroed.offset + zeroed.len - 16);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(&seg))
            .unwrap();
        f.write_all_at(&[0u8; 512], sector as u64).unwrap();
    }
    flip_value(&dir, &seg, &last, 100);
    wait_for("the scrubber did not report both", || {
        reports(&log).len() >= 2
    });
    let lines = reports(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for r in [&zeroed, &last] {
        let place = format!("{seg} at {}, {} bytes, key {}", r.offset, r.len, r.key);
        assert!(
            lines.iter().any(|l| l.ends_with(&place)),
            "{lines:?}: {place}"
        );
    }
    let a = agent();
    for i in [300, PER_SESSION - 1] {
        assert_eq!(
            get(&a, &s.url(&format!("/{}", key(i)))).status,
            500,
            "{}",
            key(i)
        );
    }
    reads_back(s.addr, PER_SESSION - 1, Some(300), 500, "hinted");
    stop(s, &dir);
}

/// A damaged record's footer number is believed only near its record's own
/// time: one pushed far ahead (its top byte flipped, so its footer fails)
/// would hide every newer write of its key, so it is not taken, the key keeps
/// its newest intact value, and the record is reported with its key.
#[test]
fn a_sequence_number_far_ahead_of_its_record_is_not_believed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let log = tmp.path().join("error.log");
    let a = agent();
    for (v, status) in [(1, 201), (2, 204)] {
        let (s, _) = start(&dir, &log);
        assert_eq!(put(&a, &s.url("/far"), &pattern(1000, v)).status, status);
        assert!(matches!(put(&a, &s.url("/tail"), b"t").status, 201 | 204));
        stop(s, &dir);
    }
    for f in files_in(&dir) {
        if is_hint(&f) {
            std::fs::remove_file(dir.join(&f)).unwrap();
        }
    }
    forget_image(&dir);
    let (seg, r) = newest_record(&dir, "far");
    let path = dir.join(&seg);
    let mut b = std::fs::read(&path).unwrap();
    b[r.offset + r.len - 16 + 7] ^= 0x10;
    std::fs::write(&path, &b).unwrap();
    let (s, m) = start(&dir, &log);
    assert_eq!(get(&a, &s.url("/far")).body, pattern(1000, 1));
    let lines = reports(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with("key far"), "{lines:?}");
    assert_eq!(metric(m, "asmkv_damaged_records"), 1.0);
    stop(s, &dir);
}

/// What a start makes of a damaged copy of a sealed segment: the keys whose
/// newest record is lost and what each answers, the damage reports it must
/// log, and their bytes.
struct Expect {
    lost: Vec<(usize, u16)>,
    reports: usize,
    bytes: usize,
}

/// Starts on a copy of `pristine` whose segment `seg` is `damaged` instead,
/// and checks what it makes of it: every key in [0, n) reads back its value
/// but the lost ones, which answer as expected, and the error log and the
/// metrics hold exactly the reports expected.
fn check_start(
    tmp: &Path,
    pristine: &Path,
    seg: &str,
    damaged: &[u8],
    n: usize,
    e: Expect,
    what: &str,
) {
    let dir = tmp.join("damaged");
    copy_store(pristine, &dir);
    std::fs::write(dir.join(seg), damaged).unwrap();
    let log = tmp.join("damaged.log");
    let (s, m) = start(&dir, &log);
    for (i, (status, body)) in get_keys(s.addr, n).iter().enumerate() {
        match e.lost.iter().find(|(k, _)| *k == i) {
            Some(&(_, want)) => assert_eq!(*status, want, "{what}: {}", key(i)),
            None => assert_eq!(
                (*status, body.clone()),
                (200, value(i)),
                "{what}: {}",
                key(i)
            ),
        }
    }
    let lines = reports(&log);
    assert_eq!(lines.len(), e.reports, "{what}: {lines:?}");
    assert_eq!(
        metric(m, "asmkv_damaged_records"),
        e.reports as f64,
        "{what}"
    );
    assert_eq!(metric(m, "asmkv_damaged_bytes"), e.bytes as f64, "{what}");
    stop(s, &dir);
}

/// Every 512-byte sector of a sealed segment in the middle of a store zeroed
/// in turn, and the segment cut at every 512-byte boundary, with no hint to
/// say where its records end (only its seal): after a restart exactly the
/// records hit are lost and reported, and every other key reads back. A
/// record whose key and number survive answers 500; one whose header or
/// number is gone cannot be told from no write (404). A cut is one report,
/// from the first record it reaches to where the seal says the records end.
/// Neither has a crash's shape here: the segment was sealed.
#[test]
fn every_sector_and_cut_of_a_sealed_segment_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let at = [0, 200, 260, 460];
    let n = at[3];
    let (pristine, seg, records) = sessions_store(tmp.path(), "pristine", &at);
    let id: u64 = seg.trim_end_matches(".seg").parse().unwrap();
    let end = records.last().map(|r| r.offset + r.len).unwrap();
    assert!(
        seals(&pristine).contains(&(id, end as u64)),
        "{seg}: {:?}",
        seals(&pristine)
    );
    let b = std::fs::read(pristine.join(&seg)).unwrap();
    let index = |r: &Record| -> usize { r.key[1..].parse().unwrap() };
    for sector in 0..end.div_ceil(512) {
        let (from, to) = (sector * 512, (sector * 512 + 512).min(b.len()));
        let mut d = b.clone();
        d[from..to].fill(0);
        let hit: Vec<&Record> = records
            .iter()
            .filter(|r| d[r.offset..r.offset + r.len] != b[r.offset..r.offset + r.len])
            .collect();
        let lost = hit
            .iter()
            .map(|r| {
                let same = |a: usize, z: usize| {
                    d[r.offset + a..r.offset + z] == b[r.offset + a..r.offset + z]
                };
                let known = same(0, 32 + r.key.len()) && same(r.len - 16, r.len - 8);
                (index(r), if known { 500 } else { 404 })
            })
            .collect();
        let e = Expect {
            lost,
            reports: hit.len(),
            bytes: hit.iter().map(|r| r.len).sum(),
        };
        check_start(
            tmp.path(),
            &pristine,
            &seg,
            &d,
            n,
            e,
            &format!("sector {sector} zeroed"),
        );
    }
    for cut in (0..end).step_by(512) {
        let first = records.iter().position(|r| r.offset + r.len > cut).unwrap();
        let e = Expect {
            lost: records[first..].iter().map(|r| (index(r), 404)).collect(),
            reports: 1,
            bytes: end - records[first].offset,
        };
        check_start(
            tmp.path(),
            &pristine,
            &seg,
            &b[..cut],
            n,
            e,
            &format!("cut at {cut}"),
        );
    }
}

/// Writes keys [0, 100) and [100, 200) with an upload of key "d09999" begun
/// between them (its record reserved, half its body sent) and then either
/// given up by its client or cut by a kill -9 of the server. Its record's
/// footer is never written, in the middle of the segment.
fn with_a_record_never_finished(dir: &Path, log: &Path, crash: bool) {
    let (s, _) = start(dir, log);
    put_keys(s.addr, 0, 100, value);
    let mut up = Raw::connect(s.addr);
    up.send(b"PUT /d09999 HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n");
    up.send(&[7u8; 1000]);
    std::thread::sleep(Duration::from_millis(300));
    put_keys(s.addr, 100, 150, value);
    if crash {
        put_keys(s.addr, 150, 200, value);
        s.crash();
        return;
    }
    drop(up);
    std::thread::sleep(Duration::from_millis(300));
    put_keys(s.addr, 150, 200, value);
    stop(s, dir);
}

/// A record given up in a segment (its client went away) is marked so on
/// disk, and once the segment is sealed it is not taken for damage, with or
/// without a hint. One cut by a crash (its footer zeros) is what a crash
/// leaves: the segment then gets no seal, so no start ever reports it.
#[test]
fn records_never_finished_are_not_damage_once_sealed() {
    for crash in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let log = tmp.path().join("server.log");
        with_a_record_never_finished(&dir, &log, crash);
        let seg = record_of(&dir, 0).0;
        let id: u64 = seg.trim_end_matches(".seg").parse().unwrap();
        let records = segment_records(&dir, &seg);
        let unfinished = records
            .iter()
            .find(|r| r.key == "d09999")
            .expect("its record");
        assert!(!unfinished.sealed);
        assert!(
            records.last().unwrap().offset > unfinished.offset,
            "{records:?}"
        );
        let (s, _) = start(&dir, &log);
        let hint = dir.join(format!("{id}.hint"));
        wait_for("the segment's hint", || hint.exists());
        stop(s, &dir);
        let sealed = seals(&dir).iter().any(|&(s, _)| s == id);
        assert_eq!(sealed, !crash, "crash {crash}: {:?}", seals(&dir));
        std::fs::remove_file(&hint).unwrap();
        forget_image(&dir);
        let log = tmp.path().join("after.log");
        let (s, m) = start(&dir, &log);
        reads_back(s.addr, 200, None, 404, "after the seal");
        let w = get(&agent(), &s.url("/d09999"));
        assert_eq!(w.status, 404, "crash {crash}");
        assert_eq!(reports(&log), Vec::<String>::new(), "crash {crash}");
        assert_eq!(metric(m, "asmkv_damaged_records"), 0.0, "crash {crash}");
        stop(s, &dir);
    }
}
