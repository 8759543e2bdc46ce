//! The Rust peer: the key-value server a good Rust engineer would write with
//! tokio and axum, with asmkv's semantics (temporary file + rename, optional
//! fsync, 201/204/404) and asmkv's file naming, so the same data directory
//! layout serves both.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

struct Peer {
    dir: PathBuf,
    sync: bool,
    seq: AtomicU64,
}

/// The file name of a key: the same reversible encoding as asmkv's.
pub fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for (i, b) in key.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b"-_~".contains(&b) || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (code, text).into_response()
}

/// Values up to this size are read whole in one blocking task; larger ones
/// are streamed. One hop to the blocking pool per GET, not one per call.
const READ_WHOLE_MAX: u64 = 4 << 20;

enum Value {
    Whole(Vec<u8>),
    Stream(std::fs::File, u64),
}

fn open_value(path: &std::path::Path) -> std::io::Result<Value> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > READ_WHOLE_MAX {
        return Ok(Value::Stream(file, len));
    }
    let mut buf = Vec::with_capacity(len as usize);
    file.read_to_end(&mut buf)?;
    Ok(Value::Whole(buf))
}

async fn get_value(State(p): State<Arc<Peer>>, Path(key): Path<String>) -> Response {
    let path = p.dir.join(encode_key(&key));
    let value = match tokio::task::spawn_blocking(move || open_value(&path)).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) if e.kind() == ErrorKind::NotFound => {
            return status(StatusCode::NOT_FOUND, "not found\n")
        }
        _ => return status(StatusCode::INTERNAL_SERVER_ERROR, "storage error\n"),
    };
    let response = Response::builder().header(header::CONTENT_TYPE, "application/octet-stream");
    match value {
        Value::Whole(bytes) => response.body(Body::from(bytes)),
        Value::Stream(file, len) => {
            response
                .header(header::CONTENT_LENGTH, len)
                .body(Body::from_stream(
                    tokio_util::io::ReaderStream::with_capacity(
                        tokio::fs::File::from_std(file),
                        256 * 1024,
                    ),
                ))
        }
    }
    .unwrap()
}

async fn put_value(State(p): State<Arc<Peer>>, Path(key): Path<String>, body: Body) -> Response {
    if key.is_empty() {
        return status(StatusCode::BAD_REQUEST, "bad request\n");
    }
    let name = encode_key(&key);
    let tmp = p.dir.join(format!(
        ".tmp-peer-{}",
        p.seq.fetch_add(1, Ordering::Relaxed)
    ));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        if p.sync {
            file.sync_data().await?;
        }
        drop(file);
        let target = p.dir.join(&name);
        let existed = tokio::fs::try_exists(&target).await.unwrap_or(false);
        tokio::fs::rename(&tmp, &target).await?;
        if p.sync {
            tokio::fs::File::open(&p.dir).await?.sync_all().await?;
        }
        Ok::<bool, std::io::Error>(existed)
    }
    .await;
    match result {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => StatusCode::CREATED.into_response(),
        Err(_) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            status(StatusCode::INTERNAL_SERVER_ERROR, "storage error\n")
        }
    }
}

async fn delete_value(State(p): State<Arc<Peer>>, Path(key): Path<String>) -> Response {
    match tokio::fs::remove_file(p.dir.join(encode_key(&key))).await {
        Ok(()) => {
            if p.sync {
                if let Ok(d) = tokio::fs::File::open(&p.dir).await {
                    let _ = d.sync_all().await;
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) if e.kind() == ErrorKind::NotFound => status(StatusCode::NOT_FOUND, "not found\n"),
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR, "storage error\n"),
    }
}

/// Serves until killed; prints "listening on ADDR" once bound.
pub fn run(listen: SocketAddr, dir: PathBuf, threads: usize, sync: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    crate::tools::raise_nofile();
    let peer = Arc::new(Peer {
        dir,
        sync,
        seq: AtomicU64::new(0),
    });
    let app = Router::new()
        .route(
            "/{*key}",
            get(get_value)
                .put(put_value)
                .post(put_value)
                .delete(delete_value),
        )
        .layer(DefaultBodyLimit::disable())
        .with_state(peer);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!("listening on {}", listener.local_addr()?);
            // small answers must not wait for delayed ACKs (Nagle)
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await?;
            Ok(())
        })
}

#[cfg(test)]
mod tests {
    use super::encode_key;

    #[test]
    fn keys_encode_like_asmkv() {
        assert_eq!(encode_key("abc-_~.x"), "abc-_~.x");
        assert_eq!(encode_key(".hidden"), "%2Ehidden");
        assert_eq!(encode_key("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_key(".."), "%2E.");
    }
}
