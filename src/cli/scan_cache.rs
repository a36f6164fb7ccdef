//! The layer-cache flags `wharf scan` and `wharf sbom` share (Trivy's `--cache-dir` and
//! `--cache-backend`), and `wharf clean --scan-cache`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use wharf_scanner::image::cache::{self, LayerCache};

use super::manage::parse_size;

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Backend {
    /// Each layer's analysis kept under --cache-dir: a layer seen before is not read again.
    Fs,
    /// Nothing kept: every layer is read on every scan.
    Memory,
}

#[derive(Args, Debug)]
pub struct CacheArgs {
    /// Cache directory; layer analyses go to its `layers/` [default:
    /// $XDG_CACHE_HOME/wharf, else ~/.cache/wharf].
    #[arg(long, env = "WHARF_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// Where layer analyses are kept. A cached layer is identified by its digest alone and
    /// its blob is not read again (nor re-hashed, for an `oci:` layout on disk).
    #[arg(long, env = "WHARF_CACHE_BACKEND", value_enum, default_value_t = Backend::Fs)]
    cache_backend: Backend,

    /// Bound on the layer cache's size (e.g. 512MiB, 2GiB); the least recently used
    /// layers go first.
    #[arg(long, env = "WHARF_CACHE_MAX_SIZE", default_value = "1GiB", value_parser = parse_max_size)]
    cache_max_size: u64,
}

fn parse_max_size(s: &str) -> Result<u64, String> {
    match parse_size(s) {
        Ok(n) if n > 0 => Ok(n as u64),
        Ok(_) => Err("must be larger than 0 (use --cache-backend memory for no cache)".into()),
        Err(e) => Err(e.to_string()),
    }
}

impl CacheArgs {
    /// The layer cache to scan with: `None` for `--cache-backend memory`, and (with a
    /// warning) when the directory cannot be created — a read-only home must not stop
    /// a scan.
    pub fn open(&self) -> Option<Arc<LayerCache>> {
        if self.cache_backend == Backend::Memory {
            return None;
        }
        let dir = cache::layers_dir(&cache_root(&self.cache_dir));
        match LayerCache::open(&dir, self.cache_max_size) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                eprintln!(
                    "warning: layer cache {} unusable ({e}); reading every layer",
                    dir.display()
                );
                None
            }
        }
    }
}

fn cache_root(dir: &Option<PathBuf>) -> PathBuf {
    dir.clone().unwrap_or_else(cache::default_dir)
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  wharf clean --scan-cache
  wharf clean --scan-cache --cache-dir /tmp/wharf-cache")]
pub struct CleanArgs {
    /// Remove the scan cache (the layer analyses of `wharf scan` and `wharf sbom`).
    #[arg(long, required = true)]
    scan_cache: bool,

    /// Cache directory [default: $XDG_CACHE_HOME/wharf, else ~/.cache/wharf].
    #[arg(long, env = "WHARF_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

/// `wharf clean --scan-cache` (Trivy's `trivy clean --scan-cache`).
pub fn clean(args: CleanArgs) -> anyhow::Result<ExitCode> {
    debug_assert!(args.scan_cache);
    let dir = cache::layers_dir(&cache_root(&args.cache_dir));
    let (files, bytes) =
        cache::clear(&dir).with_context(|| format!("removing {}", dir.display()))?;
    eprintln!(
        "removed the scan cache {} ({files} layers, {bytes} bytes)",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
