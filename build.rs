//! Lays out the `wharf` binary's code by use: the functions the server runs to
//! start, then those requests run, first in the text segment, in the order
//! `link/symbol-order.txt` lists them (made by `scripts/link-order.sh`).
//!
//! The kernel maps code 64 KiB around each page a process touches, so where the
//! few thousand functions a server runs sit decides its resident memory: spread
//! over the 32 MiB text segment they kept 15.5 MiB of code resident in an idle
//! registry, laid out together about 6 MiB (docs/design.md, "Code laid out by
//! use"). Nothing else changes: a name the build no longer has is skipped.
//!
//! Only where the linker is known to take `--symbol-ordering-file`: Rust's own
//! `rust-lld`, which rustc uses by default on x86_64 Linux since 1.90, with no
//! other linker configured. Elsewhere the binary links as before.

use std::env;
use std::process::Command;

const ORDER: &str = "link/symbol-order.txt";

fn main() {
    println!("cargo:rerun-if-changed={ORDER}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if !ordering_linker() {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bin=wharf=-Wl,--symbol-ordering-file={dir}/{ORDER}");
    // Names of another build (other dependency versions, another compiler) are
    // expected and harmless: scripts/link-order.sh says how many still match.
    println!("cargo:rustc-link-arg-bin=wharf=-Wl,--no-warn-symbol-ordering");
}

/// Whether this build links with `rust-lld`: the x86_64 Linux GNU target, rustc
/// 1.90 or later, and no linker or linker flavour chosen by the user.
fn ordering_linker() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    if env::var_os("RUSTC_LINKER").is_some() {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker") || flags.contains("fuse-ld") {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&out.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
