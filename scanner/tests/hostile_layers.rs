//! Hostile and damaged layers are survived with warnings and bounded memory: tar entries
//! that climb out of the root, looping and absolute symlinks, hard links out of the tree,
//! oversized files, gzip bombs, truncated streams, garbage package databases. Layers are
//! written byte by byte here (ustar headers), since tar libraries refuse to write such entries.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};
use wharf_scanner::image::{Limits, LoadOptions};
use wharf_scanner::inventory::Ecosystem;

fn header(name: &str, kind: u8, size: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000755");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.0
            .extend_from_slice(&header(name, b'0', data.len() as u64, ""));
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }
    fn link(mut self, name: &str, kind: u8, target: &str) -> Self {
        self.0.extend_from_slice(&header(name, kind, 0, target));
        self
    }
    /// A header that promises `size` bytes that never come.
    fn lying(mut self, name: &str, size: u64) -> Self {
        self.0.extend_from_slice(&header(name, b'0', size, ""));
        self
    }
    fn end(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 1024]);
        self.0
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn blob(dir: &Path, data: &[u8]) -> String {
    let hex = hex::encode(Sha256::digest(data));
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(&hex), data).unwrap();
    format!("sha256:{hex}")
}

/// Writes an OCI layout with the given layer blobs, tagged `t`.
fn layout(dir: &Path, layers: &[Vec<u8>]) -> String {
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let cfg = blob(
        dir,
        br#"{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let ls: Vec<String> = layers
        .iter()
        .map(|l| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}"#, blob(dir, l), l.len()))
        .collect();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cfg}","size":1}},"layers":[{}]}}"#,
        ls.join(",")
    );
    let md = blob(dir, m.as_bytes());
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"t"}}}}]}}"#,
            m.len()
        ),
    )
    .unwrap();
    format!("oci:{}:t", dir.display())
}

const OS_RELEASE: &[u8] = b"ID=debian\nVERSION_ID=\"12\"\n";

fn metadata(name: &str, v: &str) -> Vec<u8> {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {v}\n\n").into_bytes()
}

#[test]
fn whiteouts_and_opaque_directories_hide_lower_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let sp = "usr/lib/python3/dist-packages";
    let l1 = Tar::default()
        .file("usr/lib/os-release", OS_RELEASE)
        .link("etc/os-release", b'2', "../usr/lib/os-release")
        .file(
            &format!("{sp}/a-1.0.dist-info/METADATA"),
            &metadata("a", "1.0"),
        )
        .file(
            &format!("{sp}/b-1.0.dist-info/METADATA"),
            &metadata("b", "1.0"),
        )
        .file("opt/x/c-1.0.dist-info/METADATA", &metadata("c", "1.0"))
        .end();
    let l2 = Tar::default()
        .file(&format!("{sp}/.wh.a-1.0.dist-info"), b"")
        .file("opt/x/.wh..wh..opq", b"")
        .file("opt/x/d-2.0.dist-info/METADATA", &metadata("d", "2.0"))
        .end();
    let r = wharf_scanner::inventory(
        &layout(tmp.path(), &[gzip(&l1), l2]),
        &LoadOptions::default(),
    )
    .unwrap();
    let names: Vec<_> = r
        .inventory
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, vec!["b", "d"]);
    assert_eq!(r.inventory.distro.unwrap().id, "debian");
    assert_eq!(
        r.inventory.packages[1].layer.as_deref(),
        Some(r.layers[1].as_str())
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn escaping_entries_links_and_loops_are_survived() {
    let tmp = tempfile::tempdir().unwrap();
    let l1 = Tar::default()
        .file(
            "../../../../tmp/wharf-evil/METADATA",
            &metadata("evil", "1"),
        )
        .file("/abs/e-1.0.dist-info/METADATA", &metadata("e", "1.0"))
        .link("etc/os-release", b'2', "/etc/os-release")
        .link("loop/a", b'2', "b")
        .link("loop/b", b'2', "/loop/a")
        .link("x-1.0.dist-info/METADATA", b'1', "../../../../etc/passwd")
        .file(
            "var/lib/dpkg/status",
            b"\x00\xff\xfegarbage\n\nPackage: ok\nVersion: 1.0\n\nPackage:\n\n:::\n",
        )
        .end();
    let r = wharf_scanner::inventory(&layout(tmp.path(), &[l1]), &LoadOptions::default()).unwrap();
    assert!(!Path::new("/tmp/wharf-evil").exists());
    let names: Vec<_> = r
        .inventory
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["ok", "e"],
        "absolute names are image-root relative"
    );
    assert!(
        r.inventory.distro.is_none(),
        "a self-referencing os-release is no distro"
    );
    let w = r.warnings.messages.join("\n");
    assert!(w.contains("escapes the root"), "{w}");
    assert!(w.contains("points outside the image"), "{w}");
}

#[test]
fn gzip_bombs_huge_files_and_truncated_streams_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    // 64 MiB of zeros inside one entry: ~64 KiB compressed.
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(
        &Tar::default()
            .file("usr/lib/os-release", OS_RELEASE)
            .file("big", &zeros)
            .file("z-1.dist-info/METADATA", &metadata("z", "1"))
            .end(),
    );
    drop(zeros);
    // a status file bigger than the per-file limit
    let big = Tar::default()
        .file("var/lib/dpkg/status", &vec![b'x'; 2 << 20])
        .file("k-1.dist-info/METADATA", &metadata("k", "1"))
        .end();
    // a header that promises 1 GiB and a gzip stream cut in half
    let lying = Tar::default()
        .file("l-1.dist-info/METADATA", &metadata("l", "1"))
        .lying("var/lib/dpkg/status", 1 << 30)
        .0;
    let full = gzip(
        &Tar::default()
            .file("m-1.dist-info/METADATA", &metadata("m", "1"))
            .file("pad", &vec![7u8; 300_000])
            .end(),
    );
    let cut = full[..full.len() / 2].to_vec();
    let limits = Limits {
        max_layer_bytes: 16 << 20,
        max_file_size: 1 << 20,
        ..Default::default()
    };
    let opts = LoadOptions {
        limits,
        platform: None,
    };
    let r = wharf_scanner::inventory(&layout(tmp.path(), &[bomb, big, lying, cut]), &opts).unwrap();
    let w = r.warnings.messages.join("\n");
    assert!(w.contains("exceeds 16777216 bytes uncompressed"), "{w}");
    assert!(w.contains("over the 1048576 byte limit"), "{w}");
    assert!(w.contains("truncated"), "{w}");
    let names: Vec<_> = r
        .inventory
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert!(
        names.contains(&"k") && names.contains(&"l") && names.contains(&"m"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"z"),
        "entries after the bomb's budget are not read"
    );
    assert!(
        r.inventory
            .packages
            .iter()
            .all(|p| p.ecosystem == Ecosystem::PyPI)
    );
}

#[test]
fn docker_archive_matches_oci_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let l1 = Tar::default()
        .file("usr/lib/os-release", OS_RELEASE)
        .file("a-1.0.dist-info/METADATA", &metadata("a", "1.0"))
        .end();
    let l2 = gzip(
        &Tar::default()
            .file("b-2.0.dist-info/METADATA", &metadata("b", "2.0"))
            .end(),
    );
    let config = br#"{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:1111","sha256:2222"]}}"#;
    let manifest = br#"[{"Config":"cfg.json","RepoTags":["app:v1"],"Layers":["l1/layer.tar","l2/layer.tar"]}]"#;
    let archive = Tar::default()
        .file("manifest.json", manifest)
        .file("cfg.json", config)
        .file("l1/layer.tar", &l1)
        .file("l2/layer.tar", &l2)
        .end();
    let path = tmp.path().join("image.tar");
    std::fs::write(&path, archive).unwrap();
    let r = wharf_scanner::inventory(
        &format!("docker-archive:{}:v1", path.display()),
        &LoadOptions::default(),
    )
    .unwrap();
    let got: Vec<_> = r
        .inventory
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.layer.as_deref().unwrap()))
        .collect();
    assert_eq!(got, vec![("a", "sha256:1111"), ("b", "sha256:2222")]);
    assert_eq!(r.inventory.distro.unwrap().version_id, "12");
    // a bare path is recognised as a docker archive too
    let r2 = wharf_scanner::inventory(path.to_str().unwrap(), &LoadOptions::default()).unwrap();
    assert_eq!(r2.inventory.packages.len(), 2);
}
