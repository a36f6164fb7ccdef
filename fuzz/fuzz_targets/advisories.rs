//! Advisory data as downloaded from the outside: OSV records (JSON, JSON arrays, YAML, zip
//! archives of them) imported into the SQLite DB; Trivy's bucket values (advisories,
//! vulnerabilities, data sources) and their version constraints; and whole `trivy.db`
//! bbolt files through `Db::import_trivy`. The meta page checksum of a bbolt input is
//! recomputed, so mutations reach past the header check into the page structure.
//!
//! Wharf catches panics inside the bbolt reader (`nut`) on purpose and reports the file as
//! damaged (`bolt::guarded`); those panics are expected here, and only those: any panic
//! that escapes still aborts the run.
#![no_main]

use std::cell::{Cell, RefCell};
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wharf_scanner::Warnings;
use wharf_scanner::db::Db;
use wharf_scanner::db::trivy::{bolt, constraint, model};
use wharf_scanner::inventory::Ecosystem;

/// A fresh database every this many imports, so the file does not grow without bound.
const IMPORTS_PER_DB: u32 = 2_000;

struct Scratch {
    dir: tempfile::TempDir,
    db: Db,
    imports: u32,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
    static IN_BOLT: Cell<bool> = const { Cell::new(false) };
}

fn with_db(f: impl FnOnce(&Path, &mut Db)) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.as_ref().is_none_or(|s| s.imports >= IMPORTS_PER_DB) {
            *s = None;
            let dir = tempfile::tempdir().expect("temporary directory");
            let db = Db::open(&dir.path().join("vuln.db")).expect("a new database");
            *s = Some(Scratch {
                dir,
                db,
                imports: 0,
            });
        }
        let s = s.as_mut().expect("just set");
        s.imports += 1;
        f(s.dir.path(), &mut s.db);
    });
}

fn import_osv(name: &str, body: &[u8]) {
    with_db(|dir, db| {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("writing the record");
        let _ = db.import_osv(&[&path], &mut Warnings::default());
    });
}

fn trivy_values(body: &[u8]) {
    if let Ok(a) = serde_json::from_slice::<model::Advisory>(body) {
        for eco in [
            None,
            Some(Ecosystem::Npm),
            Some(Ecosystem::PyPI),
            Some(Ecosystem::Maven),
            Some(Ecosystem::RubyGems),
            Some(Ecosystem::Debian),
        ] {
            for e in a.clone().entries() {
                let _ = constraint::from_trivy(
                    eco,
                    &e.vulnerable_versions,
                    &e.patched_versions,
                    &e.unaffected_versions,
                );
            }
        }
    }
    let _ = serde_json::from_slice::<model::Vulnerability>(body);
    let _ = serde_json::from_slice::<model::DataSource>(body);
    let _ = serde_json::from_slice::<model::Metadata>(body);
}

fn trivy_db(body: &[u8]) {
    let mut file = body.to_vec();
    // page header (16 bytes), then magic version pageSize flags root freelist pgid txid (56),
    // then the checksum over those 56 bytes
    if file.len() >= 80 {
        let sum = bolt::fnv64a(&file[16..72]);
        file[72..80].copy_from_slice(&sum.to_le_bytes());
    }
    with_db(|dir, db| {
        let path = dir.join("trivy.db");
        std::fs::write(&path, &file).expect("writing the bbolt file");
        IN_BOLT.with(|b| b.set(true));
        let _ = db.import_trivy(&path, &mut Warnings::default(), &mut |_, _| {});
        IN_BOLT.with(|b| b.set(false));
    });
}

fuzz_target!(
    init: {
        let aborting = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_BOLT.with(|b| b.get()) {
                aborting(info);
            }
        }));
    },
    |data: &[u8]| {
        let Some((&sel, body)) = data.split_first() else {
            return;
        };
        match sel % 5 {
            0 => import_osv("record.json", body),
            1 => import_osv("record.yaml", body),
            2 => import_osv("records.zip", body),
            3 => trivy_values(body),
            _ => trivy_db(body),
        }
    }
);
