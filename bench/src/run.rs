//! The runner: every scenario on every server, one cell at a time, the way
//! the scenario's fields say.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use tempfile::TempDir;

use crate::report::{Cell, Row, Size};
use crate::scenarios::{After, Measure, Runs, Scenario, Store};
use crate::servers::{self, Kind, Running, Tools};
use crate::{backup, mkv, store, tools, wrk};

/// What every cell of a run shares: the programs, the machine, the timings.
pub struct Bench {
    tools: Tools,
    nofile: u64,
    workers: usize,
    warm: Duration,
    measure: Duration,
    script: PathBuf,
    _script_dir: TempDir,
    /// the servers measured, in the tables' order
    kinds: Vec<Kind>,
    small: Vec<u8>,
    big: Vec<u8>,
    /// minikeyvalue's `mkv`, built the first time a scenario needs it
    mkv: OnceLock<Result<PathBuf, mkv::Missing>>,
}

/// A server whose store is ready for a scenario's load, or why it cannot take it.
struct Ready {
    run: Running,
    spread: usize,
    tag: String,
    extra: Option<String>,
    skip: Option<&'static str>,
}

impl Bench {
    /// Finds the tools (building asmkv), raises the descriptor limit and
    /// writes wrk's script; `quick` is a smoke run's timings.
    pub fn new(quick: bool) -> anyhow::Result<Bench> {
        let tools = tools::check_tools()?;
        let nofile = tools::raise_nofile();
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let (warm, measure) = if quick {
            (Duration::from_secs(1), Duration::from_secs(1))
        } else {
            (Duration::from_secs(2), Duration::from_secs(6))
        };
        let script_dir = tempfile::tempdir()?;
        let script = script_dir.path().join("kv.lua");
        std::fs::write(&script, wrk::SCRIPT)?;
        let kinds = Kind::ALL
            .into_iter()
            .filter(|k| *k != Kind::Seed || tools.seed_source.is_some())
            .collect();
        Ok(Bench {
            tools,
            nofile,
            workers,
            warm,
            measure,
            script,
            _script_dir: script_dir,
            kinds,
            small: vec![b'v'; 64],
            big: (0..1 << 20).map(|i: u32| (i % 251) as u8).collect(),
            mkv: OnceLock::new(),
        })
    }

    /// Says on stderr what the run is and what it will not measure.
    pub fn announce(&self, machine: &str) {
        eprintln!(
            "{machine}\n{} workers per server, wrk with {} threads; {} s per measurement",
            self.workers,
            self.workers,
            self.measure.as_secs_f64()
        );
        if self.tools.redis.is_none() || self.tools.etcd.is_none() {
            eprintln!(
                "not measured: the durable peers need apt-get install redis-server webdis etcd-server"
            );
        }
    }

    /// The report's opening paragraph.
    pub fn header(&self, machine: &str, command: &str) -> String {
        let workers = self.workers;
        format!(
            "## Results\n\n{machine}. Every server ran {workers} workers (the seed forks per request); \
             wrk ran {workers} threads on the same machine; {:.0} s warm-up, then {:.0} s measured, per cell.\n\n\
             Command: `{command}`",
            self.warm.as_secs_f64(),
            self.measure.as_secs_f64()
        )
    }

    /// A row a scenario. Servers' files are deleted only when the returned
    /// directories are dropped, after the last cell: deleting tens of
    /// thousands of files (with online discard, as here) stalls the file
    /// system's journal and would slow whichever cell came next.
    pub fn run_all(&self, scenarios: &[&Scenario]) -> (Vec<Row>, Vec<TempDir>) {
        let mut rows = Vec::new();
        let mut leftovers = Vec::new();
        for sc in scenarios {
            let mut cells = Vec::new();
            for &kind in &self.kinds {
                cells.push((kind, self.cell(sc, kind, &mut leftovers)));
            }
            rows.push(Row {
                title: sc.title.to_string(),
                cells,
            });
        }
        (rows, leftovers)
    }

    /// Why `kind` is not measured in `sc`, if it is not.
    fn skip_reason(&self, sc: &Scenario, kind: Kind) -> Option<&'static str> {
        if kind == Kind::Seed && !sc.seed {
            return Some("skipped");
        }
        if (kind == Kind::RedisWebdis && self.tools.redis.is_none())
            || (kind == Kind::Etcd && self.tools.etcd.is_none())
        {
            return Some("not installed");
        }
        if let Some(why) = sc.servers.excludes(kind) {
            return Some(why);
        }
        if sc.idle + sc.connections + 100 > self.nofile as usize {
            return Some("ulimit -n too low");
        }
        if sc.measure == Measure::MkvRebuild {
            return self.mkv().as_ref().err().map(|(note, _)| *note);
        }
        None
    }

    /// `mkv`, built once; if it cannot be, why, said once on stderr.
    fn mkv(&self) -> &Result<PathBuf, mkv::Missing> {
        self.mkv.get_or_init(|| {
            let built = mkv::build();
            if let Err((_, why)) = &built {
                eprintln!("not measured: mkv rebuild: {why}");
            }
            built
        })
    }

    /// One cell, with a line on stderr; a failure is a cell that says so.
    fn cell(&self, sc: &Scenario, kind: Kind, leftovers: &mut Vec<TempDir>) -> Cell {
        if let Some(why) = self.skip_reason(sc, kind) {
            return Cell::skipped(why);
        }
        eprint!("{:12} {:22} ", sc.name, kind.label());
        let measured = match sc.runs {
            Runs::LogPairs | Runs::MetaPairs => self.measure_pairs(kind, sc),
            Runs::ScalePairs(small) => self.measure_scale(kind, sc, small),
            Runs::Once => self
                .measure_one(kind, sc, false)
                .map(|(c, f)| (c, f.into_iter().collect())),
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
        match (&cell.result, cell.seconds) {
            (Some(r), _) => eprintln!(
                "{:>10.0} req/s  p99 {:>6} us  errors {}",
                r.req_per_sec(),
                r.p99_us,
                r.errors()
            ),
            (None, Some(s)) => eprintln!("{s:>10.2} s"),
            (None, None) => eprintln!(),
        }
        cell
    }

    /// A feature's cost to one server (the access log, LOG_PAIRS; metadata,
    /// META_PAIRS): pairs of runs, each without the feature and then with it, so
    /// that the machine drifting between cells (on a shared VM it does, by tens
    /// of percent) is not taken for its cost. The cell is the median run with
    /// it; its figure compares the medians and gives each pair's ratio.
    fn measure_pairs(&self, kind: Kind, sc: &Scenario) -> anyhow::Result<(Cell, Vec<TempDir>)> {
        let rate = |c: &Cell| c.result.as_ref().map_or(0.0, |r| r.req_per_sec());
        let (what, pairs) = match sc.runs {
            Runs::LogPairs => ("the log", LOG_PAIRS),
            _ => ("metadata", META_PAIRS),
        };
        let plain = Scenario {
            meta: false,
            key: "/small",
            ..*sc
        };
        let (mut without, mut with, mut files) = (Vec::new(), Vec::new(), Vec::new());
        let mut ratios = Vec::new();
        for _ in 0..pairs {
            for on in [false, true] {
                let (cell, f) = match sc.runs {
                    Runs::LogPairs => self.measure_one(kind, sc, on)?,
                    _ => self.measure_one(kind, if on { sc } else { &plain }, false)?,
                };
                files.extend(f);
                if on { &mut with } else { &mut without }.push(cell);
            }
            let (off, on) = (
                rate(&without[without.len() - 1]),
                rate(&with[with.len() - 1]),
            );
            ratios.push(if off > 0.0 {
                format!("{:.2}", on / off)
            } else {
                "–".to_string()
            });
        }
        without.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
        with.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
        let (off, on) = (rate(&without[pairs / 2]), rate(&with[pairs / 2]));
        let mut cell = with.swap_remove(pairs / 2);
        cell.extra = Some(format!(
            "{what} changes its rate by {:+.1}%: {:.0} req/s without it, {:.0} with it (medians of {pairs} pairs of runs, each without then with; each pair's ratio: {})",
            (on / off - 1.0) * 100.0,
            off,
            on,
            ratios.join(", ")
        ));
        Ok((cell, files))
    }

    /// What a larger store costs the load: two servers up at once, one on
    /// `small` keys and one on `sc.spread`, each prepared as `sc` says, then
    /// SCALE_PAIRS pairs of runs, one on each store (the small one first in
    /// every other pair), each after its store is brought to its steady state
    /// again (`warm_keys`: the page cache holds both). The cell is the large store's median run; its
    /// figure compares the medians and gives each pair's ratio.
    fn measure_scale(
        &self,
        kind: Kind,
        sc: &Scenario,
        small: usize,
    ) -> anyhow::Result<(Cell, Vec<TempDir>)> {
        let small_sc = Scenario {
            spread: small,
            ..*sc
        };
        let stores = [self.prepare(kind, &small_sc)?, self.prepare(kind, sc)?];
        let (mut rates, mut ratios, mut cells) = ([Vec::new(), Vec::new()], Vec::new(), Vec::new());
        for pair in 0..SCALE_PAIRS {
            // every other pair the larger store first: what comes first in a
            // pair is not taken for the store's size
            let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let (ready, sc) = (&stores[i], [&small_sc, sc][i]);
                store::warm_keys(&ready.run, &self.script, ready.spread)?;
                let (result, peak_rss_kib) = self.load(&ready.run, sc, ready.spread, &ready.tag)?;
                let result = result?;
                rates[i].push(result.req_per_sec());
                if i == 1 {
                    cells.push(Cell {
                        result: Some(result),
                        seconds: None,
                        peak_rss_kib,
                        note: None,
                        extra: None,
                    });
                }
            }
            ratios.push(format!(
                "{:.2}",
                rates[1][rates[1].len() - 1] / rates[0][rates[0].len() - 1]
            ));
        }
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (a, b) = (median(&rates[0]), median(&rates[1]));
        let mid = rates[1].iter().position(|&r| r == b).unwrap_or(0);
        let mut cell = cells.swap_remove(mid);
        let notes: Vec<String> = stores.iter().filter_map(|r| r.extra.clone()).collect();
        cell.extra = Some(format!(
            "{}; {b:.0} req/s against {a:.0} req/s on {small} keys: {:.2}× (medians of {SCALE_PAIRS} pairs of runs, one on each store, the smaller first in every other pair, both servers up; each pair's ratio: {})",
            notes.join("; "),
            b / a,
            ratios.join(", ")
        ));
        let mut files = Vec::new();
        for mut ready in stores {
            files.extend(ready.run.keep_files());
        }
        Ok((cell, files))
    }

    /// One run of `sc` on a fresh `kind`: its store prepared, the load
    /// warmed up and measured, then what the scenario measures afterwards.
    fn measure_one(
        &self,
        kind: Kind,
        sc: &Scenario,
        access_log: bool,
    ) -> anyhow::Result<(Cell, Option<TempDir>)> {
        servers::ACCESS_LOG.store(access_log, Ordering::Relaxed);
        let metrics = match sc.measure {
            Measure::Backup => servers::spare_port()?,
            _ => 0,
        };
        servers::METRICS_PORT.store(metrics, Ordering::Relaxed);
        let Ready {
            mut run,
            spread,
            tag,
            mut extra,
            skip,
        } = self.prepare(kind, sc)?;
        if let Some(why) = skip {
            return Ok((Cell::skipped(why), run.keep_files()));
        }
        if sc.measure == Measure::MkvRebuild {
            let cell = self.rebuild_cell(&run, sc.spread, extra)?;
            return Ok((cell, run.keep_files()));
        }
        if sc.measure == Measure::Backup {
            let m = SocketAddr::from(([127, 0, 0, 1], metrics));
            let cell = self.backup_cell(&run, sc, m, &tag, extra)?;
            return Ok((cell, run.keep_files()));
        }
        let pss_before = servers::tree_pss_kib(run.pid());
        let (result, peak_rss_kib) = self.load(&run, sc, spread, &tag)?;
        if sc.after == After::Churn {
            let made = result.as_ref().map_or(0, |r| r.requests / 2);
            let live = sc.spread * self.workers; // each of wrk's threads keeps `spread`
            let (line, files) = self.churn_after(run, made, live, pss_before)?;
            let cell = Cell {
                result: Some(result?),
                seconds: None,
                peak_rss_kib,
                note: None,
                extra: Some(line),
            };
            return Ok((cell, files));
        }
        if sc.after == After::Expiry {
            extra = Some(expiry_after(&run, sc.expire, result.as_ref().ok()));
        }
        if sc.after == After::DiskUse {
            // what the overwrites left on disk once the server has had time to
            // reclaim (compact) it; the live data is 1,000 values of 64 bytes
            std::thread::sleep(Duration::from_secs(15));
            extra = Some(format!(
                "{:.1} MiB on disk 15 s after the load stopped (live: 1,000 × 64 B and the 1 MiB value)",
                store::dir_size(&run.data) as f64 / (1 << 20) as f64
            ));
        }
        let files = run.keep_files();
        let cell = Cell {
            result: Some(result?),
            seconds: None,
            peak_rss_kib,
            note: None,
            extra,
        };
        Ok((cell, files))
    }

    /// Starts `kind` and prepares its store as `sc` says.
    fn prepare(&self, kind: Kind, sc: &Scenario) -> anyhow::Result<Ready> {
        let mut run = servers::start(kind, &self.tools, self.workers)?;
        let (mut extra, mut spread) = (None, sc.spread);
        if sc.store == Store::RestartedOnKeys {
            // fill the store with `spread` keys, then time a restart on them
            let (restarted, keys, note) = store::restart_with_keys(
                run,
                &self.tools,
                self.workers,
                &self.script,
                sc.spread as u64,
            )?;
            run = restarted;
            extra = Some(note);
            // each of wrk's two threads wrote about half of them: read within both halves
            spread = (keys as usize) * 45 / 100;
            store::warm_keys(&run, &self.script, spread)?;
        }
        servers::preload(&run, "small", &self.small)?;
        servers::preload(&run, "big", &self.big)?;
        if matches!(run.kind, Kind::Asmkv | Kind::AsmkvNoSync) {
            servers::preload_with_metadata(&run, "small-meta", &self.small)?;
        }
        let mut ready = Ready {
            run,
            spread,
            tag: String::new(),
            extra,
            skip: None,
        };
        if sc.mode == "cond" {
            // the value's tag, and a check that it really earns a 304
            match store::etag(&ready.run, sc.key)? {
                Ok(t) => ready.tag = t,
                Err(why) => {
                    ready.skip = Some(why);
                    return Ok(ready);
                }
            }
        }
        if sc.store == Store::Listing {
            ready.extra = Some(store::listing_times(&ready.run, sc.spread)?);
        }
        if sc.store == Store::MkvVolume {
            ready.extra = Some(store::mkv_volume(&ready.run, sc.spread)?);
        }
        if sc.store == Store::Paged {
            ready.extra = Some(store::page_times(&ready.run, sc.spread)?);
        }
        if sc.store == Store::Bulk {
            ready.extra = Some(backup::fill(&ready.run, sc.spread, sc.body_len)?);
        }
        if sc.store == Store::Blocks {
            ready.tag = store::blocks(sc.key);
            ready.extra = Some(store::block_keys(&ready.run, &ready.tag)?);
        }
        nix::unistd::sync();
        Ok(ready)
    }

    /// The time of `mkv rebuild` of the server as minikeyvalue's only volume
    /// holding `keys` keys; `prepared` says how the volume was filled.
    fn rebuild_cell(
        &self,
        run: &Running,
        keys: usize,
        prepared: Option<String>,
    ) -> anyhow::Result<Cell> {
        let bin = self
            .mkv()
            .as_ref()
            .map_err(|(_, why)| anyhow::anyhow!("{why}"))?;
        let (seconds, line) = mkv::rebuild_time(bin, &run.addr.to_string(), keys)?;
        check_alive(run)?;
        let extra = match prepared {
            Some(p) => format!("{p}; {line}"),
            None => line,
        };
        Ok(Cell::timed(seconds, extra))
    }

    /// A backup's speed against `dd` of the same files (both from a cold
    /// cache when this process may empty it), then `sc`'s load without a
    /// backup and during backups taken one after another: the cell is the
    /// load during them, its line has the rest.
    fn backup_cell(
        &self,
        run: &Running,
        sc: &Scenario,
        metrics: SocketAddr,
        tag: &str,
        prepared: Option<String>,
    ) -> anyhow::Result<Cell> {
        let mib = |b: u64, t: Duration| b as f64 / (1 << 20) as f64 / t.as_secs_f64();
        let files = backup::store_files(&run.data)?;
        let cold = backup::drop_caches();
        let (dd_bytes, dd_time) = backup::dd(&files)?;
        backup::drop_caches();
        let alone = backup::take(metrics)?;
        let stream = alone.total - alone.head;
        let load = |d| wrk::Load {
            tag,
            mode: sc.mode,
            key: sc.key,
            body_len: 64,
            style: if sc.meta { "kvmeta" } else { run.kind.style() },
            spread: sc.spread,
            connections: sc.connections,
            threads: self.workers,
            duration: d,
        };
        wrk::run(&self.script, run.addr, &load(self.warm))?;
        let without = wrk::run(&self.script, run.addr, &load(self.measure))?;
        let taker = backup::Repeating::start(metrics);
        let during = wrk::run(&self.script, run.addr, &load(self.measure));
        let (n, bytes, took) = taker.stop()?;
        let during = during?;
        check_alive(run)?;
        let line = format!(
            "{}; a backup: {:.0} MiB, its head after {:.2} s (the segments settling), then {:.2} s at {:.0} MiB/s, against {:.0} MiB/s for dd of the same {} files ({:.2}×, {} page cache); GETs during {n} back-to-back backups ({:.0} MiB/s): {:.0} req/s against {:.0} req/s without ({:.2}×)",
            prepared.unwrap_or_default(),
            alone.bytes as f64 / (1 << 20) as f64,
            alone.head.as_secs_f64(),
            stream.as_secs_f64(),
            mib(alone.bytes, stream),
            mib(dd_bytes, dd_time),
            files.len(),
            mib(alone.bytes, stream) / mib(dd_bytes, dd_time),
            if cold { "cold" } else { "warm (not root: the cache kept)" },
            mib(bytes, took),
            during.req_per_sec(),
            without.req_per_sec(),
            during.req_per_sec() / without.req_per_sec(),
        );
        Ok(Cell {
            result: Some(during),
            seconds: None,
            peak_rss_kib: 0,
            note: None,
            extra: Some(line),
        })
    }

    /// The load: warm-up, then the measured run with the server's peak RSS
    /// sampled, while `sc.idle` connections are held open.
    fn load(
        &self,
        run: &Running,
        sc: &Scenario,
        spread: usize,
        tag: &str,
    ) -> anyhow::Result<(anyhow::Result<wrk::WrkResult>, u64)> {
        let idle = hold_idle(run.addr, sc.idle)?;
        let ttl = sc.expire.to_string();
        let (tag, style) = match (sc.meta, sc.expire) {
            (true, _) => (tag, "kvmeta"),
            (false, 0) => (tag, run.kind.style()),
            (false, _) => (ttl.as_str(), "kvexpire"),
        };
        let load = |d| wrk::Load {
            tag,
            mode: sc.mode,
            key: sc.key,
            body_len: sc.body_len,
            style,
            spread,
            connections: sc.connections,
            threads: self.workers,
            duration: d,
        };
        wrk::run(&self.script, run.addr, &load(self.warm))?;
        let peak = PeakRss::start(run);
        let measure = match sc.seconds {
            0 => self.measure,
            s => Duration::from_secs(s),
        };
        let result = wrk::run(&self.script, run.addr, &load(measure));
        let peak = peak.stop();
        drop(idle);
        check_alive(run)?;
        Ok((result, peak))
    }

    /// What churn left: a minute after the load, and again after a restart,
    /// the data directory's size and the PSS summed over the processes.
    fn churn_after(
        &self,
        mut run: Running,
        made: u64,
        live: usize,
        pss_before: u64,
    ) -> anyhow::Result<(String, Option<TempDir>)> {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let disk = |run: &Running| store::dir_size(&run.data) as f64 / (1 << 20) as f64;
        std::thread::sleep(Duration::from_secs(60));
        let (disk_live, pss_live) = (disk(&run), mib(servers::tree_pss_kib(run.pid())));
        let files = run.keep_files();
        let data = run.data.clone();
        drop(run);
        let mut again = servers::start_on(Kind::Asmkv, &self.tools, self.workers, &data, files)?;
        std::thread::sleep(Duration::from_secs(2));
        let (disk_again, pss_again) = (disk(&again), mib(servers::tree_pss_kib(again.pid())));
        let line = format!(
            "{made} keys made and deleted ({} live at the end): a minute after the load {disk_live:.1} MiB on disk and {pss_live:.1} MiB PSS summed over the processes (before the load: {:.1} MiB); after a restart {disk_again:.1} MiB on disk, {pss_again:.1} MiB PSS",
            live,
            mib(pss_before)
        );
        Ok((line, again.keep_files()))
    }

    /// Each server's program, its size and its RSS at rest, for the last table.
    pub fn sizes(&self) -> anyhow::Result<Vec<Size>> {
        let mut sizes = Vec::new();
        for &kind in &self.kinds {
            let Some((label, size)) = kind.program(&self.tools) else {
                continue;
            };
            let run = servers::start(kind, &self.tools, self.workers)?;
            std::thread::sleep(Duration::from_millis(300));
            let idle = run.rss_kib();
            let size = if kind == Kind::Seed {
                servers::file_size(&run.data.with_file_name("seed"))
            } else {
                size
            };
            sizes.push((kind, label, size, idle));
        }
        Ok(sizes)
    }
}

/// Pairs of runs measured for the cost of the access log.
const LOG_PAIRS: usize = 3;

/// Pairs of runs measured for the cost of a larger store.
const SCALE_PAIRS: usize = 5;

/// Pairs of runs measured for the cost of metadata: runs on this machine
/// vary by far more than the 5 % to be shown, so more of them.
const META_PAIRS: usize = 5;

/// The largest RSS of a server's processes, sampled every 100 ms on a thread.
struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<()>,
}

impl PeakRss {
    fn start(run: &Running) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(run.rss_kib()));
        let stop = Arc::new(AtomicBool::new(false));
        let pids: Vec<i32> = std::iter::once(run.pid())
            .chain(run.front.as_ref().map(|f| f.id() as i32))
            .collect();
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let rss = pids.iter().map(|&p| servers::tree_rss_kib(p)).sum();
                    peak.fetch_max(rss, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        PeakRss {
            peak,
            stop,
            sampler,
        }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().ok();
        self.peak.load(Ordering::Relaxed)
    }
}

/// What writes that expire `ttl` seconds after they were made leave: the
/// data directory's size when the load ends, then, sampled every second from
/// the last write's expiry, how long it takes to fall to 8 MiB (the live data
/// is /small and /big), for at most two minutes.
fn expiry_after(run: &Running, ttl: u64, load: Option<&wrk::WrkResult>) -> String {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let at_end = store::dir_size(&run.data);
    std::thread::sleep(Duration::from_secs(ttl));
    let expired = Instant::now();
    let target = 8 << 20;
    loop {
        let now = store::dir_size(&run.data);
        let took = expired.elapsed();
        if now <= target || took > Duration::from_secs(120) {
            return format!(
                "{} keys written, each expiring {ttl} s later: {:.1} MiB on disk when the load ended, {:.1} MiB {:.0} s after the last one expired{}",
                load.map_or(0, |r| r.requests - r.errors()),
                mib(at_end),
                mib(now),
                took.as_secs_f64(),
                if now <= target { "" } else { " (not back to 8 MiB in two minutes)" }
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
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
