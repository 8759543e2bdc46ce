//! Test harness: starts the real `asmkv` binary on a free port with its own
//! data directory, and talks to it over TCP (ureq for ordinary requests, raw
//! sockets for protocol edge cases).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub const BIN: &str = env!("CARGO_BIN_EXE_asmkv");

/// A running server; killed (every process of it) when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub data: PathBuf,
    _stdout: BufReader<ChildStdout>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Two workers, a fresh temporary data directory, default flags.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let mut s = Server::start_in(&data, extra);
        s._tmp = Some(tmp);
        s
    }

    /// Starts on `data` (kept after the server stops, for restart tests).
    pub fn start_in(data: &Path, extra: &[&str]) -> Server {
        Server::start_full(data, extra, Stdio::inherit())
    }

    /// Starts with its stderr (the error log) going to a file.
    pub fn start_logged(data: &Path, extra: &[&str], log: &Path) -> Server {
        let f = std::fs::File::create(log).expect("error log file");
        Server::start_full(data, extra, Stdio::from(f))
    }

    fn start_full(data: &Path, extra: &[&str], stderr: Stdio) -> Server {
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--workers",
            "2",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn asmkv");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read startup line");
        let addr = line
            .trim()
            .strip_prefix("asmkv listening on http://")
            .unwrap_or_else(|| panic!("unexpected startup line {line:?}"))
            .parse()
            .expect("address");
        let workers: usize = args
            .iter()
            .rposition(|a| *a == "--workers")
            .map(|i| args[i + 1].parse().expect("--workers N"))
            .unwrap();
        let server = Server {
            child,
            addr,
            data: data.to_path_buf(),
            _stdout: stdout,
            _tmp: None,
        };
        // The startup line promises a ready server: every worker exists.
        assert_eq!(
            server.workers().len(),
            workers,
            "workers missing after the startup line"
        );
        server
    }

    /// The next line the server prints on stdout (after the listening line:
    /// "asmkv metrics on http://ADDR:PORT/metrics" with --metrics).
    pub fn stdout_line(&mut self) -> String {
        let mut line = String::new();
        self._stdout.read_line(&mut line).expect("a line on stdout");
        line.trim_end().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The worker processes (children of the master but the compactor).
    pub fn workers(&self) -> Vec<i32> {
        children_of(self.pid())
            .into_iter()
            .filter(|&p| !is_compactor(p))
            .collect()
    }

    /// The compactor process, if there is one.
    pub fn compactor(&self) -> Option<i32> {
        children_of(self.pid())
            .into_iter()
            .find(|&p| is_compactor(p))
    }

    /// Descriptors open in the worker processes, but for segments (a worker
    /// opens each once and keeps it).
    pub fn open_fds(&self) -> usize {
        self.workers()
            .iter()
            .map(|w| {
                std::fs::read_dir(format!("/proc/{w}/fd"))
                    .map(|d| {
                        d.flatten()
                            .filter(|e| {
                                std::fs::read_link(e.path())
                                    .map(|t| t.extension().is_none_or(|x| x != "seg"))
                                    .unwrap_or(true)
                            })
                            .count()
                    })
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Waits (up to `limit`) until the workers hold no more descriptors than `baseline`.
    pub fn assert_fds_back_to(&self, baseline: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.open_fds() > baseline && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let now = self.open_fds();
        assert!(now <= baseline, "{now} descriptors open, {baseline} before");
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid()), sig).expect("kill");
    }

    /// SIGTERM and wait for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal(Signal::SIGTERM);
        wait_timeout(&mut self.child, Duration::from_secs(20)).expect("server did not stop")
    }

    /// kill -9 every process of the server, master last, and reap the master.
    pub fn crash(mut self) {
        let workers = children_of(self.pid());
        for w in workers {
            let _ = kill(Pid::from_raw(w), Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
        // Workers are gone when their listening socket is: wait for the port to close.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(self.addr).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A worker the master started just before it died, or one whose
        // flusher is finishing a flush, may outlive the socket: the data
        // directory is free when its lock is.
        wait_unlocked(&self.data);
    }
}

/// Checks one line of the error log - "TIME asmkv[PID]: MESSAGE", TIME in
/// ISO 8601 UTC ("2026-11-26T08:40:12Z") within a minute of now - and
/// returns (PID, MESSAGE).
pub fn log_line(line: &str) -> (u32, String) {
    let (time, rest) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("no time: {line:?}"));
    assert_eq!(time.len(), 20, "{line:?}");
    let b = time.as_bytes();
    for (i, c) in b.iter().enumerate() {
        let want_digit = ![4, 7, 10, 13, 16, 19].contains(&i);
        assert_eq!(c.is_ascii_digit(), want_digit, "{line:?}");
    }
    assert_eq!(
        (b[4], b[7], b[10], b[13], b[16], b[19]),
        (b'-', b'-', b'T', b':', b':', b'Z'),
        "{line:?}"
    );
    // "YYYY-MM-DDTHH:MM:SSZ" as an IMF-fixdate, to compare with the clock
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m: usize = time[5..7].parse().unwrap();
    let imf = format!(
        "Mon, {} {} {} {} GMT",
        &time[8..10],
        months[m - 1],
        &time[0..4],
        &time[11..19]
    );
    let t = httpdate_loose(&imf);
    let now = std::time::SystemTime::now();
    let apart = now.duration_since(t).unwrap_or_else(|e| e.duration());
    assert!(apart < Duration::from_secs(60), "{line:?} is not now");
    let rest = rest
        .strip_prefix("asmkv[")
        .unwrap_or_else(|| panic!("{line:?}"));
    let (pid, msg) = rest.split_once("]: ").unwrap_or_else(|| panic!("{line:?}"));
    (pid.parse().expect("pid"), msg.to_string())
}

/// Seconds since the epoch of "Www, DD Mon YYYY HH:MM:SS GMT", ignoring the weekday.
fn httpdate_loose(s: &str) -> std::time::SystemTime {
    let p: Vec<&str> = s.split([' ', ':']).collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (d, mo, y): (i64, i64, i64) = (
        p[1].parse().unwrap(),
        months.iter().position(|m| *m == p[2]).unwrap() as i64 + 1,
        p[3].parse().unwrap(),
    );
    let (h, mi, se): (i64, i64, i64) = (
        p[4].parse().unwrap(),
        p[5].parse().unwrap(),
        p[6].parse().unwrap(),
    );
    // days from civil (Howard Hinnant's algorithm)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    std::time::UNIX_EPOCH + Duration::from_secs((days * 86400 + h * 3600 + mi * 60 + se) as u64)
}

/// Waits (up to 10 s) until no process holds the lock of a data directory,
/// so a new server can take it.
pub fn wait_unlocked(data: &Path) {
    use nix::fcntl::{Flock, FlockArg};
    let Ok(mut dir) = std::fs::File::open(data) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            Ok(_lock) => return, // released again when dropped
            Err((d, _)) if Instant::now() < deadline => dir = d,
            Err(_) => return,
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // the master first, so it does not see (and report) its workers die
            let workers = children_of(self.pid());
            let _ = self.child.kill();
            let _ = self.child.wait();
            for &w in &workers {
                let _ = kill(Pid::from_raw(w), Signal::SIGKILL);
            }
            wait_unlocked(&self.data);
        }
    }
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Fields of /proc/PID/stat after the command name: (state, ppid).
/// Is this process the compactor (the master names it)?
pub fn is_compactor(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "asmkv-compact")
}

pub fn proc_state(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut it = rest.split_whitespace();
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

pub fn children_of(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() {
            if let Some((_, ppid)) = proc_state(pid) {
                if ppid == parent {
                    out.push(pid);
                }
            }
        }
    }
    out
}

/// An HTTP client that hands back every status instead of turning 4xx/5xx into errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn reply(resp: ureq::http::Response<ureq::Body>) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp
        .into_body()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .expect("body");
    Reply {
        status,
        body,
        headers,
    }
}

pub fn get(agent: &ureq::Agent, url: &str) -> Reply {
    reply(agent.get(url).call().expect("GET"))
}

pub fn head(agent: &ureq::Agent, url: &str) -> Reply {
    reply(agent.head(url).call().expect("HEAD"))
}

pub fn put(agent: &ureq::Agent, url: &str, body: &[u8]) -> Reply {
    reply(agent.put(url).send(body).expect("PUT"))
}

pub fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> Reply {
    reply(agent.post(url).send(body).expect("POST"))
}

pub fn delete(agent: &ureq::Agent, url: &str) -> Reply {
    reply(agent.delete(url).call().expect("DELETE"))
}

/// A raw HTTP/1.1 connection for exact bytes on the wire.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// One response as read off the wire.
#[derive(Debug)]
pub struct Wire {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Wire {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads once more into the buffer. Returns the bytes read; 0 at the end
    /// of the stream or on an error (a reset, the read timeout). A signal is
    /// retried, not taken for the end (that made tests fail now and then with
    /// "no answer").
    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 65536];
        let n = read_some(&mut self.stream, &mut chunk).unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads one response; `head_only` for answers to HEAD (no body despite Content-Length).
    pub fn response_to(&mut self, head_only: bool) -> Option<Wire> {
        let end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if self.fill() == 0 {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
        self.buf.drain(..end);
        let status = head.get(9..12)?.parse().ok()?;
        let mut wire = Wire {
            status,
            head,
            body: Vec::new(),
        };
        let len: usize = if head_only || status == 204 || status == 100 {
            0
        } else {
            wire.header("content-length")
                .map(|v| v.parse().expect("content-length"))
                .unwrap_or(0)
        };
        while self.buf.len() < len {
            if self.fill() == 0 {
                return None;
            }
        }
        wire.body = self.buf.drain(..len).collect();
        Some(wire)
    }

    pub fn response(&mut self) -> Wire {
        self.response_to(false).expect("a response")
    }

    /// True when the server has closed the connection (EOF, or reset, with nothing more to read).
    pub fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.fill() == 0
    }
}

/// One `read`, retried when a signal interrupts it: a socket with a read
/// timeout returns EINTR even for a signal whose handler restarts calls, and
/// the test process gets signals (its libc's among them).
pub fn read_some(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Sends `request` on a new connection and returns the first response.
pub fn raw_once(addr: SocketAddr, request: &[u8]) -> Wire {
    let mut c = Raw::connect(addr);
    c.send(request);
    c.response()
}

/// The metrics socket's address, from the second line the server prints
/// (`asmkv metrics on http://ADDR/metrics`, with --metrics).
pub fn metrics_addr(s: &mut Server) -> SocketAddr {
    let line = s.stdout_line();
    line.strip_prefix("asmkv metrics on http://")
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line:?}"))
        .parse()
        .unwrap()
}

/// A gauge or counter from a metrics socket (`metrics_addr`).
pub fn metric(m: SocketAddr, name: &str) -> f64 {
    let text = String::from_utf8(get(&agent(), &format!("http://{m}/metrics")).body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// Every file in a directory, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// Deterministic pseudo-random bytes (xorshift), so failures can be reproduced.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// What a data directory holds, read without the server.
pub struct Stored {
    /// Each key's newest value (deleted keys are absent), by stored name.
    pub values: std::collections::BTreeMap<String, Vec<u8>>,
    /// Files that are neither segments nor hints (temporary files, anything foreign).
    pub other_files: Vec<String>,
}

/// One record of a segment, as read by `segment_records`.
#[derive(Debug, Clone)]
pub struct Record {
    pub segment: String,
    pub offset: usize,
    pub len: usize,
    pub key: String,
    pub seq: u64,
    /// The value of a put; None for a delete.
    pub value: Option<Vec<u8>>,
    /// A put's metadata block (v2 records: the header lines a GET answers
    /// with, and the empty line), if it has one.
    pub meta: Option<Vec<u8>>,
    /// Whether its footer checks out (the record counts).
    pub sealed: bool,
}

/// Is this file name a segment ("ID.seg")?
pub fn is_segment(name: &str) -> bool {
    name.strip_suffix(".seg")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()))
}

/// Is this file name a segment's hint file ("ID.hint")?
pub fn is_hint(name: &str) -> bool {
    name.strip_suffix(".hint")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()))
}

/// The records of one segment file, read independently of the server: the
/// same format, checked with an independent CRC32C. Reading stops at the
/// first record whose header does not check out (the segment's torn tail).
/// A v2 record ("AKV2", its header CRC continuing from its magic) is a put
/// whose value region starts with its metadata: a 16-byte prefix (the
/// block's length and CRC, an expiry), then the block.
pub fn segment_records(dir: &Path, name: &str) -> Vec<Record> {
    const REC_MAGIC: u32 = 0x3156_4b41;
    const REC_MAGIC_V2: u32 = 0x3256_4b41;
    const FT_MAGIC: u32 = 0x444e_4524;
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let b = std::fs::read(dir.join(name)).unwrap();
    let mut records = Vec::new();
    let mut off = 0usize;
    while off + 32 <= b.len() {
        let r = &b[off..];
        let (hcrc, vlen, klen, kind) = (u32_at(r, 4), u64_at(r, 8), u32_at(r, 16), u32_at(r, 20));
        let v2 = u32_at(r, 0) == REC_MAGIC_V2;
        if !(u32_at(r, 0) == REC_MAGIC || v2 && kind == 1)
            || !(1..=255).contains(&klen)
            || !(1..=2).contains(&kind)
            || vlen > 1 << 60
        {
            break;
        }
        let (klen, vlen) = (klen as usize, vlen as usize);
        // (the crate takes a reflected CRC's start reversed)
        let start = if v2 { !REC_MAGIC_V2 } else { !0 };
        let mut header = crc.digest_with_initial(start.reverse_bits());
        if 32 + klen <= r.len() {
            header.update(&r[8..32 + klen]);
        }
        if 32 + klen > r.len() || header.finalize() != hcrc {
            break;
        }
        let len = ((32 + klen + vlen + 7) & !7) + 16;
        if len > r.len() {
            break;
        }
        let value = &r[32 + klen..32 + klen + vlen];
        let ft = &r[len - 16..len];
        let mut digest = crc.digest();
        digest.update(value);
        digest.update(&ft[0..8]);
        digest.update(&hcrc.to_le_bytes());
        records.push(Record {
            segment: name.to_string(),
            offset: off,
            len,
            key: String::from_utf8(r[32..32 + klen].to_vec()).unwrap(),
            seq: u64_at(ft, 0),
            value: (kind == 1).then(|| {
                let skip = if v2 {
                    16 + u32_at(value, 0) as usize
                } else {
                    0
                };
                value[skip.min(value.len())..].to_vec()
            }),
            meta: v2.then(|| {
                let end = (16 + u32_at(value, 0) as usize).min(value.len());
                value[16.min(end)..end].to_vec()
            }),
            sealed: u32_at(ft, 12) == FT_MAGIC && u32_at(ft, 8) == digest.finalize(),
        });
        off += len;
    }
    records
}

/// The seals in a data directory's `.asmkv-seals` whose magic and CRC32C
/// check out, read independently of the server: (segment id, where its
/// records end), in the file's order.
pub fn seals(dir: &Path) -> Vec<(u64, u64)> {
    const SEAL_MAGIC: u32 = 0x3153_4541;
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    let b = std::fs::read(dir.join(".asmkv-seals")).unwrap_or_default();
    b.chunks_exact(24)
        .filter(|e| {
            u32::from_le_bytes(e[0..4].try_into().unwrap()) == SEAL_MAGIC
                && u32::from_le_bytes(e[4..8].try_into().unwrap()) == crc.checksum(&e[8..24])
        })
        .map(|e| {
            let id = u64::from_le_bytes(e[8..16].try_into().unwrap());
            (id, u64::from_le_bytes(e[16..24].try_into().unwrap()))
        })
        .collect()
}

/// Reads every segment of a data directory without the server and keeps the
/// newest sealed write (highest sequence number) of each key.
pub fn read_log(dir: &Path) -> Stored {
    let mut newest: std::collections::HashMap<String, (u64, Option<Vec<u8>>)> =
        std::collections::HashMap::new();
    let mut other_files = Vec::new();
    for name in files_in(dir) {
        if is_hint(&name) {
            continue; // the segments say it all
        }
        if !is_segment(&name) {
            other_files.push(name);
            continue;
        }
        for r in segment_records(dir, &name).into_iter().filter(|r| r.sealed) {
            let e = newest.entry(r.key).or_insert((0, None));
            if r.seq > e.0 {
                *e = (r.seq, r.value);
            }
        }
    }
    Stored {
        values: newest
            .into_iter()
            .filter_map(|(k, (_, v))| v.map(|v| (k, v)))
            .collect(),
        other_files,
    }
}

/// The names of what the data directory stores, sorted: every key that has a
/// value in the segments, and every file that is not a segment (a leftover
/// temporary file shows up).
pub fn stored_names(dir: &Path) -> Vec<String> {
    let s = read_log(dir);
    let mut v: Vec<String> = s.values.into_keys().chain(s.other_files).collect();
    v.sort();
    v
}

/// The value stored under a key's name, read from the disk without the server.
pub fn stored_value(dir: &Path, name: &str) -> Option<Vec<u8>> {
    read_log(dir).values.remove(name)
}

/// A value that proves its own integrity: seq, payload length, payload, checksum.
pub fn make_value(seq: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 24);
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&(len as u64).to_le_bytes());
    v.extend_from_slice(&pattern(len, seq));
    let sum = checksum(&v);
    v.extend_from_slice(&sum.to_le_bytes());
    v
}

pub fn checksum(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The seq of an intact value, or None if it is torn.
pub fn parse_value(v: &[u8]) -> Option<u64> {
    if v.len() < 24 {
        return None;
    }
    let len = u64::from_le_bytes(v[8..16].try_into().unwrap()) as usize;
    if v.len() != len + 24 {
        return None;
    }
    let sum = u64::from_le_bytes(v[len + 16..].try_into().unwrap());
    (checksum(&v[..len + 16]) == sum).then(|| u64::from_le_bytes(v[..8].try_into().unwrap()))
}

#[derive(Clone, Debug)]
pub struct Put {
    pub key: String,
    pub seq: u64,
    pub start: Instant,
    pub acked: Option<Instant>,
}

/// One PUT on a raw keep-alive connection; Ok(status) or Err if the server vanished.
pub fn raw_put(c: &mut TcpStream, key: &str, body: &[u8]) -> std::io::Result<u16> {
    raw_put_with(c, key, "", body)
}

/// One request on a connection of its own: `method /key` with `fields`
/// (whole lines, CRLF-ended) and `body` (with its Content-Length); its answer.
pub fn request_with(addr: SocketAddr, method: &str, key: &str, fields: &str, body: &[u8]) -> Wire {
    let mut c = Raw::connect(addr);
    let head = format!(
        "{method} /{key} HTTP/1.1\r\nHost: t\r\n{fields}Content-Length: {}\r\n\r\n",
        body.len()
    );
    c.send(head.as_bytes());
    c.send(body);
    c.response_to(method == "HEAD").expect("an answer")
}

/// `raw_put` with more header fields (whole lines, CRLF-ended).
pub fn raw_put_with(
    c: &mut TcpStream,
    key: &str,
    fields: &str,
    body: &[u8],
) -> std::io::Result<u16> {
    let mut req = format!(
        "PUT /{key} HTTP/1.1\r\nHost: t\r\n{fields}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    c.write_all(&req)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = read_some(c, &mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]);
            let status: u16 = head[9..12].parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = read_some(c, &mut chunk)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
    }
}

/// A write load for crash tests: 8 clients, each on its own keep-alive
/// connection, PUT self-checking values (`make_value`) to keys of their own
/// and to a few shared ones, recording every write in `history` and when it
/// was acknowledged, until the server goes away.
/// Beside a `WriteLoad`: one client writing keys once each, in turn a value
/// that expires in a second and one with metadata that expires in a day,
/// until the server goes; the acknowledged ones are kept as (key, short).
pub struct ExpiringLoad(std::thread::JoinHandle<()>);

impl ExpiringLoad {
    pub fn start(
        addr: SocketAddr,
        cycle: u64,
        acked: &std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    ) -> ExpiringLoad {
        let acked = acked.clone();
        ExpiringLoad(std::thread::spawn(move || {
            let Ok(mut c) = TcpStream::connect(addr) else {
                return;
            };
            for n in 0.. {
                let short = n % 2 == 0;
                let key = format!("x{cycle}-{n}");
                let fields = if short {
                    "X-Delete-After: 1\r\n"
                } else {
                    "X-Delete-After: 86400\r\nContent-Type: text/x-kept\r\nX-Object-Meta-N: 1\r\n"
                };
                match raw_put_with(&mut c, &key, fields, key.as_bytes()) {
                    Ok(201) => acked.lock().unwrap().push((key, short)),
                    _ => return,
                }
            }
        }))
    }

    pub fn join(self) {
        self.0.join().unwrap();
    }
}

/// Checks, more than a second after the last of them was written, that every
/// acknowledged short-lived key of an `ExpiringLoad` answers 404 and every
/// long-lived one reads back with its metadata and its expiry (if `durable`:
/// acknowledged writes were flushed; else it may be gone, but not torn).
pub fn check_expiring(s: &Server, acked: &[(String, bool)], durable: bool) {
    let a = agent();
    for (key, short) in acked {
        let r = get(&a, &s.url(&format!("/{key}")));
        if *short {
            assert_eq!(r.status, 404, "{key} expired, and came back");
        } else if durable || r.status != 404 {
            assert_eq!(
                (r.status, r.body.as_slice()),
                (200, key.as_bytes()),
                "{key}"
            );
            assert_eq!(r.header("content-type"), Some("text/x-kept"), "{key}");
            assert!(r.header("x-delete-at").is_some(), "{key}");
        }
    }
}

pub struct WriteLoad {
    clients: Vec<std::thread::JoinHandle<()>>,
}

impl WriteLoad {
    pub fn start(
        addr: SocketAddr,
        cycle: u64,
        seq: &std::sync::Arc<std::sync::atomic::AtomicU64>,
        history: &std::sync::Arc<std::sync::Mutex<Vec<Put>>>,
    ) -> WriteLoad {
        use std::sync::atomic::Ordering;
        let clients = (0..8u64)
            .map(|t| {
                let (seq, history) = (seq.clone(), history.clone());
                std::thread::spawn(move || {
                    let Ok(mut c) = TcpStream::connect(addr) else {
                        return;
                    };
                    let mut n = 0u64;
                    loop {
                        n += 1;
                        let key = if n.is_multiple_of(3) {
                            format!("shared{}", n % 5)
                        } else {
                            format!("c{cycle}-t{t}-{n}")
                        };
                        let s = seq.fetch_add(1, Ordering::Relaxed);
                        let len = (pattern(1, s)[0] as usize) * 400 + 10;
                        let body = make_value(s, len);
                        let idx = {
                            let mut h = history.lock().unwrap();
                            h.push(Put {
                                key: key.clone(),
                                seq: s,
                                start: Instant::now(),
                                acked: None,
                            });
                            h.len() - 1
                        };
                        match raw_put(&mut c, &key, &body) {
                            Ok(201) | Ok(204) => {
                                history.lock().unwrap()[idx].acked = Some(Instant::now())
                            }
                            Ok(other) => panic!("PUT {key}: {other}"),
                            Err(_) => return, // the server is gone: this PUT is in flight
                        }
                    }
                })
            })
            .collect();
        WriteLoad { clients }
    }

    /// Waits for every client to see the server gone.
    pub fn join(self) {
        for c in self.clients {
            c.join().unwrap();
        }
    }
}

/// Checks a server against the history of a write load: for every key, an
/// intact value (never torn) that was written to it, and no acknowledged write
/// lost - neither missing, nor replaced by a value acknowledged before it was
/// written. Returns (acknowledged writes, keys checked).
pub fn check_history(s: &Server, history: &[Put]) -> (usize, usize) {
    let mut by_key: std::collections::HashMap<&str, Vec<&Put>> = std::collections::HashMap::new();
    for p in history {
        by_key.entry(&p.key).or_default().push(p);
    }
    let a = agent();
    let mut acked_total = 0;
    for (key, puts) in &by_key {
        acked_total += puts.iter().filter(|p| p.acked.is_some()).count();
        let r = get(&a, &s.url(&format!("/{key}")));
        if r.status == 404 {
            assert!(
                puts.iter().all(|p| p.acked.is_none()),
                "{key}: an acknowledged write was lost"
            );
            continue;
        }
        assert_eq!(r.status, 200, "{key}");
        let got = parse_value(&r.body)
            .unwrap_or_else(|| panic!("{key}: torn value of {} bytes", r.body.len()));
        let v = puts
            .iter()
            .find(|p| p.seq == got)
            .unwrap_or_else(|| panic!("{key}: value {got} was never written to it"));
        // no acknowledged write that began after this one was acknowledged may be lost
        if let Some(v_ack) = v.acked {
            if let Some(w) = puts.iter().find(|w| w.acked.is_some() && w.start > v_ack) {
                panic!(
                    "{key}: reads {got}, but {} was written after it and acknowledged",
                    w.seq
                );
            }
        }
    }
    (acked_total, by_key.len())
}

/// A test that cannot run here says so in one line and returns false; under
/// ASMKV_NO_SKIP (set by CI, which installs everything) it fails instead.
pub fn skip(test: &str, why: &str) -> bool {
    let line = format!("SKIPPED {test}: {why}");
    if std::env::var_os("ASMKV_NO_SKIP").is_some() {
        panic!("{line} (ASMKV_NO_SKIP is set)");
    }
    // straight to stderr: the test harness captures eprintln! of passing tests
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    false
}

/// Whether a command is on PATH; if not, the test is skipped with a line
/// naming the Debian package that has it.
pub fn need(test: &str, tool: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    found || skip(test, &format!("needs {tool} (apt-get install {package})"))
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub dir: bool,
    pub mtime: String,
    pub size: Option<u64>,
}

/// A strict parser for exactly what a listing is: an array of flat objects
/// whose values are strings or integers. A string's `\udcXX` (a lone
/// surrogate, the "surrogateescape" convention) stands for the byte XX; any
/// other escape for its character in UTF-8.
pub fn parse_listing(body: &[u8]) -> Vec<Entry> {
    let mut p = Parser { b: body, i: 0 };
    let mut out = Vec::new();
    p.expect(b'[');
    if p.peek() == b']' {
        p.i += 1;
    } else {
        loop {
            p.expect(b'{');
            let (mut name, mut kind, mut mtime, mut size) = (None, None, None, None);
            loop {
                let k = p.string();
                p.expect(b':');
                match k.as_slice() {
                    b"name" => name = Some(p.string()),
                    b"type" => kind = Some(p.string()),
                    b"mtime" => mtime = Some(String::from_utf8(p.string()).unwrap()),
                    b"size" => size = Some(p.number()),
                    other => panic!("unexpected field {:?}", String::from_utf8_lossy(other)),
                }
                match p.next() {
                    b',' => continue,
                    b'}' => break,
                    c => panic!("unexpected {:?} at {}", c as char, p.i),
                }
            }
            let dir = match kind.as_deref() {
                Some(b"file") => false,
                Some(b"directory") => true,
                k => panic!("type {k:?}"),
            };
            assert_eq!(size.is_some(), !dir, "size for files only");
            out.push(Entry {
                name: name.expect("name"),
                dir,
                mtime: mtime.expect("mtime"),
                size,
            });
            match p.next() {
                b',' => continue,
                b']' => break,
                c => panic!("unexpected {:?} at {}", c as char, p.i),
            }
        }
    }
    assert_eq!(p.i, body.len(), "nothing after the array");
    out
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> u8 {
        self.b[self.i]
    }
    fn next(&mut self) -> u8 {
        self.i += 1;
        self.b[self.i - 1]
    }
    fn expect(&mut self, c: u8) {
        assert_eq!(self.next() as char, c as char, "at {}", self.i);
    }
    fn number(&mut self) -> u64 {
        let start = self.i;
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .unwrap()
            .parse()
            .unwrap()
    }
    fn string(&mut self) -> Vec<u8> {
        self.expect(b'"');
        let mut s = Vec::new();
        loop {
            match self.next() {
                b'"' => return s,
                b'\\' => match self.next() {
                    b'"' => s.push(b'"'),
                    b'\\' => s.push(b'\\'),
                    b'/' => s.push(b'/'),
                    b'n' => s.push(b'\n'),
                    b't' => s.push(b'\t'),
                    b'r' => s.push(b'\r'),
                    b'b' => s.push(8),
                    b'f' => s.push(12),
                    b'u' => {
                        let hex = std::str::from_utf8(&self.b[self.i..self.i + 4]).unwrap();
                        self.i += 4;
                        let u = u32::from_str_radix(hex, 16).unwrap();
                        if (0xdc80..=0xdcff).contains(&u) {
                            s.push((u - 0xdc00) as u8);
                        } else {
                            let c = char::from_u32(u).expect("no other surrogates");
                            s.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                    }
                    c => panic!("bad escape {:?}", c as char),
                },
                c if c < 0x20 => panic!("raw control byte {c} in a string"),
                c => s.push(c),
            }
        }
    }
}

/// Removes the index's image a clean stop leaves (`.asmkv-index`), so that the
/// next start reads the segments and hints themselves: for tests of what is
/// on disk.
pub fn forget_image(data: &Path) {
    match std::fs::remove_file(data.join(".asmkv-index")) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot remove .asmkv-index: {e}"),
    }
}
