//! bbolt files through the `nut` crate, with the checks nut leaves to its caller: the header
//! is validated before nut maps the file (nut panics on some garbage rather than erroring), a
//! panic while walking a damaged file becomes an error, and files are written to a temporary
//! name and renamed, so a failed export leaves nothing half-written.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// bbolt's magic number and file format version (meta page, after the 16-byte page header).
const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
const META_FLAG: u16 = 0x04;

fn bad(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Db(format!(
        "{}: not a readable bbolt file: {msg}",
        path.display()
    ))
}

/// Checks what bbolt checks on open: a meta page (page 0 or, if that one is damaged, page 1)
/// with the page flag, magic, version, a sane page size and a matching FNV-64a checksum, and
/// a file at least four pages long.
pub fn check_header(path: &Path) -> Result<()> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut first = [0u8; META_END];
    f.read_exact(&mut first)
        .map_err(|_| bad(path, "shorter than a meta page"))?;
    let page_size = match meta_page(&first) {
        Ok(ps) => ps,
        Err(e0) => {
            // page 0 damaged: bbolt falls back to page 1, found at the page size page 0 claims
            let ps = u32::from_le_bytes(first[24..28].try_into().unwrap()) as u64;
            if !(512..=65536).contains(&ps) || !ps.is_power_of_two() {
                return Err(bad(path, e0));
            }
            use std::io::Seek;
            let mut second = [0u8; META_END];
            f.seek(std::io::SeekFrom::Start(ps))
                .and_then(|_| f.read_exact(&mut second))
                .map_err(|_| bad(path, &e0))?;
            meta_page(&second).map_err(|e1| bad(path, format!("{e0}; meta page 1: {e1}")))?
        }
    };
    if len < 4 * page_size {
        return Err(bad(
            path,
            format!("{len} bytes, less than four {page_size}-byte pages"),
        ));
    }
    Ok(())
}

/// 16-byte page header + the meta fields up to and including the checksum.
const META_END: usize = 16 + 64;

/// Validates one meta page; returns its page size.
fn meta_page(p: &[u8; META_END]) -> std::result::Result<u64, String> {
    let u16le = |o: usize| u16::from_le_bytes([p[o], p[o + 1]]);
    let u32le = |o: usize| u32::from_le_bytes(p[o..o + 4].try_into().unwrap());
    let u64le = |o: usize| u64::from_le_bytes(p[o..o + 8].try_into().unwrap());
    if u16le(8) != META_FLAG {
        return Err("not a meta page".into());
    }
    if u32le(16) != MAGIC {
        return Err("wrong magic number".into());
    }
    if u32le(20) != VERSION {
        return Err(format!("format version {} (expected {VERSION})", u32le(20)));
    }
    let page_size = u32le(24) as u64;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("implausible page size {page_size}"));
    }
    // meta: magic version pageSize flags root{pgid, sequence} freelist pgid txid | checksum
    if fnv64a(&p[16..16 + 56]) != u64le(16 + 56) {
        return Err("meta page checksum mismatch".into());
    }
    Ok(page_size)
}

/// FNV-1a, 64 bit: bbolt's meta page checksum.
pub fn fnv64a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Opens a bbolt file read-only after [`check_header`].
pub fn open_read(path: &Path) -> Result<nut::DB> {
    check_header(path)?;
    guarded(path, || {
        nut::DBBuilder::new(path)
            .read_only(true)
            .build()
            .map_err(|e| bad(path, e))
    })
}

/// Runs `f`, turning a panic inside nut (a damaged page) into an error.
pub fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Err(bad(path, format!("damaged page structure ({msg})")))
        }
    }
}

/// A bbolt file being written under a temporary name beside `dest`; [`Writer::finish`]
/// syncs and renames it into place, dropping it unfinished removes it.
pub struct Writer {
    pub db: Option<nut::DB>,
    tmp: PathBuf,
    dest: PathBuf,
    renamed: bool,
}

impl Writer {
    pub fn create(dest: &Path) -> Result<Self> {
        let dir = dest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bolt.db");
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let db = nut::DBBuilder::new(&tmp)
            .build()
            .map_err(|e| Error::Db(format!("creating {}: {e}", tmp.display())))?;
        Ok(Writer {
            db: Some(db),
            tmp,
            dest: dest.to_path_buf(),
            renamed: false,
        })
    }

    /// Closes the database, fsyncs it and renames it to its final name.
    pub fn finish(mut self) -> Result<()> {
        drop(self.db.take());
        let f = std::fs::File::open(&self.tmp).map_err(|e| Error::io(&self.tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.db.take());
        if !self.renamed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        std::fs::write(&p, b"SQLite format 3\0 definitely not bolt").unwrap();
        let e = open_read(&p).err().unwrap().to_string();
        assert!(e.contains("not a readable bbolt file"), "{e}");

        // A real file with one flipped byte in its first meta page fails the checksum.
        let good = dir.path().join("good.db");
        {
            let w = Writer::create(&good).unwrap();
            {
                let mut db = w.db.as_ref().unwrap().clone();
                let mut tx = db.begin_rw_tx().unwrap();
                tx.create_bucket(b"b")
                    .unwrap()
                    .put(b"k", b"v".to_vec())
                    .unwrap();
                tx.commit().unwrap();
            }
            w.finish().unwrap();
        }
        check_header(&good).unwrap();
        let mut bytes = std::fs::read(&good).unwrap();
        let ps = 4096;
        bytes[16 + 40] ^= 0xff; // page 0's high-water page id: page 1 still valid
        let bad_file = dir.path().join("bad.db");
        std::fs::write(&bad_file, &bytes).unwrap();
        check_header(&bad_file).unwrap();
        bytes[ps + 16 + 40] ^= 0xff; // now page 1 too
        std::fs::write(&bad_file, &bytes).unwrap();
        let e = open_read(&bad_file).err().unwrap().to_string();
        assert!(e.contains("checksum"), "{e}");
        // Truncated to less than four pages.
        std::fs::write(&bad_file, &std::fs::read(&good).unwrap()[..4096]).unwrap();
        let e = open_read(&bad_file).err().unwrap().to_string();
        assert!(e.contains("less than four"), "{e}");
    }

    #[test]
    fn unfinished_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.db");
        drop(Writer::create(&dest).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
