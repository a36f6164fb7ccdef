-- Project settings (Harbor's project metadata), CVE allow-lists, vulnerability scan
-- reports, server-wide settings, and pull statistics.

-- Harbor's `pull_time` (artifacts) and `pull_count` (artifacts, repositories);
-- written in batches, never on the pull's own path.
ALTER TABLE manifests ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN pulled_at INTEGER;
ALTER TABLE repositories ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;

-- Harbor's `metadata` map: string keys and string values ("true", "high", …).
CREATE TABLE project_metadata (
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (project_id, key)
) WITHOUT ROWID;

-- scope: 'system' or 'project:<id>'. items: JSON array of CVE ids.
CREATE TABLE cve_allowlists (
    scope       TEXT PRIMARY KEY,
    items       TEXT NOT NULL,
    expires_at  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- One report per artifact digest: the content is the same in every repository.
-- `repository` is where the scanner reads the blobs from.
CREATE TABLE scan_reports (
    digest        TEXT PRIMARY KEY,
    repository    TEXT NOT NULL,
    status        TEXT NOT NULL,
    severity      TEXT,
    summary       TEXT,
    report        TEXT,
    db_version    TEXT,
    message       TEXT,
    requested_at  INTEGER NOT NULL,
    started_at    INTEGER,
    ended_at      INTEGER
) WITHOUT ROWID;
CREATE INDEX scan_reports_by_status ON scan_reports (status);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
