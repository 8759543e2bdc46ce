//! Power loss, simulated with LazyFS (vendored in `vendor/lazyfs`): a FUSE
//! file system that keeps every write not yet flushed in its own cache and
//! drops that cache on command. Each cycle runs the server on LazyFS under a
//! write load of self-checking values, kills every server process, drops the
//! unflushed writes - the power cut - and restarts on what reached the disk.
//! At the end every acknowledged write must read back intact.
//!
//!     cargo test --release --test powerloss                      # 20 cycles
//!     ASMKV_POWERLOSS_CYCLES=100 cargo test --release --test powerloss
//!     ASMKV_POWERLOSS_SYNC=none ...   # must fail: nothing is flushed
//!
//! LazyFS is built on first use (into target/) with Debian's cmake, g++,
//! libfuse3-dev, fuse3, libtoml11-dev and libspdlog-dev; without them, or
//! without /dev/fuse and root, the test is skipped with a line saying so (and
//! fails instead under ASMKV_NO_SKIP=1, as in CI).
mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PACKAGES: &str = "cmake g++ libfuse3-dev fuse3 libtoml11-dev libspdlog-dev";

/// Says why the test cannot run here: skipped, or (ASMKV_NO_SKIP) failed.
fn skip_powerloss(why: &str) {
    skip(
        "acknowledged_writes_survive_power_loss",
        &format!("{why} (apt-get install {PACKAGES}; needs root and /dev/fuse)"),
    );
}

/// Builds LazyFS from the vendored source into target/, once.
fn lazyfs() -> Result<PathBuf, String> {
    let build = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lazyfs");
    let bin = build.join("lazyfs/build/lazyfs");
    if bin.exists() {
        return Ok(bin);
    }
    for tool in ["cmake", "g++", "fusermount3"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            return Err(format!("{tool} is missing"));
        }
    }
    for header in [
        "/usr/include/fuse3/fuse.h",
        "/usr/include/toml.hpp",
        "/usr/include/spdlog/spdlog.h",
    ] {
        if !Path::new(header).exists() {
            return Err(format!("{header} is missing"));
        }
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vendor/lazyfs");
    let _ = std::fs::remove_dir_all(&build);
    let copied = Command::new("cp")
        .arg("-r")
        .arg(&source)
        .arg(&build)
        .status()
        .map_err(|e| e.to_string())?;
    if !copied.success() {
        return Err("cannot copy vendor/lazyfs".into());
    }
    // the two steps of vendor/lazyfs/VENDORED, in a copy of the source
    for (dir, configure) in [
        ("libs/libpcache", vec![".."]),
        ("lazyfs", vec!["-DLAZYFS_BUILD_TESTS=OFF", ".."]),
    ] {
        let dir = build.join(dir).join("build");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for args in [configure, vec!["--build", ".", "-j2"]] {
            let out = Command::new("cmake")
                .args(&args)
                .current_dir(&dir)
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "building LazyFS failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    Ok(bin)
}

/// A LazyFS mount of `root` at `mnt`, unmounted when dropped.
struct LazyFs {
    child: Child,
    mnt: PathBuf,
    fifo: PathBuf,
}

impl LazyFs {
    fn mount(bin: &Path, work: &Path, root: &Path) -> LazyFs {
        let mnt = work.join("mnt");
        let fifo = work.join("faults.fifo");
        let config = work.join("lazyfs.toml");
        std::fs::create_dir_all(&mnt).unwrap();
        std::fs::write(
            &config,
            format!(
                "[faults]\nfifo_path=\"{}\"\n[cache]\napply_eviction=false\n\
                 [cache.simple]\ncustom_size=\"256mb\"\nblocks_per_page=1\n\
                 [filesystem]\nlog_all_operations=false\nlogfile=\"\"\n",
                fifo.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg(&mnt)
            .arg("--config-path")
            .arg(&config)
            .args(["-o", "allow_other", "-o", "modules=subdir", "-o"])
            .arg(format!("subdir={}", root.display()))
            .arg("-f")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lazyfs");
        let deadline = Instant::now() + Duration::from_secs(30);
        let target = mnt.display().to_string();
        while !std::fs::read_to_string("/proc/mounts")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(&target))
        {
            assert!(Instant::now() < deadline, "LazyFS did not mount");
            std::thread::sleep(Duration::from_millis(20));
        }
        LazyFs { child, mnt, fifo }
    }

    /// The power cut: every write not yet flushed is gone.
    fn clear_cache(&self) {
        std::fs::write(&self.fifo, b"lazyfs::clear-cache\n").unwrap();
        // LazyFS takes the command asynchronously; it is done when a new
        // command is accepted after it, which a second write waits for
        std::fs::write(&self.fifo, b"lazyfs::clear-cache\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for LazyFs {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.mnt)
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn acknowledged_writes_survive_power_loss() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/dev/fuse").exists() {
        return skip_powerloss("not root, or no /dev/fuse");
    }
    let bin = match lazyfs() {
        Ok(bin) => bin,
        Err(why) => return skip_powerloss(&why),
    };
    let cycles: u64 = std::env::var("ASMKV_POWERLOSS_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let sync = std::env::var("ASMKV_POWERLOSS_SYNC").unwrap_or_else(|_| "always".into());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("disk"); // what reached the disk
    std::fs::create_dir(&root).unwrap();
    let seq = Arc::new(AtomicU64::new(1));
    let history: Arc<Mutex<Vec<Put>>> = Arc::new(Mutex::new(Vec::new()));
    let expiring: Arc<Mutex<Vec<(String, bool)>>> = Arc::new(Mutex::new(Vec::new()));
    for cycle in 0..cycles {
        let fs = LazyFs::mount(&bin, tmp.path(), &root);
        let s = Server::start_in(&fs.mnt.join("data"), &["--sync", &sync]);
        let load = WriteLoad::start(s.addr, cycle, &seq, &history);
        let side = ExpiringLoad::start(s.addr, cycle, &expiring);
        let delay = 100 + (pattern(1, cycle + 1000)[0] as u64) % 300;
        std::thread::sleep(Duration::from_millis(delay));
        s.crash(); // every process, kill -9
        load.join();
        side.join();
        fs.clear_cache();
        drop(fs);
    }
    // what survived, read straight from the disk: no expired value came back
    // and (with --sync always) every acknowledged one that has not expired did
    std::thread::sleep(Duration::from_millis(2100));
    let s = Server::start_in(&root.join("data"), &[]);
    check_expiring(&s, &expiring.lock().unwrap(), sync == "always");
    let history = history.lock().unwrap();
    let (acked, keys) = check_history(&s, &history);
    assert!(
        acked > cycles as usize * 10,
        "too little work to prove anything: {acked} acknowledged writes"
    );
    println!(
        "{cycles} power cuts (--sync {sync}), {} writes, {acked} acknowledged, {keys} keys checked",
        history.len()
    );
}
