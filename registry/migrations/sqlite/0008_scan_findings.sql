-- The Security Hub ("which images contain CVE-X") answers from these two
-- tables, written with each successful scan, instead of parsing every stored
-- report: one row per finding of an artifact digest, and one row per
-- vulnerability id for what is the same wherever it is found.
--
-- severity: the scanner's scale as a rank, so it sorts and compares in SQL:
-- 1 UNKNOWN, 2 LOW, 3 MEDIUM, 4 HIGH, 5 CRITICAL (a finding is never NONE).
CREATE TABLE scan_findings (
    digest         TEXT NOT NULL REFERENCES scan_reports(digest) ON DELETE CASCADE,
    vuln_id        TEXT NOT NULL,
    package        TEXT NOT NULL,
    version        TEXT NOT NULL,
    fixed_version  TEXT NOT NULL DEFAULT '',
    severity       INTEGER NOT NULL,
    cvss_v3        REAL,
    status         TEXT NOT NULL,
    PRIMARY KEY (digest, vuln_id, package, version)
) WITHOUT ROWID;
CREATE INDEX scan_findings_by_vuln ON scan_findings (vuln_id);
CREATE INDEX scan_findings_by_package ON scan_findings (package);
CREATE INDEX scan_findings_by_severity ON scan_findings (severity, cvss_v3);

-- severity and cvss_v3: the highest seen for the id (for the summary's "most
-- dangerous" list, read from here rather than from every finding).
CREATE TABLE vulnerabilities (
    id           TEXT PRIMARY KEY,
    severity     INTEGER NOT NULL DEFAULT 1,
    cvss_v3      REAL,
    description  TEXT NOT NULL DEFAULT '',
    links        TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
CREATE INDEX vulnerabilities_by_severity ON vulnerabilities (severity, cvss_v3);

-- Findings name artifacts by digest alone; their repositories are found here.
CREATE INDEX manifests_by_digest ON manifests (digest);

-- Reports already stored as typed findings (0007) are indexed now.
INSERT OR IGNORE INTO scan_findings (digest, vuln_id, package, version, fixed_version, severity, cvss_v3, status)
SELECT s.digest,
       json_extract(f.value, '$.vulnerability_id'),
       json_extract(f.value, '$.package.name'),
       json_extract(f.value, '$.package.version'),
       coalesce(json_extract(f.value, '$.fixed_version'), ''),
       CASE upper(json_extract(f.value, '$.advisory.severity'))
           WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2
           ELSE 1 END,
       json_extract(f.value, '$.advisory.cvss_v3.score'),
       json_extract(f.value, '$.status')
FROM scan_reports s, json_each(s.report, '$.findings') f
WHERE s.report IS NOT NULL;

INSERT OR IGNORE INTO vulnerabilities (id, severity, cvss_v3, description, links)
SELECT json_extract(f.value, '$.vulnerability_id'),
       CASE upper(json_extract(f.value, '$.advisory.severity'))
           WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2
           ELSE 1 END,
       json_extract(f.value, '$.advisory.cvss_v3.score'),
       coalesce(json_extract(f.value, '$.advisory.summary'), json_extract(f.value, '$.advisory.details'), ''),
       coalesce((SELECT json_group_array(json_extract(r.value, '$.url'))
                 FROM json_each(f.value, '$.advisory.references') r), '[]')
FROM scan_reports s, json_each(s.report, '$.findings') f
WHERE s.report IS NOT NULL;
