-- An index a proxy cache project fetched from its upstream while not every platform
-- it lists was cached yet. It is not a manifest row (a manifest row exists only when
-- everything it references does): it is kept here so that the platforms that were
-- pulled stay reachable by tag while the upstream is down. `reference` is the tag or
-- the digest it was asked by; `body` the index's bytes as the upstream served them.
-- Garbage collection keeps the cached platforms an index here lists. The row goes
-- with its project.
CREATE TABLE proxy_cached_indexes (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    reference TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (repository, reference)
) WITHOUT ROWID;
CREATE INDEX proxy_cached_indexes_digest ON proxy_cached_indexes(repository, digest);
CREATE INDEX proxy_cached_indexes_project ON proxy_cached_indexes(project_id);
