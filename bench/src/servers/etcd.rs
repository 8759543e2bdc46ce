//! etcd, through its v2 HTTP API.

use std::process::{Command, Stdio};

use anyhow::Context;

use super::{free_port, spawn_on_port, Launch, Started};

pub fn start(l: &Launch) -> anyhow::Result<Started> {
    let etcd = l.tools.etcd.as_ref().context("etcd not installed")?;
    let port = free_port()?;
    let peer = free_port()?;
    let mut cmd = Command::new(etcd);
    cmd.arg("--data-dir")
        .arg(l.data.join("etcd"))
        .arg("--listen-client-urls")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--advertise-client-urls")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--listen-peer-urls")
        .arg(format!("http://127.0.0.1:{peer}"))
        .arg("--initial-advertise-peer-urls")
        .arg(format!("http://127.0.0.1:{peer}"))
        .arg("--initial-cluster")
        .arg(format!("default=http://127.0.0.1:{peer}"))
        .args(["--enable-v2", "--log-level", "error"])
        .args(["--max-request-bytes", "8388608"]) // room for the 1 MiB value
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    spawn_on_port(&mut cmd, port)
}

/// The form body (`value=...`, percent-encoded) that stores `value` in etcd v2.
pub fn form_value(value: &[u8]) -> Vec<u8> {
    let mut form = b"value=".to_vec();
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            form.push(b);
        } else {
            form.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    form
}
