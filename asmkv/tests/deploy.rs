//! Deployment as the README documents it: `cargo install --path asmkv`, and
//! the systemd unit in contrib/, checked by `systemd-analyze verify`.
mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn cargo_install_puts_a_working_binary_in_place() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install");
    let _ = std::fs::remove_dir_all(&tmp);
    let out = Command::new(env!("CARGO"))
        .args(["install", "--offline", "--path", "asmkv", "--root"])
        .arg(tmp.join("root"))
        .arg("--target-dir")
        .arg(tmp.join("target"))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = Command::new(tmp.join("root/bin/asmkv"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&v.stdout), "asmkv 0.1.0\n");
}

#[test]
fn the_systemd_unit_verifies() {
    if !need("the_systemd_unit_verifies", "systemd-analyze", "systemd") {
        return;
    }
    let unit = std::fs::read_to_string(root().join("contrib/asmkv.service")).unwrap();
    for key in [
        "DynamicUser=yes",
        "StateDirectory=asmkv",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6",
        "ExecStart=/usr/local/bin/asmkv --listen 127.0.0.1:8080 --data /var/lib/asmkv",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.lines().any(|l| l == key), "{key}");
    }
    // verify checks that the program exists: point it at the one built here
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("asmkv.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/asmkv", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // it warns (and still succeeds) about what it does not understand
    assert!(err.trim().is_empty(), "systemd-analyze verify: {err}");
}
