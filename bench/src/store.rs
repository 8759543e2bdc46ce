//! What a scenario does to a server's store before the load and after it,
//! beyond the preloaded values: a million keys and a restart on them, keys
//! to list, a volume of minikeyvalue's, a value's entity-tag, the disk left
//! behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::servers::{self, Kind, Running, Tools};
use crate::{mkv, wrk};

/// Bytes of files under a directory.
pub fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Writes a million new 64-byte keys into a running asmkv (wrk's two threads
/// write 500,000 each within 20 s, then overwrite their last one), stops it,
/// and starts it again on the same data: returns the new server, the number
/// of keys, and a line with the time to its listening line and the RSS of all
/// its processes.
pub fn restart_with_keys(
    mut run: Running,
    tools: &Tools,
    workers: usize,
    script: &Path,
    wanted: u64,
) -> anyhow::Result<(Running, u64, String)> {
    // two wrk threads, each writing `wanted / 2` new keys (then overwriting
    // its last one), for as long as that takes at 25,000 writes a second
    let r = wrk::run(
        script,
        run.addr,
        &wrk::Load {
            mode: "fill",
            key: "/small",
            body_len: 64,
            style: "kv",
            spread: (wanted / 2) as usize,
            connections: 50,
            threads: 2,
            duration: Duration::from_secs((wanted / 25_000).max(20)),
            tag: "",
        },
    )?;
    let keys = (r.requests - r.errors()).min(wanted);
    let files = run.keep_files();
    let data = run.data.clone();
    let stopping = Instant::now();
    drop(run);
    let stopped = stopping.elapsed();
    let started = Instant::now();
    let run = servers::start_on(Kind::Asmkv, tools, workers, &data, files)?;
    let took = started.elapsed();
    let rss = run.rss_kib();
    Ok((
        run,
        keys,
        format!(
            "{keys} keys: stopped in {:.2} s (the index saved), listening {:.2} s after start, {:.1} MiB RSS (all processes) then",
            stopped.as_secs_f64(),
            took.as_secs_f64(),
            rss as f64 / 1024.0
        ),
    ))
}

/// Brings a restarted store to its steady state before it is measured, so
/// stores of every size are compared alike: every file of its directory read
/// once (this machine's page cache does not keep gigabytes it wrote a while
/// ago), then 20 s of the `spread` load (each worker maps the index's pages as
/// its lookups first touch them).
pub fn warm_keys(run: &Running, script: &Path, spread: usize) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(&run.data)? {
        // (a file may go meanwhile: a hint renamed into place, the image removed)
        match std::fs::File::open(entry?.path()) {
            Ok(mut f) => {
                std::io::copy(&mut f, &mut std::io::sink())?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    wrk::run(
        script,
        run.addr,
        &wrk::Load {
            mode: "spread",
            key: "/small",
            body_len: 64,
            style: "kv",
            spread,
            connections: 50,
            threads: 2,
            duration: Duration::from_secs(20),
            tag: "",
        },
    )?;
    Ok(())
}

/// The entity-tag of `key`, checked to earn a 304; else why the cell is skipped.
pub fn etag(run: &Running, key: &str) -> anyhow::Result<Result<String, &'static str>> {
    let url = match run.kind.style() {
        "webdis" => format!("http://{}/GET{key}.txt", run.addr),
        "etcd" => return Ok(Err("no ETag")),
        _ => format!("http://{}{key}", run.addr),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let Some(t) = agent.get(&url).call()?.headers().get("etag").cloned() else {
        return Ok(Err("no ETag"));
    };
    let tag = t.to_str()?.to_string();
    let again = agent.get(&url).header("If-None-Match", &tag).call()?;
    if again.status() != 304 {
        return Ok(Err("no 304"));
    }
    Ok(Ok(tag))
}

fn list_name(i: usize) -> String {
    format!("k{i:07}")
}

/// Stores `n` keys under /l/: files in nginx's directory, else pipelined PUTs.
fn store_listed_keys(run: &Running, n: usize) -> anyhow::Result<()> {
    if run.kind == Kind::NginxDav {
        let dir = run.data.join("l");
        std::fs::create_dir_all(&dir)?;
        for i in 0..n {
            std::fs::write(dir.join(list_name(i)), b"v")?; // readable by nginx's worker
        }
        return Ok(());
    }
    put_pipelined(
        run,
        (0..n).map(|i| format!("/l/{}", list_name(i))).collect(),
    )
}

/// PUTs a one-byte value at each of `paths`, pipelined on 32 connections
/// at once, and waits for every answer to be a 201.
fn put_pipelined(run: &Running, paths: Vec<String>) -> anyhow::Result<()> {
    let share = paths.len().div_ceil(32).max(1);
    let mut parts = Vec::new();
    let mut rest = paths;
    while rest.len() > share {
        let tail = rest.split_off(share);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    let addr = run.addr;
    let putters: Vec<_> = parts
        .into_iter()
        .map(|part| std::thread::spawn(move || put_on_one(addr, part)))
        .collect();
    for p in putters {
        p.join().unwrap()?;
    }
    Ok(())
}

/// `put_pipelined`'s work on one connection.
fn put_on_one(addr: std::net::SocketAddr, paths: Vec<String>) -> anyhow::Result<()> {
    let n = paths.len();
    if n == 0 {
        return Ok(());
    }
    let mut c = TcpStream::connect(addr)?;
    let mut w = c.try_clone()?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut batch = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            batch.extend_from_slice(
                format!("PUT {path} HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nv").as_bytes(),
            );
            if batch.len() > 1 << 16 || i == n - 1 {
                w.write_all(&batch)?;
                batch.clear();
            }
        }
        Ok(())
    });
    let (mut seen, mut buf, mut tail) = (0, vec![0u8; 1 << 16], Vec::new());
    while seen < n {
        let got = c.read(&mut buf)?;
        anyhow::ensure!(got > 0, "the server closed while keys were stored");
        tail.extend_from_slice(&buf[..got]);
        seen += tail.windows(12).filter(|w| w == b"HTTP/1.1 201").count();
        let keep = tail.len().min(11);
        tail.drain(..tail.len() - keep);
    }
    writer.join().unwrap()?;
    Ok(())
}

/// Pairs of 6-character blocks whose FNV-1a hashes agree in their low 32 bits
/// for every basis with the standard one's low byte (`asmkv/tests/flooding.rs`
/// explains them), one pair a line.
const FNV1A_PAIRS: &str = include_str!("../../asmkv/tests/fnv1a-pairs.txt");

/// The blocks of a `Store::Blocks` store, as the wrk script takes them
/// ("a1 b1 a2 b2 ..."): `fnv1a`'s pairs, or as many pairs of blocks of the
/// same alphabet at random (`random`).
pub fn blocks(set: &str) -> String {
    if set == "fnv1a" {
        return FNV1A_PAIRS.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let n = FNV1A_PAIRS.split_whitespace().count();
    (0..n)
        .map(|_| {
            (0..6)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ALPHABET[(x >> 58) as usize] as char
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Stores every key made of one block of each pair of `blocks` (a 64-byte
/// value each): returns a line saying how many.
pub fn block_keys(run: &Running, blocks: &str) -> anyhow::Result<String> {
    let b: Vec<&str> = blocks.split(' ').collect();
    let pairs = b.len() / 2;
    let paths: Vec<String> = (0..1usize << pairs)
        .map(|i| {
            let key: String = (0..pairs).map(|j| b[2 * j + (i >> j & 1)]).collect();
            format!("/{key}")
        })
        .collect();
    let line = format!("{} keys of {} blocks", paths.len(), pairs);
    put_pipelined(run, paths)?;
    Ok(line)
}

/// Makes the server a volume of minikeyvalue holding `n` keys, PUT where
/// minikeyvalue puts them (`mkv::key_path`, its only volume, 10
/// subvolumes): returns a line with how many directories hold them.
pub fn mkv_volume(run: &Running, n: usize) -> anyhow::Result<String> {
    let volume = run.addr.to_string();
    let paths: Vec<String> = mkv::keys(n)
        .map(|k| mkv::key_path(&k, &volume, mkv::SUBVOLUMES))
        .collect();
    let dirs: std::collections::HashSet<&str> = paths
        .iter()
        .filter_map(|p| p.rsplit_once('/'))
        .map(|(d, _)| d)
        .collect();
    let line = format!(
        "{n} keys PUT in minikeyvalue's layout (/svXX/aa/bb/KEY, {} subvolumes): {} directories to list",
        mkv::SUBVOLUMES,
        dirs.len()
    );
    put_pipelined(run, paths)?;
    Ok(line)
}

/// Stores `n` keys under /l/, then lists them: returns a line with the
/// median time to the first byte of the answer and to its end, over a few
/// listings.
pub fn listing_times(run: &Running, n: usize) -> anyhow::Result<String> {
    store_listed_keys(run, n)?;
    let (first, total, size) = timed_medians(
        run,
        (0..5).map(|_| "GET /l/ HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".to_string()),
    )?;
    Ok(format!(
        "{n} keys: first byte after {:.1} ms, whole listing ({:.1} MB) after {:.1} ms (medians of 5)",
        first.as_secs_f64() * 1e3,
        size as f64 / 1e6,
        total.as_secs_f64() * 1e3
    ))
}

fn page_name(i: usize) -> String {
    format!("/p/name-{i:09}")
}

/// Stores `n` keys under /p/, then asks for pages of 1,000 names after
/// random ones: returns a line with the median time to the first byte of the
/// answer and to its end.
pub fn page_times(run: &Running, n: usize) -> anyhow::Result<String> {
    let started = Instant::now();
    put_pipelined(run, (0..n).map(page_name).collect())?;
    let stored = started.elapsed();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let pages = (0..21).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let after = &page_name(x as usize % n)["/p/".len()..];
        format!("GET /p/?limit=1000&after={after} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
    });
    let (first, total, size) = timed_medians(run, pages)?;
    let pss = servers::tree_pss_kib(run.pid()) as f64 * 1024.0;
    Ok(format!(
        "{n} keys (stored in {:.0} s): a page of 1,000 after a random name: first byte after {:.2} ms, whole page ({:.0} kB) after {:.2} ms (medians of 21); {:.0} MiB PSS summed over the processes, {:.0} B a key",
        stored.as_secs_f64(),
        first.as_secs_f64() * 1e3,
        size as f64 / 1e3,
        total.as_secs_f64() * 1e3,
        pss / (1 << 20) as f64,
        pss / n as f64
    ))
}

/// Sends each request on a new connection and reads its answer to the end:
/// the median times to the first bytes and to the end, and the last size.
fn timed_medians(
    run: &Running,
    requests: impl Iterator<Item = String>,
) -> anyhow::Result<(Duration, Duration, usize)> {
    let (mut first, mut total, mut size) = (Vec::new(), Vec::new(), 0);
    for r in requests {
        let (f, t, n) = timed_request(run, &r)?;
        first.push(f);
        total.push(t);
        size = n;
    }
    anyhow::ensure!(!first.is_empty(), "no requests to time");
    first.sort();
    total.sort();
    Ok((first[first.len() / 2], total[total.len() / 2], size))
}

/// Sends `request` on a new connection and reads the answer to its end:
/// the time to its first bytes, to its end, and its size.
fn timed_request(run: &Running, request: &str) -> anyhow::Result<(Duration, Duration, usize)> {
    let mut c = TcpStream::connect(run.addr)?;
    let started = Instant::now();
    c.write_all(request.as_bytes())?;
    let mut buf = vec![0u8; 1 << 16];
    let mut got = c.read(&mut buf)?;
    let first = started.elapsed();
    let mut size = got;
    while got > 0 {
        got = c.read(&mut buf)?;
        size += got;
    }
    Ok((first, started.elapsed(), size))
}
