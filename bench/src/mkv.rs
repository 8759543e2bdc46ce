//! minikeyvalue (vendor/minikeyvalue): its volume layout, ported from its
//! `lib.go`, its `mkv` binary built from the vendored source as
//! `asmkv/tests/minikeyvalue.rs` builds it, and `mkv rebuild` timed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use md5::{Digest, Md5};

/// Subvolumes of a volume (`-subvolumes`; minikeyvalue's default too).
pub const SUBVOLUMES: u32 = 10;

/// The Debian packages `mkv` is built with.
pub const GO_PACKAGES: &str =
    "golang-go golang-github-syndtr-goleveldb-dev golang-github-google-uuid-dev";

/// Every key's name starts with this (`mkv rebuild` prints each key it finds).
const KEY_PREFIX: &str = "mkv-";

/// A rebuild taking this long or more is run once, not three times.
const ONE_RUN: Duration = Duration::from_secs(30);

/// Where minikeyvalue puts `key` on `volume` when that is its only volume
/// (one replica): lib.go's `key2volume` picks the subvolume by the last four
/// bytes of md5(key, volume), `key2path` two directories by md5(key), then
/// the key in standard base64: `/svXX/aa/bb/KEY`.
pub fn key_path(key: &[u8], volume: &str, subvolumes: u32) -> String {
    let score = Md5::new().chain_update(key).chain_update(volume).finalize();
    let sv = u32::from_be_bytes([score[12], score[13], score[14], score[15]]) % subvolumes;
    let m = Md5::digest(key);
    format!(
        "/sv{sv:02X}/{:02x}/{:02x}/{}",
        m[0],
        m[1],
        STANDARD.encode(key)
    )
}

/// `n` keys whose base64 has no `/` (minikeyvalue would PUT such a key
/// one directory deeper than its layout, and its rebuild would miss it).
pub fn keys(n: usize) -> impl Iterator<Item = Vec<u8>> {
    (0..)
        .map(|i: u64| format!("{KEY_PREFIX}{i:08}").into_bytes())
        .filter(|k| !STANDARD.encode(k).contains('/'))
        .take(n)
}

fn vendored() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vendor/minikeyvalue")
}

/// Why `mkv` cannot be had: a short note for the table, and the whole story.
pub type Missing = (&'static str, String);

/// Builds `mkv` from the vendored source with Debian's Go libraries, no
/// module downloads (as VENDORED says), into target/minikeyvalue.
pub fn build() -> Result<PathBuf, Missing> {
    let hint = format!("apt-get install {GO_PACKAGES}");
    if Command::new("go").arg("version").output().is_err() {
        return Err(("no Go", format!("needs go ({hint})")));
    }
    let libs = ["github.com/syndtr/goleveldb", "github.com/google/uuid"];
    if !libs
        .iter()
        .all(|l| Path::new("/usr/share/gocode/src").join(l).exists())
    {
        return Err((
            "no Go libs",
            format!("minikeyvalue's Go libraries are missing ({hint})"),
        ));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/minikeyvalue");
    let bin = dir.join("mkv");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(vendored().join("src"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", dir.join("gocache"))
        .output()
        .map_err(|e| ("build failed", format!("go build: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).to_string();
        return Err(("build failed", format!("go build of mkv failed: {why}")));
    }
    Ok(bin)
}

/// One `mkv rebuild` of `volume` (its only volume) into a new index:
/// how long it took, checked to have found all `keys` keys.
fn rebuild_once(mkv: &Path, volume: &str, keys: usize) -> anyhow::Result<Duration> {
    let db = tempfile::tempdir()?;
    let started = Instant::now();
    let out = Command::new(mkv)
        .args(["-volumes", volume, "-replicas", "1", "-subvolumes"])
        .arg(SUBVOLUMES.to_string())
        .arg("-db")
        .arg(db.path().join("index"))
        .arg("rebuild")
        .stdin(Stdio::null())
        .output()?;
    let took = started.elapsed();
    anyhow::ensure!(
        out.status.success(),
        "mkv rebuild: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // it prints a line per key it put in the index
    let found = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(KEY_PREFIX))
        .count();
    anyhow::ensure!(found == keys, "mkv rebuild found {found} of {keys} keys");
    Ok(took)
}

/// Times `mkv rebuild` of `volume`: the median of 3 runs, or 1 run if the
/// first took 30 s or more. Returns the seconds and a line with every run.
pub fn rebuild_time(mkv: &Path, volume: &str, keys: usize) -> anyhow::Result<(f64, String)> {
    let mut runs = vec![rebuild_once(mkv, volume, keys)?];
    if runs[0] < ONE_RUN {
        for _ in 0..2 {
            runs.push(rebuild_once(mkv, volume, keys)?);
        }
    }
    let all: Vec<String> = runs
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    runs.sort();
    let median = runs[runs.len() / 2].as_secs_f64();
    let how = if runs.len() > 1 {
        format!("median of {} runs: {} s", runs.len(), all.join(", "))
    } else {
        "one run: 30 s or more".to_string()
    };
    let line = format!(
        "`mkv rebuild -replicas 1 -subvolumes {SUBVOLUMES}`: {median:.2} s, all {keys} keys found ({how})"
    );
    Ok((median, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_avoid_slashes() {
        let ks: Vec<Vec<u8>> = keys(1000).collect();
        assert_eq!(ks.len(), 1000);
        assert!(ks.iter().all(|k| !STANDARD.encode(k).contains('/')));
    }

    /// Paths printed by lib.go's own `key2volume` + `key2path` for these
    /// keys on one volume "127.0.0.1:3001", one replica, 10 subvolumes.
    #[test]
    fn paths_are_minikeyvalues() {
        for (key, path) in [
            ("mkv-00000000", "/sv05/d4/5c/bWt2LTAwMDAwMDAw"),
            ("mkv-00000001", "/sv02/d6/53/bWt2LTAwMDAwMDAx"),
            ("mkv-00012345", "/sv05/02/02/bWt2LTAwMDEyMzQ1"),
        ] {
            assert_eq!(key_path(key.as_bytes(), "127.0.0.1:3001", 10), path);
        }
    }
}
