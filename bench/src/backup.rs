//! The `backup1g` scenario's own measurements: asmkv's `GET /backup` of a
//! store against `dd` of the same files, both from a cold page cache where
//! the machine allows it, and GETs during back-to-back backups.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::servers::Running;

/// Writes `n` keys of `len` bytes each (`/bulk-I`), four connections at a
/// time. Returns a line saying so.
pub fn fill(run: &Running, n: usize, len: usize) -> anyhow::Result<String> {
    let addr = run.addr;
    let began = Instant::now();
    let putters: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut c = TcpStream::connect(addr)?;
                let value: Vec<u8> = (0..len).map(|i| (i * 7 + t) as u8).collect();
                let mut answer = [0u8; 512];
                for i in (t..n).step_by(4) {
                    let head = format!(
                        "PUT /bulk-{i} HTTP/1.1\r\nHost: b\r\nContent-Length: {len}\r\n\r\n"
                    );
                    c.write_all(head.as_bytes())?;
                    c.write_all(&value)?;
                    // the answer is a head with an empty body ("201 Created")
                    let got = c.read(&mut answer)?;
                    if !answer[..got].starts_with(b"HTTP/1.1 201") {
                        bail!("PUT /bulk-{i}: {}", String::from_utf8_lossy(&answer[..got]));
                    }
                }
                Ok(())
            })
        })
        .collect();
    for p in putters {
        p.join().unwrap()?;
    }
    Ok(format!(
        "{n} keys of {} KiB ({:.2} GiB) written in {:.1} s",
        len >> 10,
        (n * len) as f64 / (1u64 << 30) as f64,
        began.elapsed().as_secs_f64()
    ))
}

/// The store's segments and hints: what a backup sends.
pub fn store_files(data: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg" || x == "hint"))
        .collect();
    files.sort();
    Ok(files)
}

/// Flushes and empties the page cache, if this process may (root); says
/// whether it did.
pub fn drop_caches() -> bool {
    nix::unistd::sync();
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// `dd` of every file to /dev/null, 1 MiB blocks: the bytes and the time.
pub fn dd(files: &[PathBuf]) -> anyhow::Result<(u64, Duration)> {
    let began = Instant::now();
    let mut bytes = 0;
    for f in files {
        let status = Command::new("dd")
            .arg(format!("if={}", f.display()))
            .args(["of=/dev/null", "bs=1M", "status=none"])
            .status()
            .context("dd")?;
        anyhow::ensure!(status.success(), "dd of {}: {status}", f.display());
        bytes += std::fs::metadata(f)?.len();
    }
    Ok((bytes, began.elapsed()))
}

/// One whole backup, read as fast as it comes and dropped.
pub struct Taken {
    /// the archive's bytes
    pub bytes: u64,
    /// until the answer's head came (the segments settling)
    pub head: Duration,
    /// until its end
    pub total: Duration,
}

pub fn take(metrics: SocketAddr) -> anyhow::Result<Taken> {
    let began = Instant::now();
    let resp = ureq::get(&format!("http://{metrics}/backup")).call()?;
    anyhow::ensure!(resp.status() == 200, "GET /backup: {}", resp.status());
    let head = began.elapsed();
    let mut body = resp.into_body().into_with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0;
    loop {
        match body.read(&mut buf)? {
            0 => break,
            n => bytes += n as u64,
        }
    }
    Ok(Taken {
        bytes,
        head,
        total: began.elapsed(),
    })
}

/// Backups taken one after another in a thread until `stop`.
pub struct Repeating {
    stop: Arc<AtomicBool>,
    taker: std::thread::JoinHandle<anyhow::Result<(usize, u64, Duration)>>,
}

impl Repeating {
    pub fn start(metrics: SocketAddr) -> Repeating {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let taker = std::thread::spawn(move || {
            let (mut n, mut bytes, began) = (0, 0, Instant::now());
            while !flag.load(Ordering::Relaxed) {
                bytes += take(metrics)?.bytes;
                n += 1;
            }
            Ok((n, bytes, began.elapsed()))
        });
        Repeating { stop, taker }
    }

    /// Stops after the backup under way: how many were taken, their bytes,
    /// and the time they took.
    pub fn stop(self) -> anyhow::Result<(usize, u64, Duration)> {
        self.stop.store(true, Ordering::Relaxed);
        self.taker.join().unwrap()
    }
}
