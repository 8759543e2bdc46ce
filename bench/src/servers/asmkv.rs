//! asmkv itself, as shipped or with `--sync none`.

use std::process::Command;

use std::sync::atomic::Ordering;

use super::{access_log_on, any_port_args, spawn_announcing, Kind, Launch, Started, METRICS_PORT};

pub fn start(l: &Launch) -> anyhow::Result<Started> {
    let mut cmd = Command::new(&l.tools.asmkv);
    any_port_args(&mut cmd, "--workers", l);
    if l.kind == Kind::AsmkvNoSync {
        cmd.args(["--sync", "none"]);
    }
    if access_log_on() {
        cmd.arg("--access-log").arg(l.scratch.join("access.log"));
    }
    let metrics = METRICS_PORT.load(Ordering::Relaxed);
    if metrics != 0 {
        cmd.arg("--metrics").arg(format!("127.0.0.1:{metrics}"));
    }
    // its error log, out of the harness's own output
    let errors = std::fs::File::create(l.scratch.join("error.log"))?;
    spawn_announcing(cmd.stderr(errors), if metrics != 0 { 2 } else { 1 })
}
