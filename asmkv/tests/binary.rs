//! The artifact itself: a small static ELF with no interpreter, whose code never
//! addresses memory absolutely (the LLVM Intel-syntax trap: `mov edx, len`
//! with a forward-defined `len` silently becomes a load from address `len`).
mod common;
use common::{need, BIN};
use std::process::Command;

#[test]
fn static_small_and_without_libc() {
    let bytes = std::fs::read(BIN).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([bytes[16], bytes[17]]),
        2,
        "ET_EXEC, not PIE"
    );
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let phentsize = u16::from_le_bytes([bytes[54], bytes[55]]) as usize;
    let phnum = u16::from_le_bytes([bytes[56], bytes[57]]) as usize;
    // What is loaded is what ships: the bytes of the PT_LOAD segments. A debug
    // build (`cargo test` without --release) carries symbols and debug info
    // besides, which the release profile strips; they are never loaded.
    let mut loaded = 0;
    for i in 0..phnum {
        let ph = &bytes[phoff + i * phentsize..];
        let p_type = u32::from_le_bytes(ph[..4].try_into().unwrap());
        assert_ne!(p_type, 3, "PT_INTERP: dynamically linked");
        assert_ne!(p_type, 2, "PT_DYNAMIC: dynamically linked");
        if p_type == 1 {
            loaded += u64::from_le_bytes(ph[32..40].try_into().unwrap()); // p_filesz
        }
    }
    assert!(
        loaded > 16 * 1024,
        "{loaded} bytes loaded: too few to be the server"
    );
    assert!(loaded < 96 * 1024, "{loaded} bytes loaded");
    if cfg!(not(debug_assertions)) {
        // the release binary is stripped: the file is what is loaded, and little else
        assert!(bytes.len() < 96 * 1024, "{} bytes", bytes.len());
    }
}

#[test]
fn no_absolute_memory_operands() {
    if !need("no_absolute_memory_operands", "objdump", "binutils") {
        return;
    }
    let out = Command::new("objdump")
        .args(["-d", "-M", "intel", BIN])
        .output()
        .expect("objdump (binutils) is needed");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().count() > 1000, "disassembly looks empty");
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ds:0x") || l.contains("PTR [0x"))
        .collect();
    assert!(
        bad.is_empty(),
        "absolute memory operands:\n{}",
        bad.join("\n")
    );
}
