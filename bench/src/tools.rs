//! The machine the run is on: the programs it needs, its descriptor limit,
//! and the line that describes it in the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

use crate::servers::Tools;

/// Raises this process's descriptor limit to its hard limit.
pub fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            hard
        }
        Err(_) => 1024,
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Finds the programs the run needs, or says how to get them; builds asmkv.
pub fn check_tools() -> anyhow::Result<Tools> {
    let mut missing = Vec::new();
    for t in ["wrk", "nginx", "as", "ld"] {
        if which(t).is_none() {
            missing.push(t);
        }
    }
    if !missing.is_empty() {
        bail!(
            "missing {}: apt-get install wrk nginx-light binutils fonts-dejavu-core",
            missing.join(", ")
        );
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "asmkv"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("building asmkv failed");
    }
    let seed = root.join("../shared/peers/seed-server.s");
    Ok(Tools {
        asmkv: root.join("target/release/asmkv"),
        bench: std::env::current_exe()?,
        nginx: which("nginx").unwrap(),
        seed_source: seed.is_file().then_some(seed),
        redis: which("redis-server").zip(which("webdis")),
        etcd: which("etcd"),
    })
}

pub fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu}), Linux {}", kernel.trim())
}
