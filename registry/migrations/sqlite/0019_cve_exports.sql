-- CVE exports (Harbor's /export/cve): the CSV a finished export job wrote, kept
-- until it is downloaded often enough or pruned by age. The job itself (status,
-- times, who asked, the filters) is a row of `jobs`; this holds only its file.
CREATE TABLE cve_exports (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    csv         BLOB NOT NULL,
    rows        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX cve_exports_by_age ON cve_exports (created_at);
