//! Hash flooding: keys built to share one bucket of a table hashed with
//! FNV-1a spread over asmkv's table like random keys, because its hash is a
//! keyed pseudo-random function (SipHash-2-4 under a random 128-bit key).
//!
//! The construction, from FNV-1a's algebra (no search at test time): a step
//! is `h = (h ^ b) * P`, and `h ^ b = h + d` with `d` depending on `h`'s low
//! byte alone. So for keys of one length the difference of two hashes is a
//! sum of `d`s times powers of P that depends only on the basis' low byte,
//! and the low byte's path depends only on the basis' low byte too. Two
//! blocks whose hashes agree in their low 32 bits from one start therefore
//! agree for every basis with that low byte, and keep agreeing under any
//! common suffix. `fnv1a-pairs.txt` holds twelve such pairs, each found (offline, by
//! Floyd's cycle search over 6-character blocks, 2^16 steps) from the state
//! the blocks before it leave, starting at FNV-1a's standard basis: any
//! choice of one block of each pair makes one of 4,096 keys whose FNV-1a
//! hashes share their low 32 bits under every basis whose low byte is 0x25.
//! A table of up to 2^32 buckets indexed by those bits puts them all in one
//! bucket, and every lookup walks 4,096 keys: asmkv's own, when it hashed with
//! FNV-1a from a secret basis, for one basis in 256 (and for any other low
//! byte, twelve other pairs found the same way). Swapping asmkv's hash for
//! FNV-1a from the standard basis makes this test fail with a walk of 4,095.
mod common;
use common::*;

/// One pair a line, two blocks apart by a space (the bench reads them too).
const PAIRS: &str = include_str!("fnv1a-pairs.txt");

fn pairs() -> Vec<(&'static str, &'static str)> {
    PAIRS
        .lines()
        .map(|l| l.split_once(' ').expect("two blocks a line"))
        .collect()
}

/// FNV-1a's standard 64-bit basis and prime.
const BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

fn fnv1a(basis: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(basis, |h, &b| (h ^ b as u64).wrapping_mul(PRIME))
}

/// The 4,096 keys: key `i` takes the second block of pair `j` where bit `j`
/// of `i` is set.
fn flood_keys() -> Vec<String> {
    let pairs = pairs();
    (0..1usize << pairs.len())
        .map(|i| {
            pairs
                .iter()
                .enumerate()
                .map(|(j, (a, b))| if i >> j & 1 == 0 { *a } else { *b })
                .collect()
        })
        .collect()
}

/// As many keys of the same length and alphabet, at random.
fn random_keys(n: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = fastrand::Rng::with_seed(17);
    (0..n)
        .map(|_| {
            (0..6 * pairs().len())
                .map(|_| ALPHABET[rng.usize(..ALPHABET.len())] as char)
                .collect()
        })
        .collect()
}

/// Puts every key (its value is its name), reads every one back, pipelined,
/// on a fresh server, and returns the longest walk its lookups made.
fn longest_walk(keys: &[String]) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(
        &tmp.path().join("data"),
        &["--sync", "none", "--metrics", "127.0.0.1:0"],
    );
    let m = metrics_addr(&mut s);
    let mut c = Raw::connect(s.addr);
    for batch in keys.chunks(256) {
        let mut req = Vec::new();
        for k in batch {
            req.extend_from_slice(
                format!(
                    "PUT /{k} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{k}",
                    k.len()
                )
                .as_bytes(),
            );
        }
        c.send(&req);
        for k in batch {
            assert_eq!(c.response().status, 201, "{k}");
        }
    }
    for batch in keys.chunks(256) {
        let mut req = Vec::new();
        for k in batch {
            req.extend_from_slice(format!("GET /{k} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        }
        c.send(&req);
        for k in batch {
            let w = c.response();
            assert_eq!((w.status, w.body.as_slice()), (200, k.as_bytes()), "{k}");
        }
    }
    assert_eq!(metric(m, "asmkv_keys"), keys.len() as f64);
    metric(m, "asmkv_index_walk_max")
}

#[test]
fn keys_built_to_collide_under_fnv1a_spread_like_random_keys() {
    let flood = flood_keys();
    // the construction holds: under the standard basis and under others with
    // its low byte (the rest of their bits at random), all 4,096 keys' hashes
    // share their low 32 bits
    let mut rng = fastrand::Rng::with_seed(5);
    let same_low_byte = (0..8).map(|_| rng.u64(..) & !0xff | (BASIS & 0xff));
    for basis in std::iter::once(BASIS).chain(same_low_byte) {
        let low = |k: &String| fnv1a(basis, k.as_bytes()) as u32;
        let first = low(&flood[0]);
        assert!(flood.iter().all(|k| low(k) == first), "basis {basis:#x}");
    }

    // asmkv: the longest walk of a lookup among them is that of random keys'
    // (about a dozen at 4,096 keys in 1,024 buckets, four a bucket on average);
    // with FNV-1a it would be thousands
    let random = longest_walk(&random_keys(flood.len()));
    let crafted = longest_walk(&flood);
    println!("longest walk: {crafted} for the crafted keys, {random} for random ones");
    assert!(random <= 40.0, "random keys walked {random}");
    assert!(
        crafted <= 40.0,
        "the crafted keys walked {crafted} (random: {random})"
    );
}
