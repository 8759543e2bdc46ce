//! nginx's WebDAV module serving a directory (no fsync).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;
use nix::unistd::{chown, User};

use super::{access_log_on, free_port, spawn_on_port, Launch, Started};

pub fn start(l: &Launch) -> anyhow::Result<Started> {
    let port = free_port()?;
    let prefix = l.scratch;
    for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir(prefix.join(sub))?;
        give_to_nobody(&prefix.join(sub))?;
    }
    give_to_nobody(l.data)?;
    std::fs::write(
        prefix.join("nginx.conf"),
        conf(prefix, l.data, port, l.workers),
    )?;
    let mut cmd = Command::new(&l.tools.nginx);
    cmd.arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .arg("-e")
        .arg(prefix.join("error.log"))
        .stdout(Stdio::null());
    spawn_on_port(&mut cmd, port)
}

fn nobody() -> anyhow::Result<(nix::unistd::Uid, nix::unistd::Gid)> {
    let u = User::from_name("nobody")?.context("no user nobody")?;
    Ok((u.uid, u.gid))
}

/// Makes `path` usable by nginx's workers, which run as nobody when started as root.
pub fn give_to_nobody(path: &Path) -> anyhow::Result<()> {
    if nix::unistd::geteuid().is_root() {
        let (uid, gid) = nobody()?;
        chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}

fn conf(prefix: &Path, data: &Path, port: u16, workers: usize) -> String {
    let p = prefix.display();
    format!(
        r#"worker_processes {workers};
daemon off;
pid {p}/nginx.pid;
worker_rlimit_nofile 20000;
events {{ worker_connections 20000; }}
http {{
    access_log {access_log};
    error_log {p}/error.log warn;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {data};
        location / {{
            autoindex on;
            autoindex_format json;
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"#,
        data = data.display(),
        access_log = if access_log_on() {
            format!("{p}/access.log")
        } else {
            "off".to_string()
        }
    )
}
