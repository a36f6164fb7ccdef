-- SQLite's 0021: when a proxy cache project's upstream last confirmed a cached tag,
-- kept in the database so a restart or another replica serves cached tags for the
-- rest of their TTL instead of asking the upstream about every tag at once.
CREATE TABLE proxy_tag_checks (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    repository TEXT COLLATE "C" NOT NULL,
    tag TEXT COLLATE "C" NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (repository, tag)
);
CREATE INDEX proxy_tag_checks_project ON proxy_tag_checks(project_id);
