//! Each package-database parser on its own (faster than through a tar layer): the first
//! byte picks the parser, the rest is the file. dpkg status and copyright, apk installed,
//! rpm header blobs, Python METADATA, npm package-lock.json, Cargo.lock, Go buildinfo /
//! cargo-auditable executables, Java archives (nested), RubyGems, os-release. A first byte
//! of 232 or more puts the rest in an image layer as the lock file or manifest one of the
//! image analyzers reads (NuGet, Conan, Dart, Elixir, Swift, CocoaPods, Composer, npm,
//! Python, Cargo, yarn, pnpm, NuGet's packages.config, bun, conda), so the analyzers that
//! take a whole image are reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_scanner::analyzers::{
    apk, binary, cargo_lock, dpkg, java, node, os_release, python, rpm, ruby,
};
use wharf_scanner::Warnings;
use wharf_scanner::image::layer::apply_layer;
use wharf_scanner::image::{ImageFs, LoadOptions};
use wharf_scanner::inventory::Distro;

/// Where each image analyzer looks: a first byte of 240..=255 picks one of the first 16,
/// 232..=239 one of those after them (added later, so earlier corpus inputs keep their file).
const LOCK_FILES: [&str; 18] = [
    "app/packages.lock.json",
    "app/bin/app.deps.json",
    "src/conan.lock",
    "app/pubspec.lock",
    "app/mix.lock",
    "app/Package.resolved",
    "app/Podfile.lock",
    "app/composer.lock",
    "app/package-lock.json",
    "app/Cargo.lock",
    "usr/lib/python3/site-packages/x-1.0.dist-info/METADATA",
    "app/node_modules/x/package.json",
    "app/yarn.lock",
    "app/pnpm-lock.yaml",
    "app/packages.config",
    "app/bun.lock",
    "opt/conda/conda-meta/zlib-1.3.1-hb9d3cd8_2.json",
    "app/environment.yml",
];

/// A one-file uncompressed tar layer: a ustar header, the file, padding, the end.
fn one_file_layer(path: &str, body: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    if sel >= 232 {
        let index = if sel >= 240 {
            usize::from(sel - 240)
        } else {
            16 + usize::from(sel - 232)
        };
        let path = LOCK_FILES[index % LOCK_FILES.len()];
        let mut fs = ImageFs::default();
        let mut warnings = Warnings::default();
        let layer = one_file_layer(path, body);
        apply_layer(&mut fs, &layer[..], 0, "fuzz", &LoadOptions::default(), &mut warnings);
        for p in wharf_scanner::analyzers::analyze(&fs, &mut warnings).packages {
            assert!(!p.name.is_empty(), "a package without a name from {path}");
        }
        return;
    }
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
