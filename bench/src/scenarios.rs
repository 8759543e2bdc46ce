//! The scenarios, as data: what each one's store holds, what load runs,
//! which servers take part and how many runs make a cell. The runner
//! (`run.rs`) follows these fields and never looks at a scenario's name.

use anyhow::bail;

use crate::servers::Kind;

#[derive(Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub title: &'static str,
    /// wrk's load (see `wrk::Load`): get, put, hot, spread, mixed, close, cond
    pub mode: &'static str,
    pub key: &'static str,
    pub body_len: usize,
    pub connections: usize,
    /// connections opened and held idle during the load
    pub idle: usize,
    /// whether the seed sample takes part
    pub seed: bool,
    /// keys a `hot` load writes (a `spread` load reads as many), or a listing holds
    pub spread: usize,
    /// which of the other servers take part
    pub servers: Servers,
    /// how the store is prepared before the load
    pub store: Store,
    /// what is measured: wrk's load, or a command's time
    pub measure: Measure,
    /// what is measured once the load has stopped
    pub after: After,
    /// how many runs make a cell
    pub runs: Runs,
    /// how long the measured load runs, if not the runner's usual time
    pub seconds: u64,
    /// whether writes carry a Content-Type and two X-Object-Meta-* fields
    /// (and reads are of a value written so: `key` /small-meta)
    pub meta: bool,
    /// seconds after which each write expires (`X-Delete-After`), 0: never
    pub expire: u64,
}

/// Which servers a scenario measures.
#[derive(Clone, Copy)]
pub enum Servers {
    All,
    /// only these; the others' cells show the note
    Only(&'static [Kind], &'static str),
}

impl Servers {
    /// Why `kind` takes no part, if it does not.
    pub fn excludes(self, kind: Kind) -> Option<&'static str> {
        match self {
            Servers::All => None,
            Servers::Only(kinds, _) if kinds.contains(&kind) => None,
            Servers::Only(_, why) => Some(why),
        }
    }
}

/// What the store holds when the load starts. Every store also holds
/// `/small` (64 B) and `/big` (1 MiB).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Fresh,
    /// `spread` keys written, then the server stopped and restarted on them
    /// (timed); a `spread` load reads them
    RestartedOnKeys,
    /// `spread` keys under /l/, then listings of them (timed)
    Listing,
    /// `spread` keys PUT in minikeyvalue's volume layout, the server as its
    /// only volume (`store::mkv_volume`)
    MkvVolume,
    /// `spread` keys under /p/, then pages of 1,000 of them after random
    /// names (timed); the load asks for the first page
    Paged,
    /// the keys made of one block of each pair of `key`'s set (fnv1a: pairs
    /// that collide under FNV-1a, `store::blocks`); a `blocks` load reads them
    Blocks,
    /// `spread` keys of `body_len` bytes (`backup::fill`)
    Bulk,
}

/// What a cell measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// wrk's load (`mode`): requests per second
    Wrk,
    /// the seconds `mkv rebuild` takes to index the volume (lower is better;
    /// `mkv::rebuild_time`)
    MkvRebuild,
    /// `GET /backup` (asmkv's metrics socket) against `dd` of the same files;
    /// the cell is the load's rate during back-to-back backups, against the
    /// rate without one (`run::Bench::backup_cell`)
    Backup,
}

/// What is measured after the load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum After {
    Nothing,
    /// the data directory's size once the server has had time to compact
    DiskUse,
    /// a minute after the load, and again after a restart: the data
    /// directory's size and the PSS of every process, against the PSS before
    /// the load
    Churn,
    /// the data directory's size at the load's end, then how long after the
    /// last write's expiry (`expire`) it takes to come back to a few MiB
    Expiry,
}

/// How many runs make a cell.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    Once,
    /// pairs of runs without and with the access log, for its cost
    LogPairs,
    /// pairs of runs of the same load without metadata (`key` /small, writes
    /// without fields) and with it, for its cost
    MetaPairs,
    /// pairs of runs on a store of this many keys and on the scenario's
    /// (`spread`), two servers up at once, for what the larger store costs
    ScalePairs(usize),
}

/// The servers that keep a value's metadata.
const METADATA: Servers = Servers::Only(&[Kind::Asmkv], "–");

/// The servers that can write an access log.
const LOGGING: Servers = Servers::Only(&[Kind::Asmkv, Kind::NginxDav], "–");

const BASE: Scenario = Scenario {
    name: "",
    title: "",
    mode: "get",
    key: "/small",
    body_len: 64,
    connections: 50,
    idle: 0,
    seed: false,
    spread: 1000,
    servers: Servers::All,
    store: Store::Fresh,
    measure: Measure::Wrk,
    after: After::Nothing,
    runs: Runs::Once,
    seconds: 0,
    meta: false,
    expire: 0,
};

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "get64",
        title: "GET 64 B, 50 conns",
        seed: true,
        ..BASE
    },
    Scenario {
        name: "get64-c1000",
        title: "GET 64 B, 1000 conns",
        connections: 1000,
        ..BASE
    },
    Scenario {
        name: "get1m",
        title: "GET 1 MiB, 50 conns",
        key: "/big",
        ..BASE
    },
    Scenario {
        name: "put64",
        title: "PUT 64 B new keys, 50 conns",
        mode: "put",
        seed: true,
        ..BASE
    },
    Scenario {
        name: "get64meta",
        title: "GET 64 B with a Content-Type and 2 X-Object-Meta-*, 50 conns",
        key: "/small-meta",
        servers: METADATA,
        runs: Runs::MetaPairs,
        meta: true,
        ..BASE
    },
    Scenario {
        name: "put64meta",
        title: "PUT 64 B new keys with a Content-Type and 2 X-Object-Meta-*, 50 conns",
        mode: "put",
        servers: METADATA,
        runs: Runs::MetaPairs,
        meta: true,
        ..BASE
    },
    Scenario {
        name: "expire1m",
        title:
            "PUT 64 B new keys that expire 30 s later, 50 conns, 25 s: then their room given back",
        mode: "put",
        servers: Servers::Only(&[Kind::Asmkv], "no expiry"),
        after: After::Expiry,
        seconds: 25,
        expire: 30,
        ..BASE
    },
    Scenario {
        name: "overwrite",
        title: "PUT 64 B over 1,000 hot keys, 50 conns",
        mode: "hot",
        after: After::DiskUse,
        ..BASE
    },
    Scenario {
        name: "put1m",
        title: "PUT 1 MiB new keys, 8 conns",
        mode: "put",
        body_len: 1 << 20,
        connections: 8,
        ..BASE
    },
    Scenario {
        name: "mixed",
        title: "90% GET / 10% PUT, 50 conns",
        mode: "mixed",
        seed: true,
        ..BASE
    },
    Scenario {
        name: "close",
        title: "new connection per GET, 50 conns",
        mode: "close",
        seed: true,
        ..BASE
    },
    Scenario {
        name: "idle10k",
        title: "GET 64 B, 50 conns + 10k idle",
        idle: 10_000,
        ..BASE
    },
    Scenario {
        name: "get64-log",
        title: "GET 64 B, 50 conns, access log on",
        servers: LOGGING,
        runs: Runs::LogPairs,
        ..BASE
    },
    Scenario {
        name: "put64-log",
        title: "PUT 64 B new keys, 50 conns, access log on",
        mode: "put",
        servers: LOGGING,
        runs: Runs::LogPairs,
        ..BASE
    },
    Scenario {
        name: "get304",
        title: "conditional GET 64 B answered 304, 50 conns",
        mode: "cond",
        ..BASE
    },
    Scenario {
        name: "list100k",
        title: "listing of 100,000 keys (JSON), 4 conns",
        key: "/l/",
        connections: 4,
        spread: 100_000,
        servers: Servers::Only(&[Kind::Asmkv, Kind::NginxDav], "no listing"),
        store: Store::Listing,
        ..BASE
    },
    Scenario {
        name: "churn",
        title: "churn: new keys, each deleted 500 keys later (1,000 live), 50 conns, 300 s",
        mode: "churn",
        spread: 500,
        servers: Servers::Only(&[Kind::Asmkv], "–"),
        after: After::Churn,
        seconds: 300,
        ..BASE
    },
    Scenario {
        name: "page100k",
        title: "a page of 1,000 names of 100,000 keys, 4 conns",
        key: "/p/?limit=1000",
        connections: 4,
        spread: 100_000,
        servers: Servers::Only(&[Kind::Asmkv], "no paging"),
        store: Store::Paged,
        ..BASE
    },
    Scenario {
        name: "page10m",
        title: "a page of 1,000 names of 10,000,000 keys, 4 conns",
        key: "/p/?limit=1000",
        connections: 4,
        spread: 10_000_000,
        servers: Servers::Only(&[Kind::Asmkv], "no paging"),
        store: Store::Paged,
        ..BASE
    },
    Scenario {
        name: "keys1m",
        title: "GET 64 B of 1M keys after a restart, 50 conns",
        mode: "spread",
        spread: 1_000_000,
        servers: Servers::Only(&[Kind::Asmkv], "–"),
        store: Store::RestartedOnKeys,
        ..BASE
    },
    Scenario {
        name: "keys16m",
        title: "GET 64 B of 16M keys after a restart, 50 conns",
        mode: "spread",
        spread: 16_000_000,
        servers: Servers::Only(&[Kind::Asmkv], "–"),
        store: Store::RestartedOnKeys,
        runs: Runs::ScalePairs(1_000_000),
        ..BASE
    },
    Scenario {
        name: "flood",
        title: "GET of 4,096 keys FNV-1a puts in one bucket (1 B values), 50 conns",
        mode: "blocks",
        key: "fnv1a",
        servers: Servers::Only(&[Kind::Asmkv], "–"),
        store: Store::Blocks,
        ..BASE
    },
    Scenario {
        name: "blocks",
        title: "GET of 4,096 keys made the same way from random blocks (1 B values), 50 conns",
        mode: "blocks",
        key: "random",
        servers: Servers::Only(&[Kind::Asmkv], "–"),
        store: Store::Blocks,
        ..BASE
    },
    Scenario {
        name: "backup1g",
        title: "GET 64 B, 50 conns, during backups of a 1 GiB store (16,384 × 64 KiB)",
        body_len: 64 << 10,
        spread: 16_384,
        servers: Servers::Only(&[Kind::Asmkv], "no online backup"),
        store: Store::Bulk,
        measure: Measure::Backup,
        ..BASE
    },
    Scenario {
        name: "rebuild100k",
        title: "mkv rebuild of a volume holding 100,000 keys in minikeyvalue's layout",
        spread: 100_000,
        servers: Servers::Only(&[Kind::Asmkv, Kind::NginxDav], "–"),
        store: Store::MkvVolume,
        measure: Measure::MkvRebuild,
        ..BASE
    },
    Scenario {
        name: "rebuild1m",
        title: "mkv rebuild of a volume holding 1,000,000 keys in minikeyvalue's layout",
        spread: 1_000_000,
        servers: Servers::Only(&[Kind::Asmkv, Kind::NginxDav], "–"),
        store: Store::MkvVolume,
        measure: Measure::MkvRebuild,
        ..BASE
    },
];

/// `--list`: a line a scenario.
pub fn print_list() {
    for s in SCENARIOS {
        println!("{:12} {}", s.name, s.title);
    }
}

/// The scenarios `--only` names (comma-separated), in the table's order; all without it.
pub fn select(only: Option<&str>) -> anyhow::Result<Vec<&'static Scenario>> {
    let wanted: Option<Vec<&str>> = only.map(|o| o.split(',').collect());
    if let Some(unknown) = wanted
        .iter()
        .flatten()
        .find(|w| !SCENARIOS.iter().any(|s| s.name == **w))
    {
        bail!("no scenario named {unknown:?} (see --list)");
    }
    Ok(SCENARIOS
        .iter()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.name)))
        .collect())
}
