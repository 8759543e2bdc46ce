//! The Rust peer (`bench peer`), with or without fsync.

use std::process::Command;

use super::{any_port_args, spawn_announcing, Kind, Launch, Started};

pub fn start(l: &Launch) -> anyhow::Result<Started> {
    let mut cmd = Command::new(&l.tools.bench);
    any_port_args(cmd.arg("peer"), "--threads", l);
    if l.kind == Kind::PeerNoSync {
        cmd.arg("--no-sync");
    }
    spawn_announcing(&mut cmd, 1)
}
