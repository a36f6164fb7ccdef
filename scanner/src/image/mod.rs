//! Image input: where an image comes from and how its layers become one filtered view.

pub mod blobs;
pub mod cache;
mod delta;
mod docker_archive;
pub mod fs;
pub mod layer;
mod oci_layout;
mod pipe;
mod registry;
mod rootfs;
pub mod zstd;

use std::path::PathBuf;
use std::sync::Arc;

pub use fs::{ImageFs, LayerInfo, Node};

use crate::{Error, Result, Warnings};

/// Resource bounds for reading untrusted images.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest single file kept for an analyzer.
    pub max_file_size: u64,
    /// All kept file content together.
    pub max_total_capture: u64,
    /// Largest executable inspected for embedded build info.
    pub max_binary_size: u64,
    /// Uncompressed bytes read from one layer (gzip bombs).
    pub max_layer_bytes: u64,
    /// Tar entries read from one layer.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 64 << 20,
            max_total_capture: 512 << 20,
            max_binary_size: 256 << 20,
            max_layer_bytes: 16 << 30,
            max_entries: 2_000_000,
        }
    }
}

/// Where an image is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `oci:DIR[:TAG]` — an OCI image layout directory.
    OciLayout {
        dir: PathBuf,
        reference: Option<String>,
    },
    /// `docker-archive:FILE[:TAG]` — the output of `docker save`.
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    /// `dir:PATH` — an unpacked root filesystem.
    Dir(PathBuf),
    /// `host/repo:tag` or `host/repo@sha256:…` — pulled from a registry.
    Registry(String),
}

impl ImageSource {
    /// Parses the forms `wharf scan` accepts. A bare existing path is recognised by its
    /// content (an `index.json` makes an OCI layout, a file a docker archive, else a rootfs).
    pub fn parse(s: &str) -> Result<Self> {
        let split_ref = |rest: &str| -> (PathBuf, Option<String>) {
            // DIR:TAG — the tag is after the last ':' unless that leaves no existing path.
            if let Some((p, t)) = rest.rsplit_once(':')
                && !t.is_empty()
                && !t.contains('/')
                && !std::path::Path::new(rest).exists()
            {
                return (PathBuf::from(p), Some(t.to_string()));
            }
            (PathBuf::from(rest), None)
        };
        if let Some(rest) = s
            .strip_prefix("oci:")
            .or_else(|| s.strip_prefix("oci-dir:"))
        {
            let (dir, reference) = split_ref(rest);
            return Ok(ImageSource::OciLayout { dir, reference });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (file, reference) = split_ref(rest);
            return Ok(ImageSource::DockerArchive { file, reference });
        }
        if let Some(rest) = s.strip_prefix("dir:") {
            return Ok(ImageSource::Dir(PathBuf::from(rest)));
        }
        if let Some(rest) = s
            .strip_prefix("docker://")
            .or_else(|| s.strip_prefix("registry:"))
        {
            return Ok(ImageSource::Registry(rest.to_string()));
        }
        let p = std::path::Path::new(s);
        if p.is_dir() {
            if p.join("index.json").is_file() && p.join("oci-layout").is_file() {
                return Ok(ImageSource::OciLayout {
                    dir: p.into(),
                    reference: None,
                });
            }
            return Ok(ImageSource::Dir(p.into()));
        }
        if p.is_file() {
            return Ok(ImageSource::DockerArchive {
                file: p.into(),
                reference: None,
            });
        }
        if s.contains('/') && !s.starts_with('.') && !s.starts_with('/') {
            return Ok(ImageSource::Registry(s.to_string()));
        }
        Err(Error::BadReference(
            s.into(),
            "not an existing path, oci:DIR, docker-archive:FILE, dir:PATH or registry reference"
                .into(),
        ))
    }
}

/// Options for loading an image.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub limits: Limits,
    /// `os/arch[/variant]` to pick from a multi-platform index (default linux/amd64).
    pub platform: Option<String>,
    /// Plain HTTP and credentials for registry references.
    pub registry: wharf_oci::RegistryOptions,
    /// Also read every text file for secrets (`--scanners secret`); otherwise only the
    /// files analyzers want are read.
    pub secrets: bool,
    /// Layers analysed before are taken from here instead of being read (`None`: every
    /// layer is read, nothing is kept; `--cache-backend memory`).
    pub cache: Option<Arc<cache::LayerCache>>,
}

/// A loaded image: the filtered filesystem plus what we learned on the way.
#[derive(Debug)]
pub struct LoadedImage {
    pub fs: ImageFs,
    /// Manifest digest where there is one.
    pub manifest_digest: Option<String>,
    pub os: Option<String>,
    pub architecture: Option<String>,
}

/// Reads an image from any supported source.
pub fn load(
    source: &ImageSource,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    match source {
        ImageSource::OciLayout { dir, reference } => {
            oci_layout::load(dir, reference.as_deref(), opts, warnings)
        }
        ImageSource::DockerArchive { file, reference } => {
            docker_archive::load(file, reference.as_deref(), opts, warnings)
        }
        ImageSource::Dir(p) => rootfs::load(p, opts, warnings),
        ImageSource::Registry(r) => registry::load(r, opts, warnings),
    }
}

/// Platform selection as `(os, arch, variant)`.
pub(crate) fn wanted_platform(opts: &LoadOptions) -> (String, String, Option<String>) {
    let p = opts
        .platform
        .clone()
        .unwrap_or_else(|| "linux/amd64".into());
    let mut it = p.split('/');
    let os = it.next().unwrap_or("linux").to_string();
    let arch = it.next().unwrap_or("amd64").to_string();
    (os, arch, it.next().map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            ImageSource::parse("oci:/nonexistent/x:v1").unwrap(),
            ImageSource::OciLayout {
                dir: "/nonexistent/x".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            ImageSource::parse("oci:/nonexistent/x").unwrap(),
            ImageSource::OciLayout {
                dir: "/nonexistent/x".into(),
                reference: None
            }
        );
        assert_eq!(
            ImageSource::parse("dir:/").unwrap(),
            ImageSource::Dir("/".into())
        );
        assert_eq!(
            ImageSource::parse("ghcr.io/a/b:1").unwrap(),
            ImageSource::Registry("ghcr.io/a/b:1".into())
        );
        assert!(ImageSource::parse("nonexistent-thing").is_err());
    }
}
