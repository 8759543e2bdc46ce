//! Links the server as a static ELF with no C runtime: `_start` lives in the assembly.

fn main() {
    println!("cargo:rerun-if-changed=src/asm");
    for arg in ["-nostartfiles", "-nostdlib", "-static"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
