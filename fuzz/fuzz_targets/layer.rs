//! One image layer as a registry or an OCI layout hands it over: plain, gzip or zstd
//! (including several frames and skippable ones), then the tar walker (whiteouts, opaque
//! directories, links, sizes, path escapes), then every analyzer over what was kept. The
//! input is applied twice, as two layers, so whiteouts have something to remove. Limits are
//! small so a bomb is cut off quickly, as the scanner's own limits cut it off at scale.
//! Secrets are asked for, so every text file also goes through the secret rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_scanner::Warnings;
use wharf_scanner::analyzers;
use wharf_scanner::image::layer::apply_layer;
use wharf_scanner::image::{ImageFs, Limits, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions {
        limits: Limits {
            max_file_size: 64 << 10,
            max_total_capture: 256 << 10,
            max_binary_size: 256 << 10,
            max_layer_bytes: 4 << 20,
            max_entries: 2_000,
        },
        secrets: true,
        ..Default::default()
    };
    let limits = &opts.limits;
    let mut fs = ImageFs::default();
    let mut warnings = Warnings::default();
    apply_layer(&mut fs, data, 0, "fuzz-0", &opts, &mut warnings);
    apply_layer(&mut fs, data, 1, "fuzz-1", &opts, &mut warnings);
    let _ = fs.secret_files();
    for (path, content, _) in fs.files() {
        assert!(
            !path.split('/').any(|c| c == ".."),
            "escaping path {path:?} kept"
        );
        assert!(content.len() as u64 <= limits.max_file_size);
    }
    let _ = analyzers::analyze(&fs, &mut warnings);
});
