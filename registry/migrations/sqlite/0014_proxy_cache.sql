-- Proxy cache projects (issue 14): a project created with Harbor's `registry_id`
-- serves pulls from that registry endpoint and caches what it fetched. A table of
-- its own rather than a column of `projects`: most projects are not caches, and
-- the row goes with its project. The endpoint cannot be deleted while a project
-- fronts it.

CREATE TABLE proxy_projects (
    project_id  INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    registry_id INTEGER NOT NULL REFERENCES registries(id)
);
CREATE INDEX proxy_projects_registry ON proxy_projects(registry_id);
