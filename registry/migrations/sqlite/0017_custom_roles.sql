-- Custom project roles: a name and a set of project actions (a JSON array of the
-- permission table's action names, e.g. ["pull","read-scan","scan"]). The five
-- built-in roles (ids 1-5) are not stored: they are the permission table's columns
-- in the code, so a new action reaches them without a migration.
CREATE TABLE roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    actions     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Custom ids start at 101 (FIRST_CUSTOM_ROLE_ID), clear of the built-in ones.
INSERT INTO sqlite_sequence (name, seq) VALUES ('roles', 100);

CREATE INDEX project_members_role ON project_members (role_id);
