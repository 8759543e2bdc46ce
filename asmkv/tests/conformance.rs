//! HTTP/1.1 conformance and hostile clients (RFC 9110, RFC 9112): each case is
//! one request on a fresh connection, with the exact status expected and
//! whether the connection must stay usable or be closed.
mod common;
use common::*;

#[derive(Clone, Copy, PartialEq, Debug)]
enum After {
    Keep,
    Close,
}
use After::*;

struct Case {
    section: &'static str,
    name: String,
    request: Vec<u8>,
    status: u16,
    after: After,
}

fn case(
    section: &'static str,
    name: impl Into<String>,
    request: impl AsRef<[u8]>,
    status: u16,
    after: After,
) -> Case {
    Case {
        section,
        name: name.into(),
        request: request.as_ref().to_vec(),
        status,
        after,
    }
}

fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n")
}

fn with_fields(fields: &str) -> String {
    format!("GET /k HTTP/1.1\r\nHost: t\r\n{fields}\r\n")
}

fn put_cl(cl: &str, body: &str) -> String {
    format!("PUT /p HTTP/1.1\r\nHost: t\r\nContent-Length: {cl}\r\n\r\n{body}")
}

fn chunked(chunks: &str) -> String {
    format!("PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}")
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let rl = "RFC 9112 3 request line";
    v.push(case(rl, "plain GET", get("/k"), 404, Keep));
    v.push(case(
        rl,
        "empty lines before the request",
        format!("\r\n\r\n{}", get("/k")),
        404,
        Keep,
    ));
    v.push(case(
        rl,
        "lowercase method is another method",
        "get /k HTTP/1.1\r\nHost: t\r\n\r\n",
        501,
        Keep,
    ));
    v.push(case(
        rl,
        "mixed-case method",
        "Get /k HTTP/1.1\r\nHost: t\r\n\r\n",
        501,
        Keep,
    ));
    v.push(case(
        rl,
        "method with a non-token byte",
        "GE(T /k HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "empty method",
        " /k HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "two spaces after the method",
        "GET  /k HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "no target",
        "GET HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "tab as separator",
        "GET\t/k HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "space inside the target",
        "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "lowercase protocol name",
        "GET /k http/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "space after the version",
        "GET /k HTTP/1.1 \r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "no version",
        "GET /k\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "HTTP/1",
        "GET /k HTTP/1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "HTTP/1.10",
        "GET /k HTTP/1.10\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "HTTP/11.1",
        "GET /k HTTP/11.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "HTTP/2.0",
        "GET /k HTTP/2.0\r\nHost: t\r\n\r\n",
        505,
        Close,
    ));
    v.push(case(
        rl,
        "HTTP/3.0",
        "GET /k HTTP/3.0\r\nHost: t\r\n\r\n",
        505,
        Close,
    ));
    v.push(case(
        rl,
        "HTTP/0.9",
        "GET /k HTTP/0.9\r\nHost: t\r\n\r\n",
        505,
        Close,
    ));
    v.push(case(
        rl,
        "HTTP/1.2 is served as 1.1",
        "GET /k HTTP/1.2\r\nHost: t\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        rl,
        "bare LF line ends",
        "GET /k HTTP/1.1\nHost: t\n\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "bare LF after CRLF lines",
        "GET /k HTTP/1.1\r\nHost: t\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "lone CR in the request line",
        "GET /k HTTP/1.1\rX\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "NUL in the request line",
        "GET /k\0 HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "DEL in the target",
        "GET /a\x7f HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        rl,
        "non-ASCII byte in the target",
        b"GET /\xff HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(rl, "asterisk-form", get("*"), 400, Keep));
    v.push(case(rl, "target without a slash", get("k"), 400, Keep));
    v.push(case(rl, "authority-form", get("t:80"), 400, Keep));
    v.push(case(rl, "absolute-form", get("http://t/k"), 404, Keep));
    v.push(case(
        rl,
        "absolute-form, scheme in capitals",
        get("HTTP://t/k"),
        404,
        Keep,
    ));
    v.push(case(
        rl,
        "absolute-form without a path",
        get("http://t"),
        400,
        Keep,
    ));
    v.push(case(
        rl,
        "https absolute-form",
        get("https://t/k"),
        400,
        Keep,
    ));
    for m in ["OPTIONS", "PATCH", "TRACE", "CONNECT"] {
        v.push(case(
            rl,
            format!("{m} is not allowed"),
            format!("{m} /k HTTP/1.1\r\nHost: t\r\n\r\n"),
            405,
            Keep,
        ));
    }
    for m in ["BREW", "PROPFIND", "MKCOL", "G", "DELET", "POSTS"] {
        v.push(case(
            rl,
            format!("unknown method {m}"),
            format!("{m} /k HTTP/1.1\r\nHost: t\r\n\r\n"),
            501,
            Keep,
        ));
    }

    let f = "RFC 9112 5 field syntax";
    v.push(case(
        f,
        "space before the colon",
        with_fields("Foo : bar\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "tab before the colon",
        with_fields("Foo\t: bar\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "obsolete folding with a space",
        with_fields("Foo: bar\r\n baz\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "obsolete folding with a tab",
        with_fields("Foo: bar\r\n\tbaz\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "folding before the first field",
        "GET /k HTTP/1.1\r\n Host: t\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        f,
        "NUL in a value",
        with_fields("Foo: a\0b\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "control byte in a value",
        with_fields("Foo: a\x01b\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "DEL in a value",
        with_fields("Foo: a\x7fb\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "lone CR in a value",
        with_fields("Foo: a\rb\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "empty field name",
        with_fields(": v\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "parenthesis in a name",
        with_fields("Fo(o: v\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "space inside a name",
        with_fields("Fo o: v\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "at sign in a name",
        with_fields("Foo@: v\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "non-ASCII in a name",
        with_fields("F\u{e9}o: v\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "line without a colon",
        with_fields("Foo\r\n"),
        400,
        Close,
    ));
    v.push(case(
        f,
        "obs-text in a value is accepted",
        with_fields("Foo: caf\u{e9}\r\n"),
        404,
        Keep,
    ));
    v.push(case(
        f,
        "tab inside a value",
        with_fields("Foo: a\tb\r\n"),
        404,
        Keep,
    ));
    v.push(case(
        f,
        "empty value",
        with_fields("X-Empty:\r\n"),
        404,
        Keep,
    ));
    v.push(case(
        f,
        "no space after the colon",
        with_fields("X:v\r\n"),
        404,
        Keep,
    ));
    v.push(case(
        f,
        "trailing whitespace in a value",
        with_fields("X: v \t \r\n"),
        404,
        Keep,
    ));
    v.push(case(
        f,
        "a 15,000-byte field fits",
        with_fields(&format!("X: {}\r\n", "a".repeat(15_000))),
        404,
        Keep,
    ));
    v.push(case(
        f,
        "a head over 16 KiB",
        with_fields(&format!("X: {}\r\n", "a".repeat(17_000))),
        431,
        Close,
    ));
    let most: String = (0..127).map(|i| format!("X-{i}: v\r\n")).collect();
    v.push(case(f, "128 fields fit", with_fields(&most), 404, Keep));
    let too_many: String = (0..128).map(|i| format!("X-{i}: v\r\n")).collect();
    v.push(case(f, "129 fields", with_fields(&too_many), 431, Close));
    v.push(case(
        f,
        "request line over 16 KiB",
        get(&format!("/{}", "a".repeat(17_000))),
        414,
        Close,
    ));

    let h = "RFC 9112 3.2 Host";
    v.push(case(
        h,
        "no Host in HTTP/1.1",
        "GET /k HTTP/1.1\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "two Host fields",
        "GET /k HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host in lowercase",
        "GET /k HTTP/1.1\r\nhost: t\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "Host in capitals",
        "GET /k HTTP/1.1\r\nHOST: t\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "empty Host",
        "GET /k HTTP/1.1\r\nHost:\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "Host with a port",
        "GET /k HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "Host with an empty port",
        "GET /k HTTP/1.1\r\nHost: t:\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "Host as an IPv6 literal with a port",
        "GET /k HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "Host as an IPv4 address",
        "GET /k HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "Host with sub-delims and an escape",
        "GET /k HTTP/1.1\r\nHost: a-b_c~d!$&'()*+,;=%41\r\n\r\n",
        404,
        Keep,
    ));
    v.push(case(
        h,
        "Host with a blank inside",
        "GET /k HTTP/1.1\r\nHost: a b\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with a slash",
        "GET /k HTTP/1.1\r\nHost: a/b\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with a non-digit port",
        "GET /k HTTP/1.1\r\nHost: t:x\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with userinfo",
        "GET /k HTTP/1.1\r\nHost: u@t\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with a bad escape",
        "GET /k HTTP/1.1\r\nHost: t%zz\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with an unclosed IPv6 literal",
        "GET /k HTTP/1.1\r\nHost: [::1\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with an empty IPv6 literal",
        "GET /k HTTP/1.1\r\nHost: []\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with junk after an IPv6 literal",
        "GET /k HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "Host with a byte above 0x7f",
        "GET /k HTTP/1.1\r\nHost: t\u{e9}\r\n\r\n",
        400,
        Keep,
    ));
    v.push(case(
        h,
        "HTTP/1.0 needs no Host",
        "GET /k HTTP/1.0\r\n\r\n",
        404,
        Close,
    ));

    let b = "RFC 9112 6 message body";
    v.push(case(
        b,
        "Content-Length body",
        put_cl("5", "hello"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "Content-Length with leading zeros",
        put_cl("005", "hello"),
        204,
        Keep,
    ));
    v.push(case(b, "Content-Length 0", put_cl("0", ""), 204, Keep));
    v.push(case(b, "empty Content-Length", put_cl("", ""), 400, Close));
    v.push(case(
        b,
        "signed Content-Length",
        put_cl("+5", "hello"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "negative Content-Length",
        put_cl("-1", ""),
        400,
        Close,
    ));
    v.push(case(
        b,
        "Content-Length list",
        put_cl("5,5", "hello"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "hex Content-Length",
        put_cl("0x5", "hello"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "Content-Length with a letter",
        put_cl("5a", "hello"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "Content-Length with inner space",
        put_cl("5 5", "hello"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "Content-Length beyond 64 bits",
        put_cl("18446744073709551616", ""),
        400,
        Close,
    ));
    v.push(case(
        b,
        "Content-Length at the 64-bit limit",
        put_cl("18446744073709551615", ""),
        413,
        Close,
    ));
    v.push(case(
        b,
        "Content-Length over --max-body",
        put_cl("100001", ""),
        413,
        Close,
    ));
    v.push(case(
        b,
        "two equal Content-Lengths",
        "PUT /p HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        204,
        Keep,
    ));
    v.push(case(
        b,
        "two different Content-Lengths",
        "PUT /p HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
        400,
        Close,
    ));
    v.push(case(b, "Content-Length and Transfer-Encoding", "PUT /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, Close));
    v.push(case(b, "Transfer-Encoding and Content-Length", "PUT /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, Close));
    v.push(case(
        b,
        "chunked",
        chunked("5\r\nhello\r\n0\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "Chunked in capitals",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n",
        204,
        Keep,
    ));
    v.push(case(
        b,
        "chunked with whitespace around",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:  chunked \r\n\r\n0\r\n\r\n",
        204,
        Keep,
    ));
    v.push(case(
        b,
        "chunked, chunked",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        501,
        Close,
    ));
    v.push(case(
        b,
        "gzip, chunked",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
        Close,
    ));
    v.push(case(
        b,
        "identity coding: chunked not last (RFC 9112 6.3)",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        b,
        "gzip alone: chunked not last",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        b,
        "chunked, gzip: chunked not last",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        b,
        "an empty Transfer-Encoding",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        b,
        "chunked with an empty element after it",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",
        204,
        Keep,
    ));
    v.push(case(
        b,
        "chunked with empty elements before it",
        "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:  , ,chunked\r\n\r\n0\r\n\r\n",
        204,
        Keep,
    ));
    v.push(case(b, "Transfer-Encoding twice", "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, Close));
    v.push(case(
        b,
        "chunked in HTTP/1.0",
        "PUT /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        Close,
    ));
    v.push(case(
        b,
        "uppercase hex size",
        chunked("A\r\n0123456789\r\n0\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "size with leading zeros",
        chunked("000a\r\n0123456789\r\n0\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "chunk extension",
        chunked("3;name=value\r\nabc\r\n0;last\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "quoted chunk extension",
        chunked("3;n=\"a;b\"\r\nabc\r\n0\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "whitespace before an extension",
        chunked("3 ;x\r\nabc\r\n0\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "chunk extension over 1 KiB",
        chunked(&format!("3;{}\r\nabc\r\n0\r\n\r\n", "x".repeat(2000))),
        400,
        Close,
    ));
    v.push(case(
        b,
        "control byte in an extension",
        chunked("3;a\x01b\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "bad hex size",
        chunked("g\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(b, "negative size", chunked("-1\r\n"), 400, Close));
    v.push(case(
        b,
        "0x-prefixed size",
        chunked("0x3\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "empty size",
        chunked("\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "size that overflows 64 bits",
        chunked("fffffffffffffffff\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "chunk larger than --max-body",
        chunked("186a1\r\n"),
        413,
        Close,
    ));
    v.push(case(
        b,
        "data not followed by CRLF",
        chunked("3\r\nabcd\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "bare LF after a size",
        chunked("3\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "bare LF after data",
        chunked("3\r\nabc\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "junk after a size, no ;",
        chunked("5 zz\r\nhello\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "junk right after a size",
        chunked("5zz\r\nhello\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "blank after a size, no extension",
        chunked("3 \r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "; with no name",
        chunked("3;\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "extension name not a token",
        chunked("3;a(b\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "two words as a name",
        chunked("3;a b\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "= with no value",
        chunked("3;a=\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "unterminated quoted value",
        chunked("3;a=\"b\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "junk after a quoted value",
        chunked("3;a=\"b\"c\r\nabc\r\n0\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "extensions with blanks around ; and =, quoted pairs",
        chunked("3 ; a = \"q\\\"x;\" ;b\t;c=d\r\nabc\r\n0 ;e\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "trailer field with no colon",
        chunked("0\r\nX-Sum\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "trailer field with a blank before its colon",
        chunked("0\r\nX-Sum : 1\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "trailer field folded",
        chunked("0\r\nX-Sum: 1\r\n 2\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "trailer field with an empty name",
        chunked("0\r\n: 1\r\n\r\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "trailer fields are consumed",
        chunked("3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n"),
        204,
        Keep,
    ));
    v.push(case(
        b,
        "trailers over 8 KiB",
        chunked(&format!("0\r\nX: {}\r\n\r\n", "t".repeat(9000))),
        431,
        Close,
    ));
    v.push(case(
        b,
        "bare LF ending the trailers",
        chunked("0\r\n\n"),
        400,
        Close,
    ));
    v.push(case(
        b,
        "a body sent with GET is read and dropped",
        "GET /k HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
        404,
        Keep,
    ));
    v.push(case(
        b,
        "a body sent with DELETE is read and dropped",
        "DELETE /nothing HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
        404,
        Keep,
    ));
    v.push(case(
        b,
        "a body of 64 KiB sent with DELETE is read and dropped",
        format!(
            "DELETE /k HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\n\r\n{}",
            "h".repeat(65536)
        ),
        404,
        Keep,
    ));
    v.push(case(
        b,
        "a body over 64 KiB sent with GET is not read",
        format!(
            "GET /k HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n{}",
            "h".repeat(65537)
        ),
        404,
        Close,
    ));
    v.push(case(
        b,
        "a chunked body sent with GET is not read",
        "GET /k HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        404,
        Close,
    ));
    v.push(case(
        b,
        "a GET body the client holds back for 100 Continue is not asked for",
        "GET /k HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        404,
        Close,
    ));
    v.push(case(
        b,
        "PUT without a length is empty",
        "PUT /empty HTTP/1.1\r\nHost: t\r\n\r\n",
        201,
        Keep,
    ));

    let e = "RFC 9110 10.1.1 Expect";
    v.push(case(
        e,
        "unknown expectation",
        "PUT /p HTTP/1.1\r\nHost: t\r\nExpect: tea\r\nContent-Length: 0\r\n\r\n",
        417,
        Keep,
    ));
    v.push(case(
        e,
        "unknown expectation with a body",
        "PUT /p HTTP/1.1\r\nHost: t\r\nExpect: tea\r\nContent-Length: 2\r\n\r\nhi",
        417,
        Close,
    ));
    v.push(case(
        e,
        "100-continue with the body already sent",
        "PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
        201,
        Keep,
    ));
    v.push(case(
        e,
        "100-continue on GET is ignored",
        "GET /k HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n",
        404,
        Keep,
    ));

    let c = "RFC 9112 9 connection management";
    v.push(case(
        c,
        "Connection: close",
        with_fields("Connection: close\r\n"),
        404,
        Close,
    ));
    v.push(case(
        c,
        "Connection: CLOSE",
        with_fields("Connection: CLOSE\r\n"),
        404,
        Close,
    ));
    v.push(case(
        c,
        "close among other options",
        with_fields("Connection: keep-alive, close\r\n"),
        404,
        Close,
    ));
    v.push(case(
        c,
        "an unknown option",
        with_fields("Connection: upgrade\r\n"),
        404,
        Keep,
    ));
    v.push(case(
        c,
        "closed is not close",
        with_fields("Connection: closed\r\n"),
        404,
        Keep,
    ));
    v.push(case(
        c,
        "HTTP/1.0 closes",
        "GET /k HTTP/1.0\r\n\r\n",
        404,
        Close,
    ));
    v.push(case(
        c,
        "HTTP/1.0 keep-alive",
        "GET /k HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        404,
        Keep,
    ));

    let k = "RFC 3986 2.1 keys";
    v.push(case(k, "encoded slash", get("/a%2Fb"), 404, Keep));
    v.push(case(k, "%00", get("/a%00b"), 400, Keep));
    v.push(case(k, "invalid escape", get("/a%zz"), 400, Keep));
    v.push(case(k, "escape cut short", get("/a%4"), 400, Keep));
    v.push(case(k, "lone percent", get("/a%"), 400, Keep));
    let delete = |t: &str| get(t).replacen("GET", "DELETE", 1);
    v.push(case(k, "empty key", delete("/"), 400, Keep));
    v.push(case(k, "only a query", delete("/?x=1"), 400, Keep));
    v.push(case(k, "a key ending in /", delete("/dir/"), 400, Keep));
    v.push(case(
        k,
        "the query is ignored, even malformed",
        get("/k?x=%zz"),
        404,
        Keep,
    ));
    v.push(case(
        k,
        "255-byte file name",
        get(&format!("/{}", "a".repeat(255))),
        404,
        Keep,
    ));
    v.push(case(
        k,
        "256-byte file name",
        get(&format!("/{}", "a".repeat(256))),
        414,
        Keep,
    ));
    v.push(case(
        k,
        "PUT with an empty key",
        put_cl("1", "x").replace("/p", "/"),
        400,
        Close,
    ));
    v
}

/// An IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
fn is_imf_fixdate(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 29
        && ["Sun,", "Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,"].contains(&&s[..4])
        && b[4] == b' '
        && b[5..7].iter().all(u8::is_ascii_digit)
        && [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&&s[8..11])
        && b[12..16].iter().all(u8::is_ascii_digit)
        && &s[16..17] == " "
        && b[17..19].iter().all(u8::is_ascii_digit)
        && b[19] == b':'
        && b[22] == b':'
        && s.ends_with(" GMT")
}

#[test]
fn conformance_suite() {
    let s = Server::start_with(&["--max-body", "100000"]);
    // values some cases read or replace
    assert_eq!(raw_once(s.addr, put_cl("1", "x").as_bytes()).status, 201);
    assert_eq!(
        raw_once(s.addr, chunked("0\r\n\r\n").as_bytes()).status,
        201
    );
    let all = cases();
    assert!(all.len() >= 100, "{} cases", all.len());
    let mut failures = Vec::new();
    for c in &all {
        let mut conn = Raw::connect(s.addr);
        conn.send(&c.request);
        let Some(w) = conn.response_to(false) else {
            failures.push(format!("[{}] {}: no response", c.section, c.name));
            continue;
        };
        let mut problems = Vec::new();
        if w.status != c.status {
            problems.push(format!("status {} (want {})", w.status, c.status));
        }
        if !w.header("date").is_some_and(|d| is_imf_fixdate(&d)) {
            problems.push(format!("Date {:?}", w.header("date")));
        }
        if w.header("server").as_deref() != Some("asmkv") {
            problems.push("no Server: asmkv".into());
        }
        if w.status != 204 && w.header("content-length").is_none() {
            problems.push("no Content-Length".into());
        }
        if w.status >= 400 && w.body.is_empty() {
            problems.push("error without a body".into());
        }
        match c.after {
            Close => {
                if w.header("connection").as_deref() != Some("close") {
                    problems.push("closing without Connection: close".into());
                }
                if !conn.closed() {
                    problems.push("connection left open".into());
                }
            }
            Keep => {
                conn.send(get("/probe").as_bytes());
                match conn.response_to(false) {
                    Some(p) if p.status == 404 => {}
                    other => problems.push(format!("connection not reusable: {other:?}")),
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{}] {}: {}",
                c.section,
                c.name,
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    // nothing hostile left a partial value or a temporary file behind
    for f in files_in(&s.data) {
        assert!(!f.starts_with(".tmp"), "{f}");
    }
}

#[test]
fn date_is_the_current_time() {
    let s = Server::start();
    let w = raw_once(s.addr, get("/k").as_bytes());
    let date = w.header("date").unwrap();
    assert!(is_imf_fixdate(&date), "{date}");
    // GNU date parses the IMF-fixdate back to seconds since the epoch
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &date, "+%s"])
        .output()
        .unwrap();
    let served: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a date GNU date can read");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // the same second, or one behind if the tick had not run yet
    assert!(
        served <= now && now - served <= 1,
        "served {served}, now {now}"
    );
}
