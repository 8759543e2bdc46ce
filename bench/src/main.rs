//! `cargo run --release -p bench -- [--quick] [--only SCENARIO[,SCENARIO...]]`: asmkv against
//! nginx's WebDAV module, a tokio/axum Rust peer and the seed sample, side by
//! side in one run on this machine, with wrk as the load.

mod peer;
mod report;
mod servers;
mod tools;
mod wrk;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use report::{Cell, Row};
use servers::{Kind, Running, Tools};

#[derive(Parser)]
#[command(about = "Benchmark asmkv against its peers, side by side")]
struct Cli {
    /// A smoke run: short warm-up and measurements, a few seconds per scenario.
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios, comma-separated (see --list).
    #[arg(long)]
    only: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Where results.md and results.png go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the Rust peer server (used by the harness).
    Peer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Skip fdatasync/fsync (like nginx).
        #[arg(long)]
        no_sync: bool,
    },
}

struct Scenario {
    name: &'static str,
    title: &'static str,
    mode: &'static str,
    key: &'static str,
    body_len: usize,
    connections: usize,
    idle: usize,
    seed: bool,
    /// keys a `hot` load writes (a `spread` load reads as many)
    spread: usize,
    /// asmkv and nginx log every request (the others are not measured)
    access_log: bool,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "get64",
        title: "GET 64 B, 50 conns",
        mode: "get",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: true,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "get64-c1000",
        title: "GET 64 B, 1000 conns",
        mode: "get",
        key: "/small",
        body_len: 64,
        connections: 1000,
        idle: 0,
        seed: false,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "get1m",
        title: "GET 1 MiB, 50 conns",
        mode: "get",
        key: "/big",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: false,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "put64",
        title: "PUT 64 B new keys, 50 conns",
        mode: "put",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: true,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "overwrite",
        title: "PUT 64 B over 1,000 hot keys, 50 conns",
        mode: "hot",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: false,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "put1m",
        title: "PUT 1 MiB new keys, 8 conns",
        mode: "put",
        key: "/small",
        body_len: 1 << 20,
        connections: 8,
        idle: 0,
        seed: false,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "mixed",
        title: "90% GET / 10% PUT, 50 conns",
        mode: "mixed",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: true,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "close",
        title: "new connection per GET, 50 conns",
        mode: "close",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: true,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "idle10k",
        title: "GET 64 B, 50 conns + 10k idle",
        mode: "get",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 10_000,
        seed: false,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "get64-log",
        title: "GET 64 B, 50 conns, access log on",
        mode: "get",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: false,
        spread: 1000,
        access_log: true,
    },
    Scenario {
        name: "put64-log",
        title: "PUT 64 B new keys, 50 conns, access log on",
        mode: "put",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: false,
        spread: 1000,
        access_log: true,
    },
    Scenario {
        name: "get304",
        title: "conditional GET 64 B answered 304, 50 conns",
        mode: "cond",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: false,
        spread: 1000,
        access_log: false,
    },
    Scenario {
        name: "list100k",
        title: "listing of 100,000 keys (JSON), 4 conns",
        mode: "get",
        key: "/l/",
        body_len: 64,
        connections: 4,
        idle: 0,
        seed: false,
        spread: 100_000,
        access_log: false,
    },
    Scenario {
        name: "keys1m",
        title: "GET 64 B of 1M keys after a restart, 50 conns",
        mode: "spread",
        key: "/small",
        body_len: 64,
        connections: 50,
        idle: 0,
        seed: false,
        spread: 500_000,
        access_log: false,
    },
];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::Peer {
        listen,
        data,
        threads,
        no_sync,
    }) = cli.cmd
    {
        return peer::run(listen, data, threads, !no_sync);
    }
    if cli.list {
        for s in SCENARIOS {
            println!("{:12} {}", s.name, s.title);
        }
        return Ok(());
    }
    let wanted: Option<Vec<&str>> = cli.only.as_deref().map(|o| o.split(',').collect());
    if let Some(unknown) = wanted
        .iter()
        .flatten()
        .find(|w| !SCENARIOS.iter().any(|s| s.name == **w))
    {
        bail!("no scenario named {unknown:?} (see --list)");
    }
    let scenarios: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.name)))
        .collect();
    let tools = tools::check_tools()?;
    let nofile = tools::raise_nofile();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (warm, measure) = if cli.quick {
        (Duration::from_secs(1), Duration::from_secs(1))
    } else {
        (Duration::from_secs(2), Duration::from_secs(6))
    };
    let script_dir = tempfile::tempdir()?;
    let script = script_dir.path().join("kv.lua");
    std::fs::write(&script, wrk::SCRIPT)?;

    let machine = tools::machine();
    let command = format!(
        "cargo run --release -p bench --{}{}",
        if cli.quick { " --quick" } else { "" },
        cli.only
            .as_ref()
            .map(|o| format!(" --only {o}"))
            .unwrap_or_default()
    );
    eprintln!(
        "{machine}\n{workers} workers per server, wrk with {workers} threads; {} s per measurement",
        measure.as_secs_f64()
    );

    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| *k != Kind::Seed || tools.seed_source.is_some())
        .collect();
    if tools.redis.is_none() || tools.etcd.is_none() {
        eprintln!(
            "not measured: the durable peers need apt-get install redis-server webdis etcd-server"
        );
    }
    let small = vec![b'v'; 64];
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut rows = Vec::new();
    // Servers' files are deleted after the last cell: deleting tens of thousands
    // of files (with online discard, as here) stalls the file system's journal
    // and would slow whichever cell came next.
    let mut leftovers = Vec::new();
    for sc in &scenarios {
        let mut cells = Vec::new();
        for &kind in &kinds {
            if kind == Kind::Seed && !sc.seed {
                cells.push((kind, Cell::skipped("skipped")));
                continue;
            }
            if (kind == Kind::RedisWebdis && tools.redis.is_none())
                || (kind == Kind::Etcd && tools.etcd.is_none())
            {
                cells.push((kind, Cell::skipped("not installed")));
                continue;
            }
            if sc.name == "keys1m" && kind != Kind::Asmkv {
                cells.push((kind, Cell::skipped("–")));
                continue;
            }
            if sc.access_log && !matches!(kind, Kind::Asmkv | Kind::NginxDav) {
                cells.push((kind, Cell::skipped("–")));
                continue;
            }
            if sc.name == "list100k" && !matches!(kind, Kind::Asmkv | Kind::NginxDav) {
                cells.push((kind, Cell::skipped("no listing")));
                continue;
            }
            if sc.idle + sc.connections + 100 > nofile as usize {
                cells.push((kind, Cell::skipped("ulimit -n too low")));
                continue;
            }
            eprint!("{:12} {:22} ", sc.name, kind.label());
            let measured = if sc.access_log {
                measure_log_cost(
                    kind, sc, &tools, workers, &script, warm, measure, &small, &big,
                )
            } else {
                measure_one(
                    kind, sc, &tools, workers, &script, warm, measure, &small, &big, false,
                )
                .map(|(c, f)| (c, f.into_iter().collect()))
            };
            let cell = match measured {
                Ok((c, files)) => {
                    leftovers.extend(files);
                    c
                }
                Err(e) => {
                    eprint!("failed: {e:#} ");
                    Cell::skipped("failed")
                }
            };
            // let the disk settle, so this cell's writeback does not land in
            // the next cell's measurement
            nix::unistd::sync();
            if let Some(r) = &cell.result {
                eprintln!(
                    "{:>10.0} req/s  p99 {:>6} us  errors {}",
                    r.req_per_sec(),
                    r.p99_us,
                    r.errors()
                );
            } else {
                eprintln!();
            }
            cells.push((kind, cell));
        }
        rows.push(Row {
            title: sc.title.to_string(),
            cells,
        });
    }

    drop(leftovers);
    let mut sizes = Vec::new();
    for &kind in &kinds {
        if kind == Kind::AsmkvNoSync || kind == Kind::PeerNoSync {
            continue;
        }
        let (label, size) = match kind {
            Kind::Asmkv => ("`asmkv` (static)".to_string(), file_size(&tools.asmkv)),
            Kind::NginxDav => (
                "`nginx` (+ shared libraries)".to_string(),
                file_size(&tools.nginx),
            ),
            Kind::Peer => (
                "`bench peer` (tokio + axum)".to_string(),
                file_size(&tools.bench),
            ),
            Kind::RedisWebdis => match &tools.redis {
                Some((r, w)) => (
                    "`redis-server` + `webdis` (+ shared libraries)".to_string(),
                    file_size(r) + file_size(w),
                ),
                None => continue,
            },
            Kind::Etcd => match &tools.etcd {
                Some(e) => ("`etcd` (Go, static)".to_string(), file_size(e)),
                None => continue,
            },
            _ => ("`seed` (as + ld)".to_string(), 0),
        };
        let run = servers::start(kind, &tools, workers)?;
        std::thread::sleep(Duration::from_millis(300));
        let idle = run.rss_kib();
        let size = if kind == Kind::Seed {
            file_size(&run.data.with_file_name("seed"))
        } else {
            size
        };
        sizes.push((kind, label, size, idle));
    }

    let header = format!(
        "## Results\n\n{machine}. Every server ran {workers} workers (the seed forks per request); \
         wrk ran {workers} threads on the same machine; {:.0} s warm-up, then {:.0} s measured, per cell.\n\n\
         Command: `{command}`",
        warm.as_secs_f64(),
        measure.as_secs_f64()
    );
    let md = report::markdown(&rows, &sizes, &header);
    std::fs::create_dir_all(&cli.out)?;
    std::fs::write(cli.out.join("results.md"), &md)?;
    report::plot(
        &rows,
        &cli.out.join("results.png"),
        &format!("asmkv vs peers — {machine}"),
    )?;
    println!("{md}");
    eprintln!(
        "wrote {} and {}",
        cli.out.join("results.md").display(),
        cli.out.join("results.png").display()
    );
    Ok(())
}

/// Pairs of runs measured for the cost of the access log.
const LOG_PAIRS: usize = 3;

/// The access log's cost to one server: LOG_PAIRS pairs of runs, each without
/// the log and then with it, so that the machine drifting between cells (on a
/// shared VM it does, by tens of percent) is not taken for the log's cost.
/// The cell is the median run with the log; its figure compares the medians.
#[allow(clippy::too_many_arguments)]
fn measure_log_cost(
    kind: Kind,
    sc: &Scenario,
    tools: &Tools,
    workers: usize,
    script: &Path,
    warm: Duration,
    measure: Duration,
    small: &[u8],
    big: &[u8],
) -> anyhow::Result<(Cell, Vec<tempfile::TempDir>)> {
    let rate = |c: &Cell| c.result.as_ref().map_or(0.0, |r| r.req_per_sec());
    let (mut without, mut with, mut files) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LOG_PAIRS {
        for log in [false, true] {
            let (cell, f) = measure_one(
                kind, sc, tools, workers, script, warm, measure, small, big, log,
            )?;
            files.extend(f);
            if log { &mut with } else { &mut without }.push(cell);
        }
    }
    without.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    with.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    let (off, on) = (rate(&without[LOG_PAIRS / 2]), rate(&with[LOG_PAIRS / 2]));
    let mut cell = with.swap_remove(LOG_PAIRS / 2);
    cell.extra = Some(format!(
        "the log changes its rate by {:+.1}%: {:.0} req/s without it, {:.0} with it (medians of {LOG_PAIRS} pairs of runs, each without then with)",
        (on / off - 1.0) * 100.0,
        off,
        on
    ));
    Ok((cell, files))
}

#[allow(clippy::too_many_arguments)]
fn measure_one(
    kind: Kind,
    sc: &Scenario,
    tools: &Tools,
    workers: usize,
    script: &Path,
    warm: Duration,
    measure: Duration,
    small: &[u8],
    big: &[u8],
    access_log: bool,
) -> anyhow::Result<(Cell, Option<tempfile::TempDir>)> {
    servers::ACCESS_LOG.store(access_log, Ordering::Relaxed);
    let mut run = servers::start(kind, tools, workers)?;
    let mut extra = None;
    let mut spread = sc.spread;
    if sc.name == "keys1m" {
        // fill the store with a million keys, then time a restart on them
        let (restarted, keys, note) = restart_with_keys(run, tools, workers, script)?;
        run = restarted;
        extra = Some(note);
        // each of wrk's two threads wrote about half of them: read within both halves
        spread = (keys as usize) * 45 / 100;
    }
    servers::preload(&run, "small", small)?;
    servers::preload(&run, "big", big)?;
    let mut tag = String::new();
    if sc.mode == "cond" {
        // the value's tag, and a check that it really earns a 304
        let url = match kind.style() {
            "webdis" => format!("http://{}/GET{}.txt", run.addr, sc.key),
            "etcd" => return Ok((Cell::skipped("no ETag"), run.keep_files())),
            _ => format!("http://{}{}", run.addr, sc.key),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let Some(t) = agent.get(&url).call()?.headers().get("etag").cloned() else {
            return Ok((Cell::skipped("no ETag"), run.keep_files()));
        };
        tag = t.to_str()?.to_string();
        let again = agent.get(&url).header("If-None-Match", &tag).call()?;
        if again.status() != 304 {
            return Ok((Cell::skipped("no 304"), run.keep_files()));
        }
    }
    if sc.name == "list100k" {
        extra = Some(listing_times(&run, sc.spread)?);
    }
    nix::unistd::sync();
    let idle = hold_idle(run.addr, sc.idle)?;
    let load = |d| wrk::Load {
        tag: &tag,
        mode: sc.mode,
        key: sc.key,
        body_len: sc.body_len,
        style: kind.style(),
        spread,
        connections: sc.connections,
        threads: workers,
        duration: d,
    };
    wrk::run(script, run.addr, &load(warm))?;
    let peak = Arc::new(AtomicU64::new(run.rss_kib()));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let pids: Vec<i32> = std::iter::once(run.pid())
            .chain(run.front.as_ref().map(|f| f.id() as i32))
            .collect();
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let rss = pids.iter().map(|&p| servers::tree_rss_kib(p)).sum();
                peak.fetch_max(rss, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let result = wrk::run(script, run.addr, &load(measure));
    stop.store(true, Ordering::Relaxed);
    sampler.join().ok();
    drop(idle);
    check_alive(&run)?;
    if sc.mode == "hot" {
        // what the overwrites left on disk once the server has had time to
        // reclaim (compact) it; the live data is 1,000 values of 64 bytes
        std::thread::sleep(Duration::from_secs(15));
        extra = Some(format!(
            "{:.1} MiB on disk 15 s after the load stopped (live: 1,000 × 64 B and the 1 MiB value)",
            dir_size(&run.data) as f64 / (1 << 20) as f64
        ));
    }
    let files = run.keep_files();
    Ok((
        Cell {
            result: Some(result?),
            peak_rss_kib: peak.load(Ordering::Relaxed),
            note: None,
            extra,
        },
        files,
    ))
}

/// Bytes of files under a directory.
fn dir_size(p: &Path) -> u64 {
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
fn restart_with_keys(
    mut run: servers::Running,
    tools: &servers::Tools,
    workers: usize,
    script: &Path,
) -> anyhow::Result<(servers::Running, u64, String)> {
    let r = wrk::run(
        script,
        run.addr,
        &wrk::Load {
            mode: "fill",
            key: "/small",
            body_len: 64,
            style: "kv",
            spread: 500_000,
            connections: 50,
            threads: 2,
            duration: Duration::from_secs(20),
            tag: "",
        },
    )?;
    let keys = (r.requests - r.errors()).min(1_000_000);
    let files = run.keep_files();
    let data = run.data.clone();
    drop(run);
    let started = Instant::now();
    let run = servers::start_on(Kind::Asmkv, tools, workers, &data, files)?;
    let took = started.elapsed();
    let rss = run.rss_kib();
    Ok((
        run,
        keys,
        format!(
            "{keys} keys: listening {:.2} s after start, {:.1} MiB RSS (all processes) then",
            took.as_secs_f64(),
            rss as f64 / 1024.0
        ),
    ))
}

/// Stores `n` keys under /l/ (asmkv: pipelined PUTs; nginx: files in its
/// directory), then lists them: returns a line with the median time to the
/// first byte of the answer and to its end, over a few listings.
fn listing_times(run: &Running, n: usize) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let name = |i: usize| format!("k{i:07}");
    if run.kind == Kind::NginxDav {
        let dir = run.data.join("l");
        std::fs::create_dir_all(&dir)?;
        for i in 0..n {
            std::fs::write(dir.join(name(i)), b"v")?; // readable by nginx's worker
        }
    } else {
        let mut c = TcpStream::connect(run.addr)?;
        let mut w = c.try_clone()?;
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            let mut batch = Vec::new();
            for i in 0..n {
                batch.extend_from_slice(
                    format!(
                        "PUT /l/{} HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nv",
                        name(i)
                    )
                    .as_bytes(),
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
    }
    let mut first = Vec::new();
    let mut total = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let mut c = TcpStream::connect(run.addr)?;
        let started = Instant::now();
        c.write_all(b"GET /l/ HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")?;
        let mut buf = vec![0u8; 1 << 16];
        let mut got = c.read(&mut buf)?;
        first.push(started.elapsed());
        size = got;
        while got > 0 {
            got = c.read(&mut buf)?;
            size += got;
        }
        total.push(started.elapsed());
    }
    first.sort();
    total.sort();
    Ok(format!(
        "{n} keys: first byte after {:.1} ms, whole listing ({:.1} MB) after {:.1} ms (medians of 5)",
        first[2].as_secs_f64() * 1e3,
        size as f64 / 1e6,
        total[2].as_secs_f64() * 1e3
    ))
}

fn check_alive(run: &Running) -> anyhow::Result<()> {
    TcpStream::connect(run.addr)
        .map(|_| ())
        .context("server stopped answering")
}

/// Opens `n` connections that send nothing and holds them.
fn hold_idle(addr: SocketAddr, n: usize) -> anyhow::Result<Vec<TcpStream>> {
    (0..n)
        .map(|_| TcpStream::connect(addr).context("opening idle connections"))
        .collect()
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
