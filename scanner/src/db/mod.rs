//! The offline vulnerability database: one SQLite file with a documented, versioned schema
//! (see `SCHEMA` below and `scanner/README.md`). Advisories are imported from OSV records;
//! lookups are by (ecosystem, normalised package name), and range evaluation happens in
//! Rust with each ecosystem's own version ordering ([`crate::matcher`]).

pub mod artifact;
pub mod import;
pub mod osv;
pub mod secdb;
pub mod trivy;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::{Error, Result};

/// Bumped on every incompatible schema change; `open` refuses other versions.
pub const SCHEMA_VERSION: i64 = 1;

/// Schema version 1.
///
/// - `meta(key, value)`: `schema_version`, `updated_at` (RFC 3339 of the last import).
/// - `advisories`: one row per advisory id. `severity` is CRITICAL/HIGH/MEDIUM/LOW/UNKNOWN,
///   from the CVSS v3 vector, else CVSS v4, else the source's own label. `aliases` and
///   `refs` are JSON arrays. `source` names the feed (pypa, go, rustsec, ghsa, osv, …).
/// - `affected`: one row per (advisory, package). `ecosystem` is the OSV ecosystem as written
///   (`PyPI`, `Debian:12`), `package` the name normalised by that ecosystem's rule, `ranges`
///   the OSV ranges as JSON, `versions` the explicit affected versions as JSON, `status`
///   NULL (affected), `not_affected`, `will_not_fix` or `end_of_life` (Debian's urgency
///   `end-of-life`: the release is out of security support).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    summary TEXT,
    details TEXT,
    aliases TEXT NOT NULL DEFAULT '[]',
    published TEXT,
    modified TEXT,
    withdrawn TEXT,
    severity TEXT NOT NULL DEFAULT 'UNKNOWN',
    cvss_v3_vector TEXT,
    cvss_v3_score REAL,
    cvss_v4_vector TEXT,
    cvss_v4_score REAL,
    refs TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS affected (
    advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,
    package TEXT NOT NULL,
    package_raw TEXT NOT NULL,
    ranges TEXT NOT NULL DEFAULT '[]',
    versions TEXT NOT NULL DEFAULT '[]',
    status TEXT
);
CREATE INDEX IF NOT EXISTS affected_lookup ON affected(ecosystem, package);
CREATE INDEX IF NOT EXISTS affected_advisory ON affected(advisory_id);
";

/// An open vulnerability database.
pub struct Db {
    pub(crate) conn: Connection,
    path: PathBuf,
}

/// `--db`, else `$WHARF_DB`, else `$XDG_DATA_HOME/wharf/vuln.db` (`~/.local/share/...`).
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("WHARF_DB").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("wharf").join("vuln.db")
}

/// One advisory as stored (and, inside findings, in the registry's stored reports).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Advisory {
    pub id: String,
    pub source: String,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub aliases: Vec<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub severity: String,
    pub cvss_v3: Option<osv::Scored>,
    pub cvss_v4: Option<osv::Scored>,
    pub references: Vec<osv::Reference>,
}

/// One affected-package row joined with its advisory.
#[derive(Debug, Clone)]
pub struct AffectedRow {
    pub advisory: std::sync::Arc<Advisory>,
    pub ecosystem: String,
    pub ranges: Vec<osv::Range>,
    pub versions: Vec<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub path: String,
    pub schema_version: i64,
    pub updated_at: Option<String>,
    pub advisories: i64,
    pub affected_packages: i64,
    /// `(ecosystem, advisories)` sorted by ecosystem.
    pub ecosystems: Vec<(String, i64)>,
    pub sources: Vec<(String, i64)>,
}

impl Db {
    /// Opens (creating if needed) a database for reading and importing.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn, path)
    }

    /// Opens an existing database; a missing file is an error that says how to make one.
    pub fn open_existing(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::Db(format!(
                "no vulnerability database at {}: download one with `wharf db update` (Trivy's public DB, or --vuln-db-ref HOST/REPO:TAG for a mirror), or build one offline from advisory files with `wharf db import osv|alpine-secdb|trivy PATH`; pass --db / set WHARF_DB to use another file",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let db = Db {
            conn,
            path: path.to_path_buf(),
        };
        db.check_version()?;
        Ok(db)
    }

    fn init(conn: Connection, path: &Path) -> Result<Self> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )?;
        let existing: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap_or(None);
        conn.execute_batch(SCHEMA)?;
        if existing.is_none() {
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?1)",
                params![SCHEMA_VERSION.to_string()],
            )?;
        }
        let db = Db {
            conn,
            path: path.to_path_buf(),
        };
        db.check_version()?;
        Ok(db)
    }

    fn check_version(&self) -> Result<()> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|_| {
                Error::Db(format!(
                    "{} is not a Wharf vulnerability database",
                    self.path.display()
                ))
            })?;
        match v.and_then(|v| v.parse::<i64>().ok()) {
            Some(SCHEMA_VERSION) => Ok(()),
            Some(other) => Err(Error::Db(format!(
                "{} has schema version {other}; this wharf reads version {SCHEMA_VERSION} (re-import the data)",
                self.path.display()
            ))),
            None => Err(Error::Db(format!(
                "{} has no schema version",
                self.path.display()
            ))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> Result<Info> {
        let count = |sql: &str| -> Result<i64> { Ok(self.conn.query_row(sql, [], |r| r.get(0))?) };
        let updated_at = self
            .conn
            .query_row("SELECT value FROM meta WHERE key='updated_at'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let mut ecosystems = Vec::new();
        let mut st = self.conn.prepare("SELECT ecosystem, COUNT(DISTINCT advisory_id) FROM affected GROUP BY ecosystem ORDER BY ecosystem")?;
        for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            ecosystems.push(row?);
        }
        let mut sources = Vec::new();
        let mut st = self
            .conn
            .prepare("SELECT source, COUNT(*) FROM advisories GROUP BY source ORDER BY source")?;
        for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            sources.push(row?);
        }
        Ok(Info {
            path: self.path.display().to_string(),
            schema_version: SCHEMA_VERSION,
            updated_at,
            advisories: count("SELECT COUNT(*) FROM advisories")?,
            affected_packages: count("SELECT COUNT(*) FROM affected")?,
            ecosystems,
            sources,
        })
    }

    /// Whether any advisory covers this ecosystem (`Debian:12`): a release with no data
    /// must say so rather than report an image clean.
    pub fn has_ecosystem(&self, ecosystem: &str) -> Result<bool> {
        let mut st = self
            .conn
            .prepare_cached("SELECT 1 FROM affected WHERE ecosystem = ?1 LIMIT 1")?;
        Ok(st.exists(params![ecosystem])?)
    }

    /// All affected rows for a package in an ecosystem (`PyPI`, `Debian:12`, …), withdrawn
    /// advisories excluded. `name` must already be normalised. Rows imported from Trivy's DB
    /// carry lower-cased names (Trivy folds case for every ecosystem but NuGet), so the
    /// lower-cased name is looked up too.
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<AffectedRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT a.id, a.source, a.summary, a.details, a.aliases, a.published, a.modified, a.severity,
                    a.cvss_v3_vector, a.cvss_v3_score, a.cvss_v4_vector, a.cvss_v4_score, a.refs,
                    f.ecosystem, f.ranges, f.versions, f.status
             FROM affected f JOIN advisories a ON a.id = f.advisory_id
             WHERE f.ecosystem = ?1 AND (f.package = ?2 OR f.package = ?3) AND a.withdrawn IS NULL",
        )?;
        let folded = name.to_lowercase();
        let rows = st.query_map(params![ecosystem, name, folded], |r| {
            let scored = |v: Option<String>, s: Option<f64>| {
                v.map(|vector| {
                    let score = s.unwrap_or(0.0);
                    let severity = severity_of_score(score).to_string();
                    osv::Scored {
                        vector,
                        score,
                        severity,
                    }
                })
            };
            let adv = Advisory {
                id: r.get(0)?,
                source: r.get(1)?,
                summary: r.get(2)?,
                details: r.get(3)?,
                aliases: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                published: r.get(5)?,
                modified: r.get(6)?,
                severity: r.get(7)?,
                cvss_v3: scored(r.get(8)?, r.get(9)?),
                cvss_v4: scored(r.get(10)?, r.get(11)?),
                references: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
            };
            Ok(AffectedRow {
                advisory: std::sync::Arc::new(adv),
                ecosystem: r.get(13)?,
                ranges: serde_json::from_str(&r.get::<_, String>(14)?).unwrap_or_default(),
                versions: serde_json::from_str(&r.get::<_, String>(15)?).unwrap_or_default(),
                status: r.get(16)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

/// CVSS v3 qualitative rating of a score.
pub fn severity_of_score(s: f64) -> &'static str {
    match s {
        s if s >= 9.0 => "CRITICAL",
        s if s >= 7.0 => "HIGH",
        s if s >= 4.0 => "MEDIUM",
        s if s > 0.0 => "LOW",
        _ => "UNKNOWN",
    }
}
