//! Differential fuzzer: HTTP/1.1 requests generated from a grammar (and then
//! mutated) go to the real server and to a reference model written here, and
//! both must come to the same decision for every request of a pipeline: the
//! same request boundaries, the same status, the same close, and for writes
//! the same stored value (read back afterwards).
//!
//! The model parses heads with `httparse` and adds the rules where asmkv is
//! stricter by design (README, "What the parser accepts and rejects"); the
//! message framing (RFC 9112 6 and 7.1: Content-Length, the chunked coding,
//! chunk extensions, trailers) is written out below from the RFC's grammar.
//!
//! `cargo test --release --test fuzz` runs a fixed seed and 20,000 cases. A
//! longer run: `ASMKV_FUZZ_CASES=2000000 ASMKV_FUZZ_SEED=7 cargo test --release
//! --test fuzz`; one case again: `ASMKV_FUZZ_SEED=S ASMKV_FUZZ_CASE=I`.
mod common;
use common::*;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const HEAD_MAX: usize = 16384;
const MAX_FIELDS: usize = 128;
const NAME_MAX: usize = 255;
const CHUNK_LINE_MAX: u64 = 1024;
const TRAILER_MAX: u64 = 8192;
const DISCARD_MAX: u64 = 65536;
const MAX_BODY: u64 = 1000;
const THREADS: u64 = 4;

// ---------------------------------------------------------------- the model

type Store = HashMap<Vec<u8>, Vec<u8>>;

/// The store as one case's model sees it: the values before the case, and
/// the case's own changes on top (kept apart, so trying a case costs nothing
/// for the keys it does not touch).
struct View<'a> {
    base: &'a Store,
    changes: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> View<'a> {
    fn new(base: &'a Store) -> View<'a> {
        View {
            base,
            changes: HashMap::new(),
        }
    }

    fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        match self.changes.get(key) {
            Some(v) => v.as_ref(),
            None => self.base.get(key),
        }
    }

    /// Sets (Some) or removes (None) a value; says whether the key had one.
    fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> bool {
        let had = self.get(&key).is_some();
        self.changes.insert(key, value);
        had
    }

    fn into_changes(self) -> HashMap<Vec<u8>, Option<Vec<u8>>> {
        self.changes
    }
}

/// One answer the model expects.
#[derive(Clone, Debug, PartialEq)]
struct Answer {
    status: u16,
    /// The answer to a HEAD: a head without a body.
    head_only: bool,
    /// The body of a GET's 200 (None: not compared).
    body: Option<Vec<u8>>,
    /// The server closes after it (and says `Connection: close`).
    close: bool,
}

struct Outcome {
    answers: Vec<Answer>,
    /// Keys named by the requests (written or not), to read back.
    keys: Vec<Vec<u8>>,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// field-vchar, SP and HTAB (RFC 9110 5.5): any byte but the controls.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// A key's bytes as asmkv names them: unreserved bytes as they are (a
/// leading `.` escaped), every other byte `%XX` (README, "On disk").
fn encode_key(key: &[u8]) -> String {
    let mut s = String::new();
    for (i, &b) in key.iter().enumerate() {
        if (b.is_ascii_alphanumeric() || b"-_~.".contains(&b)) && !(b == b'.' && i == 0) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): an IP-literal
/// in brackets, or a reg-name of unreserved bytes, %XX and sub-delims (an
/// IPv4 address is one); port = *DIGIT.
fn valid_host(v: &[u8]) -> bool {
    let (host, rest) = if v.first() == Some(&b'[') {
        let Some(end) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = &v[1..end];
        if inner.is_empty()
            || !inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        (&v[..0], &v[end + 1..])
    } else {
        let colon = v.iter().position(|&b| b == b':').unwrap_or(v.len());
        (&v[..colon], &v[colon..])
    };
    let port_ok = rest.is_empty() || (rest[0] == b':' && rest[1..].iter().all(u8::is_ascii_digit));
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            if i + 2 >= host.len() || hex(host[i + 1]).is_none() || hex(host[i + 2]).is_none() {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)) {
            return false;
        }
        i += 1;
    }
    port_ok
}

/// The key of a request-target (README, "API"): the path without its
/// leading `/` (of `/...` or `http://host/...`), percent-decoded, up to `?`.
/// Err(400) for another form, a malformed escape or `%00`; Err(414) when the
/// key is over 255 bytes once encoded. Ok(empty) for `/`.
fn decode_key(target: &[u8]) -> Result<Vec<u8>, u16> {
    let path = if target.first() == Some(&b'/') {
        &target[1..]
    } else {
        if target.len() <= 7 || !target[..7].eq_ignore_ascii_case(b"http://") {
            return Err(400);
        }
        let rest = &target[7..];
        let slash = rest.iter().position(|&b| b == b'/').ok_or(400u16)?;
        &rest[slash + 1..]
    };
    let (mut out, mut encoded, mut i) = (Vec::new(), 0usize, 0usize);
    while i < path.len() && path[i] != b'?' {
        let mut b = path[i];
        i += 1;
        if b == b'%' {
            if i + 2 > path.len() {
                return Err(400);
            }
            let (Some(h), Some(l)) = (hex(path[i]), hex(path[i + 1])) else {
                return Err(400);
            };
            b = h << 4 | l;
            if b == 0 {
                return Err(400);
            }
            i += 2;
        }
        let plain =
            (b.is_ascii_alphanumeric() || b"-_~.".contains(&b)) && !(b == b'.' && encoded == 0);
        if plain {
            if encoded >= NAME_MAX {
                return Err(414);
            }
            encoded += 1;
        } else {
            if encoded > NAME_MAX - 3 {
                return Err(414);
            }
            encoded += 3;
        }
        out.push(b);
    }
    Ok(out)
}

/// A request head the model accepted.
struct Head {
    method: Vec<u8>,
    target: Vec<u8>,
    http10: bool,
    fields: Vec<(String, Vec<u8>)>,
}

/// Parses one head (request line through the empty line; no bare LF in it).
/// Err(status) when the head itself is rejected (the server closes).
fn parse_head(head: &[u8]) -> Result<Head, u16> {
    let content = &head[..head.len() - 2];
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for i in 0..content.len() {
        if content[i] == b'\n' {
            lines.push(&content[start..i - 1]);
            start = i + 1;
        }
    }
    let rl = lines[0];
    // RFC 9112 2.2: a bare CR is invalid; asmkv: CRLF only, anywhere.
    if rl.contains(&b'\r') {
        return Err(400);
    }
    // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3). httparse knows
    // only 1.0 and 1.1: a 1.x is served as 1.1 (RFC 9110 2.5), another
    // major version is 505 once the rest of the line is valid.
    let mut normal = rl.to_vec();
    let mut major_not_1 = false;
    let mut http10 = false;
    let n = rl.len();
    if n >= 9
        && rl[n - 9] == b' '
        && &rl[n - 8..n - 3] == b"HTTP/"
        && rl[n - 3].is_ascii_digit()
        && rl[n - 2] == b'.'
        && rl[n - 1].is_ascii_digit()
    {
        major_not_1 = rl[n - 3] != b'1';
        http10 = !major_not_1 && rl[n - 1] == b'0';
        normal.truncate(n - 8);
        normal.extend_from_slice(if http10 { b"HTTP/1.0" } else { b"HTTP/1.1" });
    }
    let mut line = normal.clone();
    line.extend_from_slice(b"\r\n\r\n");
    let mut none: [httparse::Header; 0] = [];
    let mut req = httparse::Request::new(&mut none);
    if !matches!(req.parse(&line), Ok(httparse::Status::Complete(_))) {
        return Err(400);
    }
    let (method, target) = (
        req.method.unwrap().as_bytes().to_vec(),
        req.path.unwrap().as_bytes().to_vec(),
    );
    // request-target: ASCII only (RFC 9112 3.2; httparse lets obs-text by).
    if !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(400);
    }
    if major_not_1 {
        return Err(505);
    }
    // field lines, in order, with asmkv's stricter rules first
    let mut too_many = false;
    let mut fields_end = lines.len();
    for (i, l) in lines.iter().enumerate().skip(1) {
        if l.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(400); // obs-fold (RFC 9112 5.2: reject it)
        }
        if i > MAX_FIELDS {
            too_many = true;
            fields_end = i;
            break;
        }
        if l.contains(&b'\r') {
            return Err(400); // a lone CR
        }
        if let Some(c) = l.iter().position(|&b| b == b':') {
            if c > 0 && (l[c - 1] == b' ' || l[c - 1] == b'\t') {
                return Err(400); // whitespace before the colon (RFC 9112 5.1)
            }
        }
    }
    let mut text = normal;
    text.extend_from_slice(b"\r\n");
    for l in &lines[1..fields_end] {
        text.extend_from_slice(l);
        text.extend_from_slice(b"\r\n");
    }
    text.extend_from_slice(b"\r\n");
    let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&text) {
        Ok(httparse::Status::Complete(len)) if len == text.len() => {}
        _ => return Err(400),
    }
    let fields: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), trim_ows(h.value).to_vec()))
        .collect();
    // Content-Length is checked field by field, before a 101st field is seen
    let mut cl: Option<u64> = None;
    for (name, v) in &fields {
        if name == "content-length" {
            let n = std::str::from_utf8(v)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(400u16)?;
            if cl.is_some_and(|c| c != n) {
                return Err(400);
            }
            cl = Some(n);
        }
    }
    if too_many {
        return Err(431);
    }
    Ok(Head {
        method,
        target,
        http10,
        fields,
    })
}

enum Chunked {
    Done(Vec<u8>, usize),
    Bad(u16),
    More,
}

/// Decodes a chunked body starting at `at` (RFC 9112 7.1), byte by byte as
/// a streaming recipient would: an error is found at the first byte that
/// cannot continue a valid body.
///   chunked-body = *chunk last-chunk trailer-section CRLF
///   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
///   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
///   chunk-ext-val = token / quoted-string
///   trailer-section = *( field-line CRLF ); field-line = field-name ":" OWS field-value OWS
/// Limits as asmkv's: a size line of 1 KiB, sizes below 2^60, trailers of 8 KiB.
fn chunked(s: &[u8], at: usize) -> Chunked {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Size0,
        Size,
        BwsSemi,   // BWS after the size, before ";"
        Name0,     // after ";", BWS then a name
        Name,      // in a name
        AfterName, // BWS after a name: "=" or ";"
        Val0,      // after "=", BWS then a value
        ValTok,
        AfterVal, // BWS after a value: ";" only
        Qs,
        QsPair,
        AfterQs,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TLine0,
        TName,
        TVal,
        TLf,
        EndLf,
    }
    use St::*;
    let ws = |b: u8| b == b' ' || b == b'\t';
    let qdtext = |b: u8| {
        b == b'\t'
            || b == b' '
            || b == 0x21
            || (0x23..=0x5b).contains(&b)
            || (0x5d..=0x7e).contains(&b)
            || b >= 0x80
    };
    let (mut st, mut size, mut cnt, mut total) = (Size0, 0u64, 0u64, 0u64);
    let mut body = Vec::new();
    let mut i = at;
    while i < s.len() {
        if st == Data {
            let take = (size as usize).min(s.len() - i);
            body.extend_from_slice(&s[i..i + take]);
            i += take;
            size -= take as u64;
            if size == 0 {
                st = DataCr;
            }
            continue;
        }
        let b = s[i];
        i += 1;
        // every byte of a size line after its first counts, the CR too
        if matches!(
            st,
            Size | BwsSemi
                | Name0
                | Name
                | AfterName
                | Val0
                | ValTok
                | AfterVal
                | Qs
                | QsPair
                | AfterQs
        ) {
            cnt += 1;
            if cnt > CHUNK_LINE_MAX {
                return Chunked::Bad(400);
            }
        }
        // every byte of a trailer line but its CR counts. A byte both over
        // the limit and malformed: the RFC orders neither error; as asmkv, a
        // byte that cannot start or continue a field name is a 400 before it
        // is counted (it falls to the 400 below), a value byte is counted first
        let name_byte_ok = match st {
            TLine0 => is_tchar(b),
            TName => is_tchar(b) || b == b':',
            _ => true,
        };
        if matches!(st, TLine0 | TName | TVal) && b != b'\r' && name_byte_ok {
            cnt += 1;
            if cnt > TRAILER_MAX {
                return Chunked::Bad(431);
            }
        }
        st = match (st, b) {
            (Size0, _) => match hex(b) {
                Some(d) => {
                    size = d as u64;
                    cnt = 1;
                    Size
                }
                None => return Chunked::Bad(400),
            },
            (Size, _) if hex(b).is_some() => {
                if size >> 56 != 0 {
                    return Chunked::Bad(400);
                }
                size = size << 4 | hex(b).unwrap() as u64;
                Size
            }
            (Size, b'\r') => SizeLf,
            (Size, b';') => Name0,
            (Size, _) if ws(b) => BwsSemi,
            (BwsSemi, _) if ws(b) => BwsSemi,
            (BwsSemi | AfterName | AfterVal | AfterQs | ValTok | Name, b';') => Name0,
            (Name0, _) if ws(b) => Name0,
            (Name0 | Name, _) if is_tchar(b) => Name,
            (Name | AfterName, _) if ws(b) => AfterName,
            (Name | AfterName, b'=') => Val0,
            (Name | ValTok | AfterQs, b'\r') => SizeLf,
            (Val0, _) if ws(b) => Val0,
            (Val0, b'"') => Qs,
            (Val0 | ValTok, _) if is_tchar(b) => ValTok,
            (ValTok | AfterVal | AfterQs, _) if ws(b) => AfterVal,
            (Qs, b'"') => AfterQs,
            (Qs, b'\\') => QsPair,
            (Qs, _) if qdtext(b) => Qs,
            (QsPair, _) if b == b'\t' || (b >= 0x20 && b != 0x7f) => Qs,
            (SizeLf, b'\n') => {
                if size == 0 {
                    cnt = 0;
                    TLine0
                } else if size + total > MAX_BODY {
                    return Chunked::Bad(413);
                } else {
                    total += size;
                    Data
                }
            }
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Size0,
            (TLine0, b'\r') => EndLf,
            (TLine0 | TName, _) if is_tchar(b) => TName,
            (TName, b':') => TVal,
            (TVal, b'\r') => TLf,
            (TVal, _) if is_value_byte(b) => TVal,
            (TLf, b'\n') => TLine0,
            (EndLf, b'\n') => return Chunked::Done(body, i),
            _ => return Chunked::Bad(400),
        };
    }
    Chunked::More
}

/// What the model says a byte stream sent on one connection (then
/// half-closed) gets: the answers, in order, until the server closes or the
/// stream ends. `store` is updated by the writes.
fn model(s: &[u8], store: &mut View) -> Outcome {
    let mut out = Outcome {
        answers: Vec::new(),
        keys: Vec::new(),
    };
    let mut pos = 0;
    let answer = |out: &mut Outcome, status, head_only, body, close| {
        out.answers.push(Answer {
            status,
            head_only,
            body,
            close,
        })
    };
    loop {
        // RFC 9112 2.2: empty lines before a request line are ignored
        while s[pos..].starts_with(b"\r\n") {
            pos += 2;
        }
        if pos >= s.len() {
            break;
        }
        // the head ends at the first empty line; CRLF only: a bare LF is 400
        let limit = s.len().min(pos + HEAD_MAX);
        let mut end = None;
        for i in pos..limit {
            if s[i] == b'\n' {
                if i == pos || s[i - 1] != b'\r' {
                    answer(&mut out, 400, false, None, true);
                    return out;
                }
                if i - pos >= 2 && s[i - 2] == b'\n' {
                    end = Some(i + 1);
                    break;
                }
            }
        }
        let Some(end) = end else {
            if s.len() - pos >= HEAD_MAX {
                // no end within 16 KiB: the line too long is the request line (414) or a field (431)
                let status = if s[pos..pos + HEAD_MAX].contains(&b'\n') {
                    431
                } else {
                    414
                };
                answer(&mut out, status, false, None, true);
            }
            return out;
        };
        let head = parse_head(&s[pos..end]);
        let head_start = pos;
        pos = end;
        let h = match head {
            Err(status) => {
                // the method was read before the error: no body for a HEAD (RFC 9110 9.3.2)
                let head_only = s[head_start..].starts_with(b"HEAD ");
                answer(&mut out, status, head_only, None, true);
                return out;
            }
            Ok(h) => h,
        };
        let field = |name: &'static str| {
            h.fields
                .iter()
                .filter(move |(n, _)| n == name)
                .map(|(_, v)| v.as_slice())
        };
        let cl: Option<u64> = field("content-length")
            .next()
            .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap());
        let te: Vec<&[u8]> = field("transfer-encoding").collect();
        // the codings, in order, of every Transfer-Encoding field (RFC 9112 6.1)
        let codings: Vec<&[u8]> = te
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
            .filter(|c| !c.is_empty()) // empty elements are ignored (RFC 9110 5.6.1.2)
            .collect();
        let chunked_te = codings.len() == 1 && codings[0].eq_ignore_ascii_case(b"chunked");
        let te_status = if codings
            .last()
            .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
        {
            501 // a coding the server does not implement (RFC 9112 6.1)
        } else {
            400 // chunked is not the final coding (RFC 9112 6.3, 4)
        };
        let hosts_valid = field("host").all(valid_host);
        let hosts = field("host").count();
        let mut conn_close = false;
        let mut keep_alive = false;
        for v in field("connection") {
            for opt in v.split(|&b| b == b',' || b == b' ' || b == b'\t') {
                conn_close |= opt.eq_ignore_ascii_case(b"close");
                keep_alive |= opt.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        let expects: Vec<&[u8]> = field("expect").collect();
        let expect_continue = expects
            .iter()
            .any(|v| v.eq_ignore_ascii_case(b"100-continue"));
        let expect_bad = expects
            .iter()
            .any(|v| !v.eq_ignore_ascii_case(b"100-continue"));
        if let Ok(k) = decode_key(&h.target) {
            if !k.is_empty() && !k.ends_with(b"/") {
                out.keys.push(k);
            }
        }
        // framing first (RFC 9112 6.3): when the body's length is unclear
        // the connection cannot be kept
        let is_head = h.method == b"HEAD";
        if !te.is_empty() && (cl.is_some() || h.http10) {
            answer(&mut out, 400, is_head, None, true);
            return out;
        }
        if !te.is_empty() && !chunked_te {
            answer(&mut out, te_status, is_head, None, true);
            return out;
        }
        let persist_close = if h.http10 { !keep_alive } else { conn_close };
        let has_body = chunked_te || cl.unwrap_or(0) > 0;
        // an answer before the body: the connection is kept only if no body follows
        let reject = |out: &mut Outcome, status| {
            let close = persist_close || has_body;
            answer(out, status, is_head, None, close);
            close
        };
        let method = h.method.as_slice();
        let status = if (!h.http10 && hosts != 1) || !hosts_valid {
            Some(400) // RFC 9112 3.2
        } else if !matches!(
            method,
            b"GET"
                | b"HEAD"
                | b"PUT"
                | b"POST"
                | b"DELETE"
                | b"OPTIONS"
                | b"PATCH"
                | b"TRACE"
                | b"CONNECT"
        ) {
            Some(501)
        } else if matches!(method, b"OPTIONS" | b"PATCH" | b"TRACE" | b"CONNECT") {
            Some(405)
        } else if expect_bad {
            Some(417) // RFC 9110 10.1.1
        } else {
            None
        };
        if let Some(status) = status {
            if reject(&mut out, status) {
                return out;
            }
            continue;
        }
        let path_end = h
            .target
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(h.target.len());
        let listing = h.target[..path_end].ends_with(b"/");
        let key = match decode_key(&h.target) {
            Ok(_) if listing && !matches!(method, b"GET" | b"HEAD") => Err(400),
            Ok(k) if k.is_empty() && !listing => Err(400),
            other => other,
        };
        let key = match key {
            Ok(k) => k,
            Err(status) => {
                if reject(&mut out, status) {
                    return out;
                }
                continue;
            }
        };
        if matches!(method, b"PUT" | b"POST") {
            let value = if chunked_te {
                match chunked(s, pos) {
                    Chunked::Done(body, end) => {
                        pos = end;
                        body
                    }
                    Chunked::Bad(status) => {
                        answer(&mut out, status, false, None, true);
                        return out;
                    }
                    Chunked::More => return out,
                }
            } else {
                let n = cl.unwrap_or(0);
                if n > MAX_BODY {
                    answer(&mut out, 413, false, None, true);
                    return out;
                }
                if ((s.len() - pos) as u64) < n {
                    return out;
                }
                pos += n as usize;
                s[pos - n as usize..pos].to_vec()
            };
            let status = if store.set(key, Some(value)) {
                204
            } else {
                201
            };
            answer(&mut out, status, false, None, persist_close);
            if persist_close {
                return out;
            }
            continue;
        }
        // GET, HEAD, DELETE: a small body of known length is read and
        // dropped; any other is not read, and the connection closes
        let mut close = persist_close;
        if has_body {
            let n = cl.unwrap_or(0);
            if expect_continue || chunked_te || n > DISCARD_MAX {
                close = true;
            } else if ((s.len() - pos) as u64) < n {
                return out;
            } else {
                pos += n as usize;
            }
        }
        let head_only = method == b"HEAD";
        if listing {
            answer(&mut out, 200, head_only, None, close || h.http10);
            if close || h.http10 {
                return out;
            }
        } else if method == b"DELETE" {
            let status = if store.set(key, None) { 204 } else { 404 };
            answer(&mut out, status, false, None, close);
        } else {
            match store.get(&key) {
                Some(v) => answer(
                    &mut out,
                    200,
                    head_only,
                    (!head_only).then(|| v.clone()),
                    close,
                ),
                None => answer(&mut out, 404, head_only, None, close),
            }
        }
        if close {
            return out;
        }
    }
    out
}

// ---------------------------------------------------------------- the generator

struct Gen<'a> {
    rng: &'a mut fastrand::Rng,
    case: u64,
    /// Keys this case used (encoded, without the leading "/"), to reuse.
    keys: Vec<String>,
}

impl Gen<'_> {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(..items.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(..100) < percent
    }

    fn method(&mut self) -> &'static str {
        let r = self.rng.u32(..100);
        match r {
            0..=19 => "GET",
            20..=24 => "HEAD",
            25..=54 => "PUT",
            55..=62 => "POST",
            63..=74 => "DELETE",
            75..=76 => "OPTIONS",
            77 => "PATCH",
            78 => "TRACE",
            79 => "CONNECT",
            80..=81 => self.pick(&["BREW", "PROPFIND", "G", "DELET", "POSTS", "M-SEARCH"]),
            82..=83 => self.pick(&["get", "put", "Get", "delete"]),
            _ => self.pick(&["PUT", "GET", "DELETE"]),
        }
    }

    /// A key's path (encoded), new or one used before in this case.
    fn key_path(&mut self) -> String {
        if !self.keys.is_empty() && self.chance(35) {
            return self.keys[self.rng.usize(..self.keys.len())].clone();
        }
        let base = format!("c{}-{}", self.case, self.keys.len());
        let k = match self.rng.u32(..100) {
            0..=54 => base,
            55..=64 => format!("{base}%41%7e%2F%e9x"),
            65..=69 => format!(
                "{base}{}",
                self.pick(&["%00", "%zz", "%4", "%", "%g1", "%2"])
            ),
            70..=74 => {
                // near the 255-byte encoded limit: plain bytes, or escapes of 3
                let target = self.rng.usize(245..262);
                let mut k = base;
                while k.len() < target {
                    if self.chance(20) {
                        k.push_str("%20");
                    } else {
                        k.push('a');
                    }
                }
                k
            }
            75..=77 => format!(".{base}"),
            78..=81 => format!("shared{}", self.rng.u32(..4)),
            82..=84 => format!("{base}/sub.{}", self.rng.u32(..3)),
            _ => format!("{base}-{}", self.pick(&["x", "y.z", "~t", "_u", "%C3%A9"])),
        };
        self.keys.push(k.clone());
        k
    }

    fn target(&mut self) -> String {
        match self.rng.u32(..100) {
            0..=79 => format!("/{}", self.key_path()),
            80..=85 => format!(
                "/{}?{}",
                self.key_path(),
                self.pick(&["a=b", "x=%zz", "", "q?r"])
            ),
            86..=89 => format!(
                "{}{}/{}",
                self.pick(&["http://", "HTTP://", "http://"]),
                self.pick(&["h", "h:80", "example.com"]),
                self.key_path()
            ),
            90..=93 => format!("/c{}-d/", self.case),
            94 => "/".to_string(),
            95 => self
                .pick(&["*", "k", "t:80", "http://t", "https://t/k", "http:/x"])
                .to_string(),
            _ => format!("/{}", self.key_path()),
        }
    }

    fn body_bytes(&mut self, n: usize) -> Vec<u8> {
        let binary = self.chance(30);
        (0..n)
            .map(|_| {
                if binary {
                    self.rng.u8(..)
                } else {
                    self.rng.u8(b' '..=b'~')
                }
            })
            .collect()
    }

    fn size_line(&mut self, n: usize) -> Vec<u8> {
        let mut s = String::new();
        if self.chance(15) {
            s.push_str(&"0".repeat(self.rng.usize(1..4)));
        }
        if self.chance(50) {
            s.push_str(&format!("{n:x}"));
        } else {
            s.push_str(&format!("{n:X}"));
        }
        let mut line = s.into_bytes();
        line.extend_from_slice(&self.chunk_ext());
        line.extend_from_slice(b"\r\n");
        line
    }

    fn chunk_ext(&mut self) -> Vec<u8> {
        if self.chance(65) {
            return Vec::new();
        }
        let mut e = String::new();
        for _ in 0..self.rng.usize(1..3) {
            let part = match self.rng.u32(..100) {
                0..=19 => ";name".to_string(),
                20..=39 => ";name=value".to_string(),
                40..=54 => ";n=\"quoted; \\\"s\\\"\"".to_string(),
                55..=64 => format!(
                    "{};{}n{}={}v",
                    self.bws(),
                    self.bws(),
                    self.bws(),
                    self.bws()
                ),
                65..=69 => format!(";x=\"{}\"", "q".repeat(self.rng.usize(1010..1030))),
                // not chunk-ext (RFC 9112 7.1.1): 400
                70..=74 => " zz".to_string(),
                75..=78 => " ".to_string(),
                79..=82 => ";".to_string(),
                83..=85 => ";n=".to_string(),
                86..=88 => ";n=\"open".to_string(),
                89..=91 => ";a b".to_string(),
                92..=94 => ";n=a\"b".to_string(),
                _ => ";n=v\x01".to_string(),
            };
            e.push_str(&part);
        }
        e.into_bytes()
    }

    fn bws(&mut self) -> &'static str {
        self.pick(&["", "", " ", "\t", "  "])
    }

    /// A chunked body and the value it carries.
    fn chunked_body(&mut self) -> Vec<u8> {
        let mut b = Vec::new();
        for _ in 0..self.rng.usize(0..4) {
            let n = if self.chance(3) {
                self.rng.usize(990..1100)
            } else {
                self.rng.usize(1..40)
            };
            b.extend_from_slice(&self.size_line(n));
            let data_len = if self.chance(3) { n + 1 } else { n };
            let data = self.body_bytes(data_len);
            b.extend_from_slice(&data);
            b.extend_from_slice(if self.chance(2) { b"\n" } else { b"\r\n" });
        }
        let last = self.pick(&["0", "0", "0", "000"]);
        b.extend_from_slice(last.as_bytes());
        b.extend_from_slice(&self.chunk_ext());
        b.extend_from_slice(b"\r\n");
        if self.chance(30) {
            for _ in 0..self.rng.usize(1..3) {
                let t = match self.rng.u32(..100) {
                    0..=59 => "X-Sum: 1".to_string(),
                    60..=69 => "Trailer-B:\tv v ".to_string(),
                    70..=74 => format!("X-Long: {}", "t".repeat(self.rng.usize(8180..8200))),
                    // not field-lines (RFC 9112 7.1.2): 400
                    75..=79 => "no colon".to_string(),
                    80..=84 => " folded".to_string(),
                    85..=89 => "X : v".to_string(),
                    90..=94 => ": v".to_string(),
                    _ => "X: a\x01b".to_string(),
                };
                b.extend_from_slice(t.as_bytes());
                b.extend_from_slice(b"\r\n");
            }
        }
        b.extend_from_slice(b"\r\n");
        b
    }

    fn request(&mut self) -> Vec<u8> {
        let mut r = Vec::new();
        if self.chance(8) {
            for _ in 0..self.rng.usize(1..3) {
                r.extend_from_slice(b"\r\n");
            }
        }
        let method = self.method();
        let target = self.target();
        let version = match self.rng.u32(..100) {
            0..=86 => "HTTP/1.1",
            87..=94 => "HTTP/1.0",
            95..=96 => self.pick(&["HTTP/1.2", "HTTP/1.9"]),
            97..=98 => self.pick(&["HTTP/2.0", "HTTP/0.9", "HTTP/3.1"]),
            _ => self.pick(&["HTTP/1.10", "HTTP/1", "http/1.1", "HTTP/1.1 "]),
        };
        let sep = if self.chance(1) { "  " } else { " " };
        r.extend_from_slice(format!("{method}{sep}{target} {version}\r\n").as_bytes());

        let mut fields: Vec<Vec<u8>> = Vec::new();
        let host = |g: &mut Gen| {
            let value = match g.rng.u32(..100) {
                0..=89 => "t",
                90..=91 => "example.com:80",
                92 => "[::1]:8080",
                93 => "",
                94 => "127.0.0.1",
                // not a uri-host [ ":" port ] (RFC 9112 3.2): 400
                95 => "a b",
                96 => "a/b",
                97 => "t:x",
                98 => "t@u",
                _ => "t%zz",
            };
            format!("{}: {value}", g.pick(&["Host", "host", "HOST"])).into_bytes()
        };
        match self.rng.u32(..100) {
            0..=3 => {}
            4..=6 => {
                fields.push(host(self));
                fields.push(host(self));
            }
            _ => fields.push(host(self)),
        }
        let writes = matches!(method, "PUT" | "POST");
        let mut body = Vec::new();
        let framing = self.rng.u32(..100);
        let (use_cl, use_te) = if writes {
            (framing < 55, (55..90).contains(&framing))
        } else {
            (framing < 8, (8..11).contains(&framing))
        };
        if use_cl {
            let n = match self.rng.u32(..100) {
                0..=79 => self.rng.usize(0..48),
                80..=97 => self.rng.usize(48..400),
                _ => self.rng.usize(990..1010),
            };
            body = self.body_bytes(n);
            let cl = match self.rng.u32(..100) {
                0..=84 => vec![n.to_string()],
                85..=87 => vec![n.to_string(), n.to_string()],
                88 => vec![format!("0{n}"), n.to_string()],
                89 => vec![n.to_string(), (n + 1).to_string()],
                90 => vec![format!("+{n}")],
                91 => vec![format!("{n},{n}")],
                92 => vec![format!("{n}a")],
                93 => vec![String::new()],
                94 => vec!["-1".to_string()],
                95 => vec!["99999999999999999999".to_string()],
                96 => vec![format!(" {n} ")],
                97 => vec![(n + 3).to_string()],
                98 => vec![n.saturating_sub(2).to_string()],
                _ => vec!["1001".to_string()],
            };
            for v in cl {
                fields.push(
                    format!("{}: {v}", self.pick(&["Content-Length", "content-length"]))
                        .into_bytes(),
                );
            }
        }
        if use_te {
            let te: &[&str] = match self.rng.u32(..100) {
                0..=74 => &["chunked"],
                75..=79 => &["Chunked"],
                80..=82 => &["CHUNKED "],
                83..=85 => &["gzip"],
                86..=88 => &["gzip, chunked"],
                89..=91 => &["chunked, chunked"],
                92..=93 => &["chunked", "chunked"],
                94 => &["identity"],
                // empty elements ignored (RFC 9110 5.6.1.2); chunked not
                // final is 400 (RFC 9112 6.3)
                95 => &["chunked,"],
                96 => &[", chunked"],
                97 => &["chunked, gzip"],
                _ => &["chunked"],
            };
            for v in te {
                fields.push(format!("Transfer-Encoding: {v}").into_bytes());
            }
            if self.chance(3) {
                fields.push(b"Content-Length: 5".to_vec());
            }
            body = self.chunked_body();
        }
        if self.chance(8) {
            fields.push(b"Expect: 100-continue".to_vec());
        } else if self.chance(2) {
            fields.push(b"Expect: tea".to_vec());
        }
        match self.rng.u32(..100) {
            0..=5 => fields.push(b"Connection: close".to_vec()),
            6..=10 => fields.push(b"Connection: keep-alive".to_vec()),
            11 => fields.push(b"Connection: keep-alive, close".to_vec()),
            12 => fields.push(b"Connection: upgrade".to_vec()),
            _ => {}
        }
        for _ in 0..self.rng.usize(0..4) {
            let f: Vec<u8> = match self.rng.u32(..10) {
                0 => b"User-Agent: fuzz/1.0".to_vec(),
                1 => b"Accept: */*".to_vec(),
                2 => b"X-Obs: caf\xe9 \xff".to_vec(),
                3 => b"X-Tab: a\tb".to_vec(),
                4 => b"X-Trailing: v \t ".to_vec(),
                5 => b"X-Empty:".to_vec(),
                6 => b"x-lower:v".to_vec(),
                7 => format!("X-Id-{}: {}", self.rng.u32(..1000), self.rng.u64(..)).into_bytes(),
                8 => b"Authorization: Bearer abc".to_vec(),
                _ => b"Cache-Control: no-cache".to_vec(),
            };
            fields.push(f);
        }
        if self.chance(1) {
            // about the 128-field limit
            for i in 0..self.rng.usize(122..132) {
                fields.push(format!("X-{i}: v").into_bytes());
            }
        }
        if self.chance(1) {
            // about the 16 KiB head limit
            let n = self
                .rng
                .usize(16250..16400)
                .saturating_sub(r.len() + 40 * fields.len());
            fields.push(format!("X-Big: {}", "b".repeat(n)).into_bytes());
        }
        self.rng.shuffle(&mut fields);
        // malformed field lines (RFC 9112 5)
        if self.chance(5) {
            let bad: &[u8] = match self.rng.u32(..8) {
                0 => b"X-A : v",
                1 => b"X-A\t: v",
                2 => b"X-A: v\r\n  folded",
                3 => b"X-A: a\rb",
                4 => b"X-A: a\x00b",
                5 => b"X(A: v",
                6 => b"NoColon",
                _ => b"X-A: a\x7fb",
            };
            let at = self.rng.usize(..=fields.len());
            fields.insert(at, bad.to_vec());
        }
        let bare_lf = if self.chance(2) {
            Some(self.rng.usize(..=fields.len()))
        } else {
            None
        };
        for (i, f) in fields.iter().enumerate() {
            r.extend_from_slice(f);
            r.extend_from_slice(if bare_lf == Some(i) { b"\n" } else { b"\r\n" });
        }
        r.extend_from_slice(if bare_lf == Some(fields.len()) {
            b"\n"
        } else {
            b"\r\n"
        });
        r.extend_from_slice(&body);
        r
    }

    fn mutate(&mut self, s: &mut Vec<u8>) {
        const INTERESTING: &[u8] = b"\r\n \t:;%=\"0fF/?\x00\x7f\x80\xff,";
        for _ in 0..self.rng.usize(1..4) {
            let at = self.rng.usize(..=s.len());
            match self.rng.u32(..3) {
                0 if at < s.len() => s[at] ^= 1 << self.rng.u32(..8),
                1 => {
                    let b = if self.chance(60) {
                        self.pick(INTERESTING)
                    } else {
                        self.rng.u8(..)
                    };
                    s.insert(at, b);
                }
                _ if at < s.len() => {
                    s.remove(at);
                }
                _ => {}
            }
        }
    }
}

/// One case: the bytes of a connection and where they are split into writes.
struct Case {
    index: u64,
    stream: Vec<u8>,
    splits: Vec<usize>,
}

fn case_rng(seed: u64, index: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn make_case(seed: u64, index: u64) -> Case {
    let mut rng = case_rng(seed, index);
    let mut g = Gen {
        rng: &mut rng,
        case: index,
        keys: Vec::new(),
    };
    let n = match g.rng.u32(..100) {
        0..=39 => 1,
        40..=79 => g.rng.usize(2..4),
        _ => g.rng.usize(4..7),
    };
    let mut stream = Vec::new();
    for _ in 0..n {
        stream.extend_from_slice(&g.request());
    }
    if g.chance(25) {
        g.mutate(&mut stream);
    }
    let mut splits = Vec::new();
    if g.chance(40) && stream.len() > 1 {
        for _ in 0..g.rng.usize(1..5) {
            // near the interesting bytes (line ends) as often as anywhere
            let mut at = g.rng.usize(1..stream.len());
            if g.chance(50) {
                if let Some(p) = stream[at..].iter().position(|&b| b == b'\r' || b == b'\n') {
                    at += p + g.rng.usize(0..2);
                }
            }
            if at > 0 && at < stream.len() {
                splits.push(at);
            }
        }
        splits.sort_unstable();
        splits.dedup();
    }
    Case {
        index,
        stream,
        splits,
    }
}

// ---------------------------------------------------------------- the wire

#[derive(Debug)]
struct Got {
    status: u16,
    close: bool,
    body: Vec<u8>,
}

/// Splits what the server sent into answers (interim 1xx skipped). `head_only`
/// says which answers (by index) are to HEAD requests.
fn parse_answers(mut buf: &[u8], head_only: &[bool]) -> Result<Vec<Got>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("a cut answer: {:?}", String::from_utf8_lossy(buf)))?
            + 4;
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf = &buf[end..];
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an answer: {head:?}"))?;
        if (100..200).contains(&status) {
            continue;
        }
        let field = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let close = field("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut body = Vec::new();
        if head_only.get(out.len()).copied().unwrap_or(false) || status == 204 || status == 304 {
        } else if field("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let e = buf
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .ok_or("a cut chunk")?;
                let n = usize::from_str_radix(
                    std::str::from_utf8(&buf[..e]).map_err(|_| "chunk size")?,
                    16,
                )
                .map_err(|_| "chunk size")?;
                if buf.len() < e + 2 + n + 2 {
                    return Err("a cut chunk".into());
                }
                body.extend_from_slice(&buf[e + 2..e + 2 + n]);
                buf = &buf[e + 2 + n + 2..];
                if n == 0 {
                    break;
                }
            }
        } else if let Some(n) = field("content-length") {
            let n: usize = n.parse().map_err(|_| "Content-Length")?;
            if buf.len() < n {
                return Err(format!("a cut body: {head:?}"));
            }
            body = buf[..n].to_vec();
            buf = &buf[n..];
        } else {
            body = buf.to_vec();
            buf = &[];
        }
        out.push(Got {
            status,
            close,
            body,
        });
    }
    Ok(out)
}

/// Sends a case's bytes in its writes (a pause after each so the server
/// reads them apart), half-closes, and reads everything until the server
/// closes. Err on a hang.
fn exchange(addr: SocketAddr, case: &Case) -> Result<Vec<u8>, String> {
    let mut c = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut from = 0;
    for &at in case
        .splits
        .iter()
        .chain(std::iter::once(&case.stream.len()))
    {
        if c.write_all(&case.stream[from..at]).is_err() {
            break; // the server closed: what it answered is still to be read
        }
        c.flush().unwrap();
        if at < case.stream.len() {
            std::thread::sleep(Duration::from_micros(400));
        }
        from = at;
    }
    let _ = c.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match read_some(&mut c, &mut chunk) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
            Err(e) => {
                return Err(format!(
                    "no end of the answers ({e}) after {:?}",
                    String::from_utf8_lossy(&got)
                ))
            }
        }
        if Instant::now() > deadline {
            return Err("the server never closed".into());
        }
    }
}

/// Does what the server sent match what the model expects?
fn compare(expected: &[Answer], got: &[u8]) -> Result<(), String> {
    let heads: Vec<bool> = expected.iter().map(|a| a.head_only).collect();
    let answers = parse_answers(got, &heads)?;
    for (i, a) in expected.iter().enumerate() {
        let Some(g) = answers.get(i) else {
            return Err(format!("answer {i}: none (want {})", a.status));
        };
        if g.status != a.status {
            return Err(format!(
                "answer {i}: status {} (want {})",
                g.status, a.status
            ));
        }
        if g.close != a.close {
            return Err(format!(
                "answer {i}: Connection: close is {} (want {})",
                g.close, a.close
            ));
        }
        if let Some(body) = &a.body {
            if &g.body != body {
                return Err(format!(
                    "answer {i}: body {:?} (want {:?})",
                    lit(&g.body),
                    lit(body)
                ));
            }
        }
    }
    if answers.len() > expected.len() {
        let extra: Vec<u16> = answers[expected.len()..].iter().map(|g| g.status).collect();
        return Err(format!("answers after the last expected one: {extra:?}"));
    }
    Ok(())
}

/// A byte string as a Rust literal.
fn lit(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

fn describe(seed: u64, case: &Case, expected: &[Answer], got: &[u8], why: &str) -> String {
    let statuses: Vec<(u16, bool)> = expected.iter().map(|a| (a.status, a.close)).collect();
    format!(
        "case {} of seed {seed} (replay: ASMKV_FUZZ_SEED={seed} ASMKV_FUZZ_CASE={} cargo test --release --test fuzz): {why}\n  \
         bytes:  {}\n  splits: {:?}\n  model (status, close): {statuses:?}\n  server sent: {}",
        case.index,
        case.index,
        lit(&case.stream),
        case.splits,
        lit(&got[..got.len().min(4000)])
    )
}

/// Runs cases `first, first + step, ...` below `end` against one server.
fn run_cases(seed: u64, first: u64, step: u64, end: u64) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("errors.log");
    let s = Server::start_logged(
        &tmp.path().join("data"),
        &[
            "--workers",
            "1",
            "--sync",
            "none",
            "--max-body",
            &MAX_BODY.to_string(),
        ],
        &log,
    );
    let workers = s.workers();
    let mut store = Store::new();
    let mut check = Raw::connect(s.addr);
    let mut index = first;
    while index < end {
        let case = make_case(seed, index);
        index += step;
        let mut view = View::new(&store);
        let expected = model(&case.stream, &mut view);
        let changes = view.into_changes();
        let got = exchange(s.addr, &case)
            .map_err(|e| describe(seed, &case, &expected.answers, &[], &e))?;
        compare(&expected.answers, &got)
            .map_err(|why| describe(seed, &case, &expected.answers, &got, &why))?;
        for (k, v) in changes {
            match v {
                Some(v) => store.insert(k, v),
                None => store.remove(&k),
            };
        }
        // every key the case named: the value the model has, or 404
        let mut req = Vec::new();
        for k in &expected.keys {
            req.extend_from_slice(
                format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", encode_key(k)).as_bytes(),
            );
        }
        check.send(&req);
        for k in &expected.keys {
            let w = check.response_to(false).ok_or_else(|| {
                describe(
                    seed,
                    &case,
                    &expected.answers,
                    &got,
                    "no answer to a GET afterwards",
                )
            })?;
            let want = store.get(k);
            let ok = match want {
                Some(v) => w.status == 200 && &w.body == v,
                None => w.status == 404,
            };
            if !ok {
                let why = format!(
                    "afterwards GET /{} is {} {} (want {})",
                    encode_key(k),
                    w.status,
                    lit(&w.body),
                    want.map_or("404".to_string(), |v| format!("200 {}", lit(v)))
                );
                return Err(describe(seed, &case, &expected.answers, &got, &why));
            }
        }
    }
    // no worker died on the way: the same workers, and an error log that only says "started"
    assert_eq!(s.workers(), workers, "a worker was restarted");
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        // "TIME asmkv[PID]: MESSAGE" (log_line would also want TIME within a minute of now)
        let msg = line.split_once("]: ").map_or(line, |(_, m)| m);
        if msg != "started" {
            return Err(format!("the error log says: {line}"));
        }
    }
    Ok(())
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        let v = v.trim();
        v.strip_prefix("0x")
            .map_or_else(|| v.parse(), |h| u64::from_str_radix(h, 16))
            .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
    })
}

#[test]
fn differential_fuzz() {
    let seed = env_u64("ASMKV_FUZZ_SEED").unwrap_or(0x5eed_f022);
    let cases = env_u64("ASMKV_FUZZ_CASES").unwrap_or(20_000);
    let started = Instant::now();
    let results: Vec<Result<(), String>> = if let Some(one) = env_u64("ASMKV_FUZZ_CASE") {
        vec![run_cases(seed, one, 1, one + 1)]
    } else {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| std::thread::spawn(move || run_cases(seed, t, THREADS, cases)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    };
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    let _ = std::io::stderr().write_all(
        format!(
            "fuzz: seed {seed}, {cases} cases in {:.1} s\n",
            started.elapsed().as_secs_f64(),
        )
        .as_bytes(),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------- the model's own checks

#[test]
fn model_follows_the_rfc_on_known_cases() {
    let run = |s: &[u8]| -> Vec<(u16, bool)> {
        model(s, &mut View::new(&Store::new()))
            .answers
            .iter()
            .map(|a| (a.status, a.close))
            .collect()
    };
    let put = |chunks: &str| {
        format!("PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}")
            .into_bytes()
    };
    assert_eq!(run(b"GET /k HTTP/1.1\r\nHost: t\r\n\r\n"), [(404, false)]);
    assert_eq!(
        run(b"\r\n\r\nGET /k HTTP/1.1\r\nHost: t\r\n\r\n"),
        [(404, false)]
    );
    assert_eq!(run(b"GET /k HTTP/1.1\nHost: t\r\n\r\n"), [(400, true)]);
    assert_eq!(run(b"GET /k HTTP/1.2\r\nHost: t\r\n\r\n"), [(404, false)]);
    assert_eq!(run(b"GET /k HTTP/2.0\r\nHost: t\r\n\r\n"), [(505, true)]);
    assert_eq!(run(b"GET /k HTTP/1.0\r\n\r\n"), [(404, true)]);
    assert_eq!(run(b"GET /k HTTP/1.1\r\n\r\n"), [(400, false)]);
    assert_eq!(
        run(b"OPTIONS /k HTTP/1.1\r\nHost: t\r\n\r\n"),
        [(405, false)]
    );
    assert_eq!(run(b"get /k HTTP/1.1\r\nHost: t\r\n\r\n"), [(501, false)]);
    assert_eq!(run(b"GET /k HTTP/1.1\r\nHost : t\r\n\r\n"), [(400, true)]);
    assert_eq!(
        run(b"GET /k HTTP/1.1\r\nHost: t\r\n x\r\n\r\n"),
        [(400, true)]
    );
    assert_eq!(
        run(b"GET /a%00 HTTP/1.1\r\nHost: t\r\n\r\n"),
        [(400, false)]
    );
    assert_eq!(
        run(format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(256)).as_bytes()),
        [(414, false)]
    );
    assert_eq!(run(&put("5\r\nhello\r\n0\r\n\r\n")), [(201, false)]);
    assert_eq!(
        run(&put("5;a=b ; c=\"d\\\"\"\r\nhello\r\n000\r\nX: 1\r\n\r\n")),
        [(201, false)]
    );
    assert_eq!(run(&put("5 ;a\r\nhello\r\n0\r\n\r\n")), [(201, false)]);
    assert_eq!(run(&put("5 zz\r\nhello\r\n0\r\n\r\n")), [(400, true)]);
    assert_eq!(run(&put("5 \r\nhello\r\n0\r\n\r\n")), [(400, true)]);
    assert_eq!(run(&put("5;\r\nhello\r\n0\r\n\r\n")), [(400, true)]);
    assert_eq!(
        run(&put("5\r\nhello\r\n0\r\nno colon\r\n\r\n")),
        [(400, true)]
    );
    assert_eq!(run(&put("5\r\nhello\r\n0\r\nX : v\r\n\r\n")), [(400, true)]);
    assert_eq!(run(&put("400\r\n")), [(413, true)]);
    // trailers of exactly 8 KiB, then one byte more: a name byte is 431, a
    // byte that cannot start a name is 400
    let full = format!("0\r\nX-Long: {}\r\n", "t".repeat(8192 - 8));
    assert_eq!(run(&put(&format!("{full}\r\n"))), [(201, false)]);
    assert_eq!(run(&put(&format!("{full}Y: 1\r\n\r\n"))), [(431, true)]);
    assert_eq!(run(&put(&format!("{full} folded\r\n\r\n"))), [(400, true)]);
    assert_eq!(run(&put(&format!("{full}: v\r\n\r\n"))), [(400, true)]);
    assert!(
        valid_host(b"t")
            && valid_host(b"example.com:80")
            && valid_host(b"[::1]:8080")
            && valid_host(b"")
    );
    assert!(
        !valid_host(b"a b") && !valid_host(b"a/b") && !valid_host(b"t:x") && !valid_host(b"t%zz")
    );
    // two requests, the second a GET of the first's key
    let store = Store::new();
    let mut store = View::new(&store);
    let o = model(
        b"PUT /k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhiGET /k HTTP/1.1\r\nHost: t\r\n\r\n",
        &mut store,
    );
    assert_eq!(o.answers[1].body.as_deref(), Some(&b"hi"[..]));
}
