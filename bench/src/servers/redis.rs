//! Redis (append-only file, fsync always) behind Webdis, its HTTP front.

use std::process::{Command, Stdio};

use anyhow::Context;

use super::{free_port, spawn_on_port, Launch, Started};

pub fn start(l: &Launch) -> anyhow::Result<Started> {
    let (redis, webdis) = l
        .tools
        .redis
        .as_ref()
        .context("redis-server/webdis not installed")?;
    let rport = free_port()?;
    let mut cmd = Command::new(redis);
    cmd.args(["--bind", "127.0.0.1", "--port", &rport.to_string(), "--dir"])
        .arg(l.data)
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "no",
            "--maxclients",
            "20000",
        ])
        .stdout(Stdio::null());
    let redis = spawn_on_port(&mut cmd, rport)?;
    let port = free_port()?;
    let conf = l.scratch.join("webdis.json");
    std::fs::write(
        &conf,
        format!(
            r#"{{"redis_host":"127.0.0.1","redis_port":{rport},"http_host":"127.0.0.1","http_port":{port},"threads":{workers},"pool_size":{pool},"daemonize":false,"websockets":false,"database":0,"verbosity":0,"logfile":"{log}"}}"#,
            workers = l.workers,
            pool = 8 * l.workers,
            log = l.scratch.join("webdis.log").display()
        ),
    )?;
    let mut cmd = Command::new(webdis);
    cmd.arg(&conf).stdout(Stdio::null()).stderr(Stdio::null());
    let webdis = spawn_on_port(&mut cmd, port)?;
    Ok(Started {
        child: redis.child,
        front: Some(webdis.child),
        addr: webdis.addr,
    })
}
