//! One worker with as many busy connections at once as this machine's
//! descriptor limit allows: every connection pipelines listings (which yield
//! after every step) and a GET, all of them written before any answer is
//! read, so the worker's ready list holds them all in the same rounds. Every
//! answer must be exactly right, and the worker must survive.
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::*;

/// Keys under `b/`: enough that a listing takes several steps.
const KEYS: usize = 300;
/// Entries per page of a listing (one: many listings cost little to answer).
const PAGE: usize = 1;
/// Connections bound to one client source address (127.0.0.2, .3, ...).
const PER_SOURCE: usize = 5000;
/// Descriptors left to the test process and the server for everything else.
const MARGIN: u64 = 200;
/// The worker takes up at most this many new events a round (`MAX_EVENTS`).
const EVENTS_PER_ROUND: usize = 256;
/// A listing yields at least this often however few keys there are: after
/// its walk of the index's list (one slice here), its heapify and its
/// extraction, each a step of its own.
const LISTING_YIELDS: usize = 3;

fn key(i: usize) -> String {
    format!("k{i:03}")
}

fn value(i: usize) -> Vec<u8> {
    pattern(10 + i * 3, 0xb0 + i as u64)
}

/// What one request of a connection asks for.
#[derive(Clone, Copy)]
enum Ask {
    Page(usize),
    Value(usize),
}

impl Ask {
    fn request(self) -> String {
        let target = match self {
            Ask::Page(0) => format!("/b/?limit={PAGE}"),
            Ask::Page(p) => format!("/b/?limit={PAGE}&after={}", key(p * PAGE - 1)),
            Ask::Value(k) => format!("/b/{}", key(k)),
        };
        format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n")
    }
}

/// One answer as read off the wire: status, head, body (de-chunked).
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Parses one whole answer at the front of `b`: Ok(None) if it is not all
/// there yet, else the answer and the bytes it took.
fn parse(b: &[u8]) -> Result<Option<(Answer, usize)>, String> {
    let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&b[..end]).to_string();
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head:?}"))?;
    let field = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut p = end + 4;
    let mut body = Vec::new();
    if field("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let Some(line) = b[p..].windows(2).position(|w| w == b"\r\n") else {
                return Ok(None);
            };
            let size = std::str::from_utf8(&b[p..p + line])
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| format!("bad chunk size line after {head:?}"))?;
            p += line + 2;
            if b.len() < p + size + 2 {
                return Ok(None);
            }
            if &b[p + size..p + size + 2] != b"\r\n" {
                return Err(format!("chunk not followed by CRLF after {head:?}"));
            }
            body.extend_from_slice(&b[p..p + size]);
            p += size + 2;
            if size == 0 {
                // the last chunk's CRLF was the (empty) trailer's end
                break;
            }
        }
    } else {
        let len: usize = field("content-length")
            .ok_or_else(|| format!("neither chunked nor a length: {head:?}"))?
            .parse()
            .map_err(|_| format!("bad Content-Length: {head:?}"))?;
        if b.len() < p + len {
            return Ok(None);
        }
        body.extend_from_slice(&b[p..p + len]);
        p += len;
    }
    Ok(Some((Answer { status, head, body }, p)))
}

/// Raises the soft descriptor limit of this process to its hard limit.
fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    hard
}

/// A connection from `source` (any port) to `to`.
fn connect_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    s.bind(&SockAddr::from(SocketAddr::new(IpAddr::V4(source), 0)))
        .unwrap_or_else(|e| panic!("bind to {source}: {e}"));
    s.connect(&SockAddr::from(to))
        .unwrap_or_else(|e| panic!("connect from {source}: {e}"));
    s.into()
}

#[test]
fn one_worker_holds_every_connection_busy_at_once() {
    let hard = raise_nofile();
    if hard < 2000 {
        skip(
            "one_worker_holds_every_connection_busy_at_once",
            &format!("the hard descriptor limit is {hard} (ulimit -Hn), fewer than 2000"),
        );
        return;
    }
    // the server raises its own limit to the same hard one (at most its
    // 65,536 connection slots); both processes keep MARGIN for the rest
    let n = (hard.min(65536) - MARGIN) as usize;
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr");
    let s = Server::start_logged(
        &tmp.path().join("data"),
        // the default --io-timeout (30 s): a listing waiting its turn behind
        // N others sends nothing for many rounds, though its client reads at
        // once; that is no stall of the client's (it once closed them here)
        &["--workers", "1", "--metrics", "127.0.0.1:0"],
        &log,
    );
    let mut s = s;
    let metrics = metrics_addr(&mut s);
    let worker = s.workers();
    let started = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<(u32, String)> = started.lines().map(log_line).collect();
    assert_eq!(lines, vec![(s.pid() as u32, "started".to_string())]);
    let a = agent();
    let mut mtimes = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let url = s.url(&format!("/b/{}", key(i)));
        assert_eq!(put(&a, &url, &value(i)).status, 201);
        mtimes.push(
            head(&a, &url)
                .header("last-modified")
                .expect("Last-Modified")
                .to_string(),
        );
    }
    let entry = |i: usize| {
        format!(
            "{{\"name\":\"{}\",\"type\":\"file\",\"mtime\":\"{}\",\"size\":{}}}",
            key(i),
            mtimes[i],
            value(i).len()
        )
    };
    let pages: Vec<Vec<u8>> = (0..KEYS.div_ceil(PAGE))
        .map(|p| {
            let e: Vec<String> = (p * PAGE..KEYS.min((p + 1) * PAGE)).map(entry).collect();
            format!("[{}]", e.join(",")).into_bytes()
        })
        .collect();
    let whole = get(&a, &s.url("/b/"));
    assert_eq!(whole.status, 200);
    let all: Vec<String> = (0..KEYS).map(entry).collect();
    assert_eq!(
        String::from_utf8_lossy(&whole.body),
        format!("[{}]", all.join(",")),
        "the listing of every key, as expected"
    );

    // A listing yields LISTING_YIELDS times or more, and the worker takes up
    // at most EVENTS_PER_ROUND connections a round: with this many listings
    // queued on each, the first connections are still busy when the last are
    // taken up, and all of them are on the ready list at once.
    let listings = n.div_ceil(EVENTS_PER_ROUND).div_ceil(LISTING_YIELDS).max(2);
    let plan = |c: usize| -> Vec<Ask> {
        let mut v: Vec<Ask> = (0..listings)
            .map(|r| Ask::Page((c + r * 5) % pages.len()))
            .collect();
        v.insert(listings / 2, Ask::Value(c % KEYS));
        v.push(Ask::Value((c * 7 + 3) % KEYS));
        v
    };

    // every connection first, from 127.0.0.2, .3, ...; then wait until the
    // worker has taken every one of them
    let base = s.open_fds();
    let t0 = Instant::now();
    let mut conns: Vec<TcpStream> = (0..n)
        .map(|c| {
            let source = Ipv4Addr::new(127, 0, 0, 2 + (c / PER_SOURCE) as u8);
            connect_from(source, s.addr)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.open_fds() < base + n {
        assert!(
            Instant::now() < deadline,
            "the worker took {} of {n} connections in 60 s",
            s.open_fds() - base
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let connected = t0.elapsed();

    // then every request on every connection, before reading any answer
    let t1 = Instant::now();
    for (c, conn) in conns.iter_mut().enumerate() {
        let bytes: String = plan(c).iter().map(|q| q.request()).collect();
        conn.write_all(bytes.as_bytes())
            .unwrap_or_else(|e| panic!("write to connection {c}: {e}"));
    }
    let written = t1.elapsed();

    // read every answer back, whichever connection has some
    for conn in &conns {
        conn.set_nonblocking(true).unwrap();
    }
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); n];
    let mut got = vec![0usize; n];
    let mut open: Vec<usize> = (0..n).collect();
    let mut chunk = vec![0u8; 1 << 16];
    // a generous bound: a listing takes the worker about 1.5 ms here
    let limit = Duration::from_secs(120) + Duration::from_millis(1) * (n * listings) as u32;
    let deadline = Instant::now() + limit;
    let mut answers = 0usize;
    while !open.is_empty() {
        assert!(
            Instant::now() < deadline,
            "after {limit:?}, {} connections still wait for answers, e.g. connection {} has {} of {}",
            open.len(),
            open[0],
            got[open[0]],
            listings + 2
        );
        let ready: Vec<usize> = {
            use nix::poll::{poll, PollFd, PollFlags};
            let mut fds: Vec<PollFd> = open
                .iter()
                .map(|&c| PollFd::new(conns[c].as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, 1000u16) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => panic!("poll: {e}"),
            }
            fds.iter()
                .zip(&open)
                .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(_, &c)| c)
                .collect()
        };
        for c in ready {
            let asks = plan(c);
            loop {
                match conns[c].read(&mut chunk) {
                    Ok(0) => panic!(
                        "connection {c} closed by the server after {} of {} answers; error log: {}; timeouts: {}",
                        got[c],
                        asks.len(),
                        std::fs::read_to_string(&log).unwrap_or_default(),
                        String::from_utf8_lossy(&get(&agent(), &format!("http://{metrics}/metrics")).body)
                            .lines()
                            .filter(|l| l.starts_with("asmkv_timeouts") || l.starts_with("asmkv_requests"))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    ),
                    Ok(k) => bufs[c].extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => panic!("connection {c}, after {} answers: {e}", got[c]),
                }
            }
            let mut at = 0;
            while let Some((ans, used)) =
                parse(&bufs[c][at..]).unwrap_or_else(|e| panic!("connection {c}: {e}"))
            {
                at += used;
                let i = got[c];
                assert!(i < asks.len(), "connection {c}: more answers than requests");
                assert_eq!(ans.status, 200, "connection {c}, answer {i}: {}", ans.head);
                match asks[i] {
                    Ask::Page(p) => {
                        assert!(
                            ans.head.contains("\r\nContent-Type: application/json\r\n"),
                            "connection {c}, answer {i}: {}",
                            ans.head
                        );
                        assert!(
                            ans.body == pages[p],
                            "connection {c}, answer {i}: page {p} is\n{}\nnot\n{}",
                            String::from_utf8_lossy(&ans.body),
                            String::from_utf8_lossy(&pages[p])
                        );
                    }
                    Ask::Value(k) => assert!(
                        ans.body == value(k),
                        "connection {c}, answer {i}: the value of {} is wrong ({} bytes)",
                        key(k),
                        ans.body.len()
                    ),
                }
                got[c] += 1;
                answers += 1;
            }
            bufs[c].drain(..at);
        }
        open.retain(|&c| got[c] < listings + 2);
    }
    let answered = t1.elapsed();
    assert!(
        bufs.iter().all(|b| b.is_empty()),
        "bytes after the last answer"
    );
    assert_eq!(answers, n * (listings + 2));
    eprintln!(
        "busy: {n} connections, {listings} listings and 2 GETs each ({answers} answers): \
         connected in {connected:.1?}, written in {written:.1?}, all answered {answered:.1?} \
         after the first write"
    );
    drop(conns);

    // the server is still well: it serves, and its worker never died
    let v = b"after".to_vec();
    assert_eq!(put(&a, &s.url("/after"), &v).status, 201);
    assert_eq!(get(&a, &s.url("/after")).body, v);
    assert_eq!(s.workers(), worker, "the worker was replaced");
    // and no request or answer timed out: every client read at once (a tick
    // that waited behind thousands of connections' events once timed out
    // most of them together). (Idle ones may: the agent's pooled connections
    // of the setup wait out the busy part.)
    let text = String::from_utf8(get(&a, &format!("http://{metrics}/metrics")).body).unwrap();
    let timeouts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("asmkv_timeouts_total") && !l.contains("idle"))
        .filter(|l| !l.ends_with(" 0"))
        .collect();
    assert!(timeouts.is_empty(), "{timeouts:?}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        started,
        "the error log has nothing but the start (no worker restarted, nothing shed)"
    );
}
