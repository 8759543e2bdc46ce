//! The seed sample: an assembly server that forks per request, assembled here
//! with its port retargeted.

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use super::{free_port, spawn_on_port, Launch, Started};

pub fn start(l: &Launch) -> anyhow::Result<Started> {
    let src = l.tools.seed_source.as_ref().context("no seed source")?;
    let port = free_port()?;
    let text = std::fs::read_to_string(src)?;
    if !text.contains(".equ PORT, 8080") {
        bail!("seed source has no '.equ PORT, 8080' to retarget");
    }
    let seed_dir = l.data.parent().context("data directory")?;
    let s = seed_dir.join("seed.s");
    std::fs::write(
        &s,
        text.replace(".equ PORT, 8080", &format!(".equ PORT, {port}")),
    )?;
    let o = seed_dir.join("seed.o");
    let bin = seed_dir.join("seed");
    let ok = Command::new("as")
        .arg("-o")
        .arg(&o)
        .arg(&s)
        .status()?
        .success()
        && Command::new("ld")
            .arg("-o")
            .arg(&bin)
            .arg(&o)
            .status()?
            .success();
    if !ok {
        bail!("assembling the seed failed");
    }
    let mut cmd = Command::new(&bin);
    cmd.current_dir(l.data).stdout(Stdio::null());
    spawn_on_port(&mut cmd, port)
}
