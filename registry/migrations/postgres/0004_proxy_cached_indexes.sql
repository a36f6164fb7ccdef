-- SQLite's 0023: an index a proxy cache project fetched while not every platform it
-- lists was cached; not a manifest row, kept so the pulled platforms stay reachable
-- by tag while the upstream is down. Garbage collection keeps what it lists.
CREATE TABLE proxy_cached_indexes (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    repository TEXT COLLATE "C" NOT NULL,
    reference TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    media_type TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (repository, reference)
);
CREATE INDEX proxy_cached_indexes_digest ON proxy_cached_indexes(repository, digest);
CREATE INDEX proxy_cached_indexes_project ON proxy_cached_indexes(project_id);
