//! Package data embedded in executables: Go build info (module versions and the Go
//! toolchain version, `debug/buildinfo` format) and cargo-auditable's `.dep-v0` ELF section
//! (zlib-compressed JSON). Inspected while the layer streams; only the findings are kept.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::cargo_lock::crate_package;
use crate::image::ImageFs;
use crate::inventory::{Checksum, Ecosystem, Package, purl};

/// A Go module recorded in build info.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoModule {
    pub path: String,
    pub version: String,
    /// The go.sum hash (`h1:<base64>`), when the build recorded one.
    pub sum: Option<String>,
}

impl GoModule {
    fn from_cols(path: &str, version: &str, sum: Option<&&str>) -> GoModule {
        GoModule {
            path: path.to_string(),
            version: version.to_string(),
            sum: sum.filter(|s| s.starts_with("h1:")).map(|s| s.to_string()),
        }
    }
}

/// Smaller executables are scripts or stubs, not Go or Rust binaries.
pub const MIN_SIZE: u64 = 4096;

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryFacts {
    /// `go1.19.8` — the toolchain that built the binary (its standard library version).
    pub go_version: Option<String>,
    /// The main module and its dependencies.
    pub go_main: Option<GoModule>,
    pub go_deps: Vec<GoModule>,
    /// crates.io packages recorded by cargo-auditable.
    pub rust_crates: Vec<(String, String)>,
    /// Maven coordinates of a Java archive and the archives nested in it.
    pub java: Vec<super::java::Coord>,
}

fn is_executable_format(magic: &[u8]) -> bool {
    magic == b"\x7fELF"
        || magic.starts_with(b"MZ")
        || matches!(
            magic,
            [0xfe, 0xed, 0xfa, 0xce | 0xcf]
                | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
                | [0xca, 0xfe, 0xba, 0xbe]
        )
}

/// Reads an executable of `size` bytes (at most `max`) and extracts embedded package data.
/// `Ok(None)` for non-binaries and binaries without any; `Err` only when the stream breaks.
pub fn inspect_stream(
    path: &str,
    r: &mut dyn Read,
    size: u64,
    max: u64,
) -> std::io::Result<Option<BinaryFacts>> {
    if size > max || size < 4 {
        return Ok(None);
    }
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    let is_zip = &magic == b"PK\x03\x04";
    if !is_executable_format(&magic) && !is_zip {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(size as usize);
    data.extend_from_slice(&magic);
    r.take(size - 4).read_to_end(&mut data)?;
    let facts = if is_zip {
        let mut f = BinaryFacts::default();
        if super::java::is_archive(path) {
            super::java::inspect(path, &data, 0, &mut f.java);
        }
        f
    } else {
        inspect(&data)
    };
    Ok((facts != BinaryFacts::default()).then_some(facts))
}

pub fn inspect(data: &[u8]) -> BinaryFacts {
    let mut facts = BinaryFacts::default();
    go_buildinfo(data, &mut facts);
    if data.starts_with(b"\x7fELF")
        && let Some(sec) = elf_section(data, ".dep-v0")
    {
        facts.rust_crates = auditable_crates(sec);
    }
    facts
}

fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn go_buildinfo(data: &[u8], facts: &mut BinaryFacts) {
    for pos in memchr::memmem::find_iter(data, GO_MAGIC) {
        let Some(hdr) = data.get(pos..pos + 32) else {
            return;
        };
        let flags = hdr[15];
        let strings: Vec<&[u8]> = if flags & 2 == 0 {
            // Go < 1.18: two pointers to Go string headers in the data segment
            match pointer_strings(data, hdr) {
                Some(s) => s,
                None => continue,
            }
        } else {
            let mut off = pos + 32;
            let mut strings = Vec::new();
            for _ in 0..2 {
                let Some((len, n)) = data.get(off..).and_then(read_varint) else {
                    return;
                };
                let start = off + n;
                let Some(s) = data.get(start..start.saturating_add(len as usize)) else {
                    return;
                };
                strings.push(s);
                off = start + len as usize;
            }
            strings
        };
        facts.go_version =
            Some(String::from_utf8_lossy(strings[0]).into_owned()).filter(|v| !v.is_empty());
        let mut modinfo = strings[1];
        // modinfo is framed by 16-byte sentinels (binary, not UTF-8): they are cut from the
        // bytes, as Go does, before any decoding changes the lengths.
        if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
            modinfo = &modinfo[16..modinfo.len() - 16];
        }
        let modinfo = String::from_utf8_lossy(modinfo);
        for line in modinfo.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            match cols.as_slice() {
                ["mod", path, version, rest @ ..] => {
                    facts.go_main = Some(GoModule::from_cols(path, version, rest.first()))
                }
                ["dep", path, version, rest @ ..] => {
                    facts
                        .go_deps
                        .push(GoModule::from_cols(path, version, rest.first()))
                }
                ["=>", path, version, rest @ ..] => {
                    if let Some(last) = facts.go_deps.last_mut() {
                        *last = GoModule::from_cols(path, version, rest.first());
                    }
                }
                _ => {}
            }
        }
        return;
    }
}

/// Build info as Go before 1.18 wrote it: after the 16-byte magic and flags, the pointer
/// size (byte 14) and two pointers (virtual addresses) to the Go string headers
/// `runtime.buildVersion` and `runtime.modinfo`, each `{data pointer, length}`. Addresses are
/// mapped to file offsets through the ELF program headers (little-endian ELF only, as Linux
/// images hold).
fn pointer_strings<'a>(data: &'a [u8], hdr: &[u8]) -> Option<Vec<&'a [u8]>> {
    let size = hdr[14] as usize;
    if !data.starts_with(b"\x7fELF") || hdr[15] & 1 != 0 || !(size == 4 || size == 8) {
        return None;
    }
    let word = |b: &[u8]| -> Option<u64> {
        Some(match size {
            4 => u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as u64,
            _ => u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
        })
    };
    let mut out = Vec::with_capacity(2);
    for i in 0..2 {
        let header_va = word(&hdr[16 + i * size..])?;
        let header = data.get(elf_offset(data, header_va)?..)?;
        let (ptr, len) = (word(header)?, word(header.get(size..)?)? as usize);
        if len == 0 {
            out.push(&data[0..0]);
            continue;
        }
        let start = elf_offset(data, ptr)?;
        out.push(data.get(start..start.checked_add(len)?)?);
    }
    Some(out)
}

/// The file offset of virtual address `va` in a little-endian ELF file: the `PT_LOAD`
/// segment that maps it.
fn elf_offset(d: &[u8], va: u64) -> Option<usize> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?) as u64);
    let u32_at = |o: usize| Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?) as u64);
    let u64_at = |o: usize| Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?));
    if d.get(5) != Some(&1) {
        return None;
    }
    let is64 = d.get(4) == Some(&2);
    let (phoff, phentsize, phnum) = if is64 {
        (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?)
    } else {
        (u32_at(0x1c)?, u16_at(0x2a)?, u16_at(0x2c)?)
    };
    for i in 0..phnum {
        let b = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
        let (kind, offset, vaddr, filesz) = if is64 {
            (u32_at(b)?, u64_at(b + 8)?, u64_at(b + 16)?, u64_at(b + 32)?)
        } else {
            (u32_at(b)?, u32_at(b + 4)?, u32_at(b + 8)?, u32_at(b + 16)?)
        };
        if kind == 1 && va >= vaddr && va - vaddr < filesz {
            return usize::try_from(offset + (va - vaddr)).ok();
        }
    }
    None
}

/// The contents of a named section of a little-endian ELF file (32 or 64 bit).
fn elf_section<'a>(d: &'a [u8], want: &str) -> Option<&'a [u8]> {
    let u16_at = |o: usize| {
        d.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        d.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    let u64_at = |o: usize| {
        d.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    if d.get(5) != Some(&1) {
        return None; // big-endian
    }
    let is64 = d.get(4) == Some(&2);
    let (shoff, shentsize, shnum, shstrndx) = if is64 {
        (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?, u16_at(0x3e)?)
    } else {
        (u32_at(0x20)?, u16_at(0x2e)?, u16_at(0x30)?, u16_at(0x32)?)
    };
    let sh = |i: usize| -> Option<(usize, usize, usize)> {
        let b = shoff.checked_add(i.checked_mul(shentsize)?)?;
        if is64 {
            Some((u32_at(b)?, u64_at(b + 24)?, u64_at(b + 32)?))
        } else {
            Some((u32_at(b)?, u32_at(b + 16)?, u32_at(b + 20)?))
        }
    };
    let (_, str_off, str_size) = sh(shstrndx)?;
    let strtab = d.get(str_off..str_off.checked_add(str_size)?)?;
    for i in 0..shnum.min(4096) {
        let (name_off, off, size) = sh(i)?;
        let name = strtab.get(name_off..)?.split(|&b| b == 0).next()?;
        if name == want.as_bytes() {
            return d.get(off..off.checked_add(size)?);
        }
    }
    None
}

#[derive(Deserialize)]
struct Auditable {
    packages: Vec<AuditablePkg>,
}

#[derive(Deserialize)]
struct AuditablePkg {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
}

fn auditable_crates(section: &[u8]) -> Vec<(String, String)> {
    let mut json = Vec::new();
    // Bounded: the JSON of even huge dependency trees is a few MiB.
    if flate2::read::ZlibDecoder::new(section)
        .take(16 << 20)
        .read_to_end(&mut json)
        .is_err()
    {
        return vec![];
    }
    let Ok(a) = serde_json::from_slice::<Auditable>(&json) else {
        return vec![];
    };
    a.packages
        .into_iter()
        .filter(|p| p.source == "crates.io")
        .map(|p| (p.name, p.version))
        .collect()
}

fn go_package(module: &str, version: &str, layer: Option<String>, path: &str) -> Package {
    go_module_package(
        &GoModule {
            path: module.into(),
            version: version.into(),
            sum: None,
        },
        layer,
        path,
    )
}

fn go_module_package(m: &GoModule, layer: Option<String>, path: &str) -> Package {
    let (module, version) = (m.path.as_str(), m.version.as_str());
    let (ns, name) = match module.rsplit_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, module),
    };
    Package {
        name: module.into(),
        version: version.into(),
        ecosystem: Ecosystem::Go,
        purl: purl(Ecosystem::Go, ns, name, version, &[]),
        source_name: None,
        source_version: None,
        licenses: vec![],
        supplier: None,
        checksums: m
            .sum
            .as_deref()
            .and_then(Checksum::from_go_h1)
            .into_iter()
            .collect(),
        layer,
        path: path.into(),
    }
}

pub fn analyze(fs: &ImageFs) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, f, layer) in fs.binaries() {
        let digest = fs.layer_digest(layer);
        if let Some(v) = &f.go_version {
            let mut p = go_package("stdlib", v, digest.clone(), path);
            p.purl = purl(
                Ecosystem::Go,
                None,
                "stdlib",
                v.trim_start_matches("go"),
                &[],
            );
            out.push(p);
        }
        if let Some(m) = &f.go_main
            && m.version != "(devel)"
            && !m.version.is_empty()
        {
            out.push(go_module_package(m, digest.clone(), path));
        }
        for m in &f.go_deps {
            out.push(go_module_package(m, digest.clone(), path));
        }
        for (n, v) in &f.rust_crates {
            out.push(crate_package(n, v, digest.clone(), path));
        }
        for c in &f.java {
            let (g, a, v) = (&c.group, &c.artifact, &c.version);
            let name = if g.is_empty() {
                a.clone()
            } else {
                format!("{g}:{a}")
            };
            out.push(Package {
                purl: purl(Ecosystem::Maven, Some(g), a, v, &[]),
                name,
                version: v.clone(),
                ecosystem: Ecosystem::Maven,
                source_name: None,
                source_version: None,
                licenses: vec![],
                supplier: None,
                checksums: c
                    .sha1
                    .as_deref()
                    .and_then(|h| Checksum::from_hex(crate::inventory::HashAlgorithm::Sha1, h))
                    .into_iter()
                    .collect(),
                layer: digest.clone(),
                path: path.into(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A 64-bit ELF with one PT_LOAD segment (file offset 0 at address 0x400000) holding a
    /// Go 1.17-style build info: pointers to string headers, not inline strings.
    #[test]
    fn go_pointer_buildinfo_before_go_1_18() {
        const BASE: u64 = 0x40_0000;
        let mut d = vec![0u8; 0x400];
        d[..4].copy_from_slice(b"\x7fELF");
        d[4] = 2; // 64-bit
        d[5] = 1; // little-endian
        d[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        d[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        d[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        d[64..68].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        d[64 + 16..64 + 24].copy_from_slice(&BASE.to_le_bytes()); // p_vaddr (p_offset 0)
        d[64 + 32..64 + 40].copy_from_slice(&0x400u64.to_le_bytes()); // p_filesz
        let ver = b"go1.16.15";
        let modinfo = format!(
            "{}path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgithub.com/pkg/errors\tv0.9.1\th1:x=\n{}",
            "0".repeat(16),
            "1".repeat(16)
        );
        d[0x200..0x200 + ver.len()].copy_from_slice(ver);
        d[0x280..0x280 + modinfo.len()].copy_from_slice(modinfo.as_bytes());
        // string headers {ptr, len}
        d[0x100..0x108].copy_from_slice(&(BASE + 0x200).to_le_bytes());
        d[0x108..0x110].copy_from_slice(&(ver.len() as u64).to_le_bytes());
        d[0x110..0x118].copy_from_slice(&(BASE + 0x280).to_le_bytes());
        d[0x118..0x120].copy_from_slice(&(modinfo.len() as u64).to_le_bytes());
        // the build info header
        let h = 0x180;
        d[h..h + 14].copy_from_slice(GO_MAGIC);
        d[h + 14] = 8;
        d[h + 15] = 0;
        d[h + 16..h + 24].copy_from_slice(&(BASE + 0x100).to_le_bytes());
        d[h + 24..h + 32].copy_from_slice(&(BASE + 0x110).to_le_bytes());
        let f = inspect(&d);
        assert_eq!(f.go_version.as_deref(), Some("go1.16.15"));
        assert_eq!(f.go_deps.len(), 1);
        assert_eq!(f.go_deps[0].path, "github.com/pkg/errors");
        assert_eq!(f.go_deps[0].version, "v0.9.1");
    }

    #[test]
    fn go_inline_buildinfo() {
        let mut d = b"\x7fELF".to_vec();
        d.resize(64, 0);
        d.extend_from_slice(GO_MAGIC);
        d.extend_from_slice(&[8, 2]);
        d.resize(64 + 32, 0);
        let ver = "go1.19.8";
        let h1 = "h1:+GBNKxmnvrrDT2gg5fJv7ne9kkdd4gthSmcEtw1PV9U=";
        let body = format!(
            "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.0\th1:x=\n=>\tgolang.org/x/text\tv0.3.8\t{h1}\n"
        );
        let modinfo = format!("{}{}{}", "0".repeat(16), body, "1".repeat(16));
        varint(ver.len(), &mut d);
        d.extend_from_slice(ver.as_bytes());
        varint(modinfo.len(), &mut d);
        d.extend_from_slice(modinfo.as_bytes());
        let f = inspect(&d);
        assert_eq!(f.go_version.as_deref(), Some("go1.19.8"));
        assert_eq!(
            f.go_deps,
            vec![GoModule {
                path: "golang.org/x/text".into(),
                version: "v0.3.8".into(),
                sum: Some(h1.into())
            }]
        );
        // The replaced module's go.sum hash becomes its SHA-256 checksum (hex of the base64).
        let p = go_module_package(&f.go_deps[0], None, "/app");
        assert_eq!(
            p.checksums[0].algorithm,
            crate::inventory::HashAlgorithm::Sha256
        );
        assert_eq!(
            p.checksums[0].value,
            "f8604d2b19a7bebac34f6820e5f26fee77bd92475de20b614a6704b70d4f57d5"
        );
        // A truncated header is survived.
        assert_eq!(inspect(&d[..64 + 20]), BinaryFacts::default());
    }

    /// Found while writing the `analyzers` fuzz target (`fuzz/`): the sentinels were cut
    /// from the lossily decoded string, so a multi-byte character across byte 16 made the
    /// cut land inside it (a panic on slicing a `str`). Go's own sentinels are not UTF-8
    /// either; they are now cut from the bytes.
    #[test]
    fn modinfo_sentinels_are_cut_from_bytes() {
        let build = |modinfo: &[u8]| {
            let mut d = b"\x7fELF".to_vec();
            d.resize(64, 0);
            d.extend_from_slice(GO_MAGIC);
            d.extend_from_slice(&[8, 2]);
            d.resize(64 + 32, 0);
            varint(8, &mut d);
            d.extend_from_slice(b"go1.22.1");
            varint(modinfo.len(), &mut d);
            d.extend_from_slice(modinfo);
            d
        };
        // 15 ASCII bytes, then "é" across byte 16, the '\n' the sentinel check looks for
        let hostile = [&b"aaaaaaaaaaaaaaa"[..], "é".as_bytes(), b"\n", &[b'b'; 16]].concat();
        let f = inspect(&build(&hostile));
        assert_eq!(f.go_version.as_deref(), Some("go1.22.1"));
        assert!(f.go_deps.is_empty());
        // Go's real sentinels (cmd/go/internal/modload), around a dependency line
        let start = [
            0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6,
            0x18, 0xe6,
        ];
        let end = [
            0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16,
            0xd8, 0xf2,
        ];
        let body =
            b"path\tex.com/app\nmod\tex.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.1.0\th1:x=\n";
        let f = inspect(&build(&[&start[..], body, &end[..]].concat()));
        assert_eq!(
            f.go_deps,
            vec![GoModule {
                path: "golang.org/x/net".into(),
                version: "v0.1.0".into(),
                sum: Some("h1:x=".into())
            }]
        );
    }

    #[test]
    fn garbage_elf_headers_do_not_panic() {
        let mut d = b"\x7fELF\x02\x01".to_vec();
        d.resize(0x40, 0xff);
        assert_eq!(inspect(&d), BinaryFacts::default());
    }
}
