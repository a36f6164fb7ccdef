//! RPM packages from the SQLite rpmdb (`var/lib/rpm/rpmdb.sqlite`, RHEL 9 / Rocky / Alma;
//! `usr/lib/sysimage/rpm/rpmdb.sqlite`, Fedora 36+). Each row of `Packages` holds one
//! package header in RPM's binary header format, read here without librpm.
//! The older Berkeley DB and NDB formats are not read (a warning says so).

use std::io::Write;

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Distro, Ecosystem, Package, purl};

const DIRS: [&str; 2] = ["var/lib/rpm/", "usr/lib/sysimage/rpm/"];
/// Largest header blob read (librpm's own limit on the data store is 256 MiB).
const MAX_HEADER: usize = 64 << 20;

pub fn wants(path: &str) -> bool {
    DIRS.iter().any(|d| {
        path.strip_prefix(d).is_some_and(|f| {
            matches!(
                f,
                "rpmdb.sqlite" | "rpmdb.sqlite-wal" | "Packages" | "Packages.db"
            )
        })
    })
}

pub fn analyze(fs: &ImageFs, distro: Option<&Distro>, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for dir in DIRS {
        let db_path = format!("{dir}rpmdb.sqlite");
        if let Some((db, layer)) = fs.read(&db_path) {
            let wal = fs.read(&format!("{db_path}-wal")).map(|(w, _)| w);
            match read_sqlite(db, wal) {
                Ok(headers) => {
                    for h in headers {
                        match parse_header(&h) {
                            Ok(fields) => {
                                if let Some(p) =
                                    package(&fields, distro, fs.layer_digest(layer), &db_path)
                                {
                                    out.push(p);
                                }
                            }
                            Err(e) => warnings.push(format!("{db_path}: package header: {e}")),
                        }
                    }
                }
                Err(e) => warnings.push(format!("{db_path}: {e}")),
            }
        }
        for legacy in ["Packages", "Packages.db"] {
            if fs.read(&format!("{dir}{legacy}")).is_some() && fs.read(&db_path).is_none() {
                warnings.push(format!(
                    "{dir}{legacy}: Berkeley DB / NDB rpm databases are not read; RPM packages of this image are missing"
                ));
            }
        }
    }
    out
}

/// Header blobs of every row of `Packages`. SQLite needs a file (and its WAL next to it):
/// both are copied into a private temporary directory, opened, and removed.
fn read_sqlite(db: &[u8], wal: Option<&[u8]>) -> Result<Vec<Vec<u8>>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let path = dir.path().join("rpmdb.sqlite");
    let write = |p: &std::path::Path, data: &[u8]| -> Result<(), String> {
        std::fs::File::create(p)
            .and_then(|mut f| f.write_all(data))
            .map_err(|e| format!("copying to {}: {e}", p.display()))
    };
    write(&path, db)?;
    if let Some(w) = wal {
        write(&dir.path().join("rpmdb.sqlite-wal"), w)?;
    }
    let conn =
        rusqlite::Connection::open(&path).map_err(|e| format!("not an SQLite database: {e}"))?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| format!("no Packages table: {e}"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    rows.map(|r| r.map_err(|e| e.to_string())).collect()
}

/// The tags Wharf reads (lib/rpmtag.h).
const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_VENDOR: u32 = 1011;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

/// Header values Wharf keeps: strings (first of arrays) and 32-bit integers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub name: Option<String>,
    pub version: Option<String>,
    pub release: Option<String>,
    pub epoch: Option<u32>,
    pub arch: Option<String>,
    pub license: Option<String>,
    pub vendor: Option<String>,
    pub source_rpm: Option<String>,
}

/// Parses an rpmdb header blob: entry count and data length (big-endian u32), the index
/// entries (tag, type, offset, count), then the data store. Every offset is bounds-checked.
pub fn parse_header(blob: &[u8]) -> Result<Header, String> {
    let be = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let il = be(blob, 0).ok_or("truncated")? as usize;
    let dl = be(blob, 4).ok_or("truncated")? as usize;
    if il == 0 || il > 0xffff || dl > MAX_HEADER {
        return Err(format!(
            "implausible header ({il} entries, {dl} bytes of data)"
        ));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(data_start..data_start + dl)
        .ok_or("header shorter than its index says")?;
    let string_at = |off: usize| -> Option<String> {
        let rest = data.get(off..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let mut h = Header::default();
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, kind, off) = (
            be(blob, e).ok_or("truncated index")?,
            be(blob, e + 4).ok_or("truncated index")?,
            be(blob, e + 8).ok_or("truncated index")? as usize,
        );
        // 6 STRING, 8 STRING_ARRAY, 9 I18NSTRING (first string), 4 INT32.
        let text = || matches!(kind, 6 | 8 | 9).then(|| string_at(off)).flatten();
        match tag {
            TAG_NAME => h.name = text(),
            TAG_VERSION => h.version = text(),
            TAG_RELEASE => h.release = text(),
            TAG_ARCH => h.arch = text(),
            TAG_LICENSE => h.license = text(),
            TAG_VENDOR => h.vendor = text(),
            TAG_SOURCERPM => h.source_rpm = text(),
            TAG_EPOCH if kind == 4 => h.epoch = be(data, off),
            _ => {}
        }
    }
    Ok(h)
}

/// `name-version-release.src.rpm` → (name, version-release).
fn split_source_rpm(s: &str) -> Option<(String, String)> {
    let base = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name.to_string(), format!("{version}-{release}")))
}

fn package(
    h: &Header,
    distro: Option<&Distro>,
    layer: Option<String>,
    path: &str,
) -> Option<Package> {
    let name = h.name.as_deref()?;
    // The keys rpm imported are stored as packages; they are not software.
    if name == "gpg-pubkey" {
        return None;
    }
    let (v, r) = (h.version.as_deref()?, h.release.as_deref()?);
    let version = match h.epoch {
        Some(e) if e > 0 => format!("{e}:{v}-{r}"),
        _ => format!("{v}-{r}"),
    };
    let ns = distro
        .map(|d| d.id.clone())
        .unwrap_or_else(|| "redhat".into());
    let distro_q = distro
        .map(|d| format!("{}-{}", d.id, d.version_id))
        .unwrap_or_default();
    let epoch = h
        .epoch
        .filter(|e| *e > 0)
        .map(|e| e.to_string())
        .unwrap_or_default();
    let (source_name, source_version) = match h.source_rpm.as_deref().and_then(split_source_rpm) {
        Some((n, v)) => (Some(n), Some(v)),
        None => (None, None),
    };
    let mut quals: Vec<(&str, &str)> = vec![
        ("arch", h.arch.as_deref().unwrap_or("")),
        ("epoch", &epoch),
        ("distro", &distro_q),
    ];
    let upstream = h.source_rpm.clone().unwrap_or_default();
    if !upstream.is_empty() {
        quals.push(("upstream", &upstream));
    }
    Some(Package {
        name: name.to_string(),
        version: version.clone(),
        ecosystem: Ecosystem::Rpm,
        purl: purl(Ecosystem::Rpm, Some(&ns), name, &format!("{v}-{r}"), &quals),
        source_name,
        source_version,
        licenses: h
            .license
            .iter()
            .filter(|l| !l.is_empty())
            .cloned()
            .collect(),
        supplier: h.vendor.clone().filter(|v| !v.is_empty()),
        checksums: vec![],
        layer,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header built by hand in RPM's layout: the parser must find every field and
    /// refuse blobs whose index points outside the data.
    fn header(entries: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, value) in entries {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&kind.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(value);
        }
        let mut out = (entries.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn parses_fields_and_refuses_out_of_bounds() {
        let blob = header(&[
            (TAG_NAME, 6, b"bash\0"),
            (TAG_EPOCH, 4, &1u32.to_be_bytes()),
            (TAG_VERSION, 6, b"5.1.8\0"),
            (TAG_RELEASE, 6, b"9.el9\0"),
            (TAG_LICENSE, 6, b"GPLv3+\0"),
            (TAG_SOURCERPM, 6, b"bash-5.1.8-9.el9.src.rpm\0"),
        ]);
        let h = parse_header(&blob).unwrap();
        assert_eq!(h.name.as_deref(), Some("bash"));
        assert_eq!(h.epoch, Some(1));
        let p = package(&h, None, None, "x").unwrap();
        assert_eq!(p.version, "1:5.1.8-9.el9");
        assert_eq!(p.source_name.as_deref(), Some("bash"));
        assert_eq!(p.source_version.as_deref(), Some("5.1.8-9.el9"));
        assert!(
            p.purl.starts_with("pkg:rpm/redhat/bash@5.1.8-9.el9?"),
            "{}",
            p.purl
        );

        let mut short = blob.clone();
        short.truncate(blob.len() - 3);
        assert!(parse_header(&short).is_err());
        assert!(parse_header(&[0, 0, 0, 1]).is_err());
        let mut huge = blob.clone();
        huge[0..4].copy_from_slice(&0x0100_0000u32.to_be_bytes());
        assert!(parse_header(&huge).is_err());
        // A string with no terminator inside the data is not read past the end.
        let h = parse_header(&header(&[(TAG_NAME, 6, b"unterminated")])).unwrap();
        assert_eq!(h.name, None);
    }

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("glibc-2.34-60.el9.src.rpm"),
            Some(("glibc".into(), "2.34-60.el9".into()))
        );
        assert_eq!(
            split_source_rpm("python3-pip-21.2.3-6.el9.src.rpm"),
            Some(("python3-pip".into(), "21.2.3-6.el9".into()))
        );
        assert_eq!(split_source_rpm("nonsense"), None);
    }
}
