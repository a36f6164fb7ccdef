-- Harbor's labels: global ones (project_id NULL, managed by system administrators)
-- and project ones (the project's administrators and maintainers). A name is unique
-- within its scope: among global labels, or within one project. Labels are put on
-- artifacts (a manifest in a repository, as Harbor does); deleting the artifact,
-- the label or the project removes the links.

CREATE TABLE labels (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    color       TEXT NOT NULL DEFAULT '',
    project_id  INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX labels_name_in_scope ON labels (coalesce(project_id, 0), name);

CREATE TABLE artifact_labels (
    manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    label_id    INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (manifest_id, label_id)
) WITHOUT ROWID;
CREATE INDEX artifact_labels_by_label ON artifact_labels (label_id);
