//! asmkv: the whole server is the x86-64 assembly in `src/asm/`; this file
//! only includes it. There is no Rust logic and no libc: `_start` is in
//! `main.s`, and `build.rs` links the binary static without start files.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

core::arch::global_asm!(
    include_str!("asm/defs.s"),
    include_str!("asm/main.s"),
    include_str!("asm/cli.s"),
    include_str!("asm/worker.s"),
    include_str!("asm/inbuf.s"),
    include_str!("asm/http.s"),
    include_str!("asm/auth.s"),
    include_str!("asm/body.s"),
    include_str!("asm/list.s"),
    include_str!("asm/response.s"),
    include_str!("asm/get.s"),
    include_str!("asm/upload.s"),
    include_str!("asm/store.s"),
    include_str!("asm/meta.s"),
    include_str!("asm/commit.s"),
    include_str!("asm/crc.s"),
    include_str!("asm/siphash.s"),
    include_str!("asm/index.s"),
    include_str!("asm/flight.s"),
    include_str!("asm/cond.s"),
    include_str!("asm/segment.s"),
    include_str!("asm/recover.s"),
    include_str!("asm/compact.s"),
    include_str!("asm/hint.s"),
    include_str!("asm/seal.s"),
    include_str!("asm/scrub.s"),
    include_str!("asm/backup.s"),
    include_str!("asm/snapshot.s"),
    include_str!("asm/import.s"),
    include_str!("asm/sys.s"),
    include_str!("asm/log.s"),
    include_str!("asm/alog.s"),
    include_str!("asm/metrics.s"),
    include_str!("asm/util.s"),
    include_str!("asm/clock.s"),
    include_str!("asm/vdso.s"),
);

/// Required by `no_std`; no Rust code runs, so it is never reached.
#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    loop {}
}
