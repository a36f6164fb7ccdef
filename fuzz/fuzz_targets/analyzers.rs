//! Each package-database parser on its own (faster than through a tar layer): the first
//! byte picks the parser, the rest is the file. dpkg status and copyright, apk installed,
//! rpm header blobs, Python METADATA, npm package-lock.json, Cargo.lock, Go buildinfo /
//! cargo-auditable executables, Java archives (nested), RubyGems, os-release.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_scanner::analyzers::{
    apk, binary, cargo_lock, dpkg, java, node, os_release, python, rpm, ruby,
};
use wharf_scanner::inventory::Distro;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    let distro = Distro {
        id: "debian".into(),
        version_id: "12".into(),
        ..Default::default()
    };
    match sel % 12 {
        0 => {
            let mut out = Vec::new();
            dpkg::parse_status(&text, "var/lib/dpkg/status", None, Some(&distro), &mut out);
            for p in &out {
                assert!(!p.name.is_empty());
            }
        }
        1 => {
            let _ = dpkg::copyright_licenses(&text);
        }
        2 => {
            let _ = apk::parse(&text, Some("sha256:0".into()), None);
        }
        3 => {
            let _ = rpm::parse_header(body);
        }
        4 => {
            let _ = python::parse_metadata(&text);
        }
        5 => {
            if let Ok(v) = serde_json::from_slice(body) {
                let _ = node::parse_lock(&v);
            }
        }
        6 => {
            let _ = cargo_lock::parse(&text);
        }
        7 => {
            let _ = binary::inspect(body);
        }
        8 => {
            let mut out = Vec::new();
            java::inspect("app.jar", body, 0, &mut out);
        }
        9 => {
            let _ = ruby::parse_gemspec(&text);
        }
        10 => {
            let _ = ruby::parse_gemfile_lock(&text);
        }
        _ => {
            let _ = os_release::parse(&text);
            let mut r = body;
            let _ = binary::inspect_stream("usr/bin/app", &mut r, body.len() as u64, 1 << 20);
        }
    }
});
