//! The fresh-machine rule: on a machine without a tool some tests need, those
//! tests - exactly those - say `SKIPPED <test>: needs TOOL (apt-get install
//! PACKAGE)` and pass; the others run. Checked by running the suites that use
//! strace and curl with a PATH that has everything but those two. (It runs
//! their test executables, as `cargo test --workspace` builds them first; run
//! alone, build them with `cargo test --release --no-run`.)
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest test executable of a suite, next to this one.
fn suite(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap();
    let dir = me.parent().unwrap();
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let f = p.file_name().unwrap().to_string_lossy();
            f.starts_with(&format!("{name}-")) && !f.contains('.')
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no test executable for {name} in {}", dir.display()))
}

/// A directory standing for PATH: every program of PATH, but `without`.
fn path_without(dir: &Path, without: &[&str]) -> String {
    let path = std::env::var_os("PATH").unwrap();
    for d in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if without.iter().any(|w| name == *w) || dir.join(&name).exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), dir.join(&name));
        }
    }
    dir.to_str().unwrap().to_string()
}

#[test]
fn without_strace_and_curl_exactly_their_tests_skip() {
    let tmp = tempfile::tempdir().unwrap();
    let path = path_without(tmp.path(), &["strace", "curl"]);
    for (name, tools, runs) in [
        (
            "durability",
            vec![
                (
                    "every_write_is_answered_only_after_its_record_is_flushed",
                    "strace",
                ),
                ("a_small_get_is_three_system_calls", "strace"),
                (
                    "a_hint_is_written_only_after_its_segment_is_flushed",
                    "strace",
                ),
            ],
            "disk_full_answers_507_and_keeps_the_old_value",
        ),
        (
            "protocol",
            vec![
                ("curl_chunked_and_large_upload_with_100_continue", "curl"),
                ("body_over_max_body_is_413", "curl"),
                (
                    "one_byte_range_is_served_with_206_and_bad_ones_are_ignored",
                    "curl",
                ),
            ],
            "chunked_upload",
        ),
    ] {
        let mut cmd = Command::new(suite(name));
        cmd.env("PATH", &path)
            .env_remove("ASMKV_NO_SKIP")
            .args(["--exact", "--test-threads", "2"]);
        for (t, _) in &tools {
            cmd.arg(t);
        }
        cmd.arg(runs);
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name}:\n{text}");
        let skipped: Vec<&str> = text.lines().filter(|l| l.starts_with("SKIPPED ")).collect();
        for (t, tool) in &tools {
            let line = format!("SKIPPED {t}: needs {tool} (apt-get install {tool})");
            assert!(
                skipped.contains(&line.as_str()),
                "{name}: no {line:?}:\n{text}"
            );
        }
        // no other test wanted them (a test may skip for other reasons, e.g.
        // root for a tmpfs, on a machine that lacks it)
        for l in &skipped {
            if l.contains("strace") || l.contains("curl") {
                assert!(tools.iter().any(|(t, _)| l.contains(t)), "{name}: {l}");
            }
        }
        // and the test that needs neither ran
        assert!(
            text.contains(&format!("test {runs} ... ok")),
            "{name}: {runs} did not run:\n{text}"
        );
    }
}
