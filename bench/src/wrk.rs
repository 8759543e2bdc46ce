//! Load generation with wrk: a Lua script for PUT bodies, unique keys, mixed
//! traffic and closing connections, and a `done` hook that prints exact
//! figures as one JSON line, so nothing depends on wrk's human-readable units.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

pub const SCRIPT: &str = r#"
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  mode = args[1] or "get"
  key = args[2] or "/k"
  body = string.rep("v", tonumber(args[3] or "64"))
  style = args[4] or "kv"
  spread = tonumber(args[5] or "1000")
  tag = args[6] or ""
  -- the metadata a "kvmeta" put carries, made once: the client's cost per
  -- request is then what a put without it costs, but for the bytes
  meta = {["Content-Type"] = "text/plain",
    ["X-Object-Meta-Owner"] = "bench", ["X-Object-Meta-Tag"] = "64"}
  -- a "kvexpire" put expires `tag` seconds after it is written
  expire = {["X-Delete-After"] = tag}
  if mode == "blocks" then
    -- tag: pairs of blocks, "a1 b1 a2 b2 ...": a key takes one of each pair
    blocks = {}
    for b in string.gmatch(tag, "%S+") do table.insert(blocks, b) end
  end
end
-- one API a style: asmkv, nginx and the Rust peer take the key as the path;
-- Webdis maps Redis commands to paths; etcd's v2 API takes a form
local function put(k)
  if style == "webdis" then
    return wrk.format("PUT", "/SET" .. k, nil, body)
  elseif style == "etcd" then
    return wrk.format("PUT", "/v2/keys" .. k,
      {["Content-Type"] = "application/x-www-form-urlencoded"}, "value=" .. body)
  end
  if style == "kvmeta" then
    return wrk.format("PUT", k, meta, body)
  elseif style == "kvexpire" then
    return wrk.format("PUT", k, expire, body)
  end
  return wrk.format("PUT", k, nil, body)
end
local function get(k, headers)
  if style == "webdis" then
    return wrk.format("GET", "/GET" .. k .. ".txt", headers)
  elseif style == "etcd" then
    return wrk.format("GET", "/v2/keys" .. k, headers)
  end
  return wrk.format("GET", k, headers)
end
function request()
  counter = counter + 1
  if mode == "put" then
    return put("/p" .. id .. "-" .. counter)
  elseif mode == "fill" then
    -- `spread` new keys a thread, then overwrites of its last one
    return put("/p" .. id .. "-" .. math.min(counter, spread))
  elseif mode == "churn" then
    -- a new key, then the delete of the one made `spread` keys before it
    local n = math.floor((counter + 1) / 2)
    if counter % 2 == 1 then
      return put("/c" .. id .. "-" .. n)
    elseif n > spread then
      return wrk.format("DELETE", "/c" .. id .. "-" .. (n - spread))
    end
    return get(key)
  elseif mode == "hot" then
    return put("/h" .. math.random(spread))
  elseif mode == "blocks" then
    local k = {}
    for j = 1, #blocks / 2 do
      k[j] = blocks[2 * j - math.random(2) + 1]
    end
    return get("/" .. table.concat(k))
  elseif mode == "spread" then
    return get("/p" .. math.random(2) .. "-" .. math.random(spread))
  elseif mode == "mixed" then
    if counter % 10 == 0 then
      return put("/m" .. id .. "-" .. (counter % 1000))
    end
    return get(key)
  elseif mode == "close" then
    return get(key, {["Connection"] = "close"})
  elseif mode == "cond" then
    return get(key, {["If-None-Match"] = tag})
  end
  return get(key)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"bytes":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"#;

/// What one wrk run measured.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WrkResult {
    pub requests: u64,
    pub bytes: u64,
    pub duration_us: u64,
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub status: u64,
    pub timeout: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl WrkResult {
    pub fn req_per_sec(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / (self.duration_us.max(1) as f64 / 1e6)
    }
    /// Socket errors and non-2xx/3xx answers.
    pub fn errors(&self) -> u64 {
        self.connect + self.read + self.write + self.status + self.timeout
    }
}

/// Finds the JSON line our `done` hook prints in wrk's output.
pub fn parse_output(out: &str) -> anyhow::Result<WrkResult> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("WRKJSON "))
        .context("wrk printed no WRKJSON line")?;
    Ok(serde_json::from_str(line)?)
}

/// One load run: `mode` is get, put, fill (put, at most `spread` keys a
/// thread), churn (new keys, each deleted `spread` keys later), hot (PUT to `spread` keys), spread (GET of keys a put run made),
/// mixed, close, cond (GET with If-None-Match: `tag`, answered 304), or blocks
/// (GET of a key made of one block of each pair in `tag`: `store::block_keys`); `key` the key read; `style` the
/// server's API (kv, webdis or etcd).
pub struct Load<'a> {
    pub mode: &'a str,
    pub key: &'a str,
    pub body_len: usize,
    pub style: &'a str,
    pub spread: usize,
    pub connections: usize,
    pub threads: usize,
    pub duration: Duration,
    /// the entity-tag a `cond` load sends in If-None-Match
    pub tag: &'a str,
}

pub fn run(script: &Path, addr: SocketAddr, load: &Load) -> anyhow::Result<WrkResult> {
    let out = Command::new("wrk")
        .arg(format!("-t{}", load.threads.min(load.connections)))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg("--")
        .arg(load.mode)
        .arg(load.key)
        .arg(load.body_len.to_string())
        .arg(load.style)
        .arg(load.spread.to_string())
        .arg(load.tag)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_output(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 1s test @ http://127.0.0.1:1234\n  2 threads and 50 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   475.12us  300.00us   5.00ms   90.00%\n  100000 requests in 1.00s, 15.00MB read\nRequests/sec: 100000.00\nTransfer/sec:     15.00MB\nWRKJSON {\"requests\":100000,\"bytes\":15000000,\"duration_us\":1000000,\"connect\":0,\"read\":2,\"write\":0,\"status\":3,\"timeout\":1,\"p50_us\":400,\"p99_us\":2100}\n";

    #[test]
    fn parses_the_done_hook_line() {
        let r = parse_output(SAMPLE).unwrap();
        assert_eq!(r.requests, 100_000);
        assert_eq!(r.p50_us, 400);
        assert_eq!(r.p99_us, 2100);
        assert_eq!(r.errors(), 6);
        assert!((r.req_per_sec() - 100_000.0).abs() < 1e-6);
        assert!((r.mb_per_sec() - 15.0).abs() < 1e-9);
    }

    #[test]
    fn missing_line_is_an_error() {
        assert!(parse_output("Requests/sec: 5\n").is_err());
        assert!(parse_output("WRKJSON {\"requests\":1}\n").is_err());
    }
}
