-- Authentication settings (the auth mode, the LDAP directory), user groups, and
-- groups as project members.

-- Harbor's configuration items that are kept in the database, one JSON value each.
-- Secrets (ldap_search_password) are stored sealed with the server's secret key.
CREATE TABLE configurations (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Harbor's user groups: group_type 1 = LDAP (named by its DN), 3 = OIDC (by name).
CREATE TABLE user_groups (
    id            INTEGER PRIMARY KEY,
    group_name    TEXT NOT NULL,
    group_type    INTEGER NOT NULL,
    ldap_group_dn TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- DNs compare without regard to case, as directories compare them.
CREATE UNIQUE INDEX user_groups_by_dn ON user_groups (lower(ldap_group_dn)) WHERE group_type = 1;
CREATE UNIQUE INDEX user_groups_by_name ON user_groups (group_type, group_name) WHERE group_type <> 1;

-- The groups a user belonged to at their last login (the directory is the source).
CREATE TABLE user_group_users (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX user_group_users_by_group ON user_group_users (group_id);

-- A project member is a user or a group (Harbor's entity_type u / g), in one id space.
CREATE TABLE project_members_v2 (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    group_id    INTEGER REFERENCES user_groups(id) ON DELETE CASCADE,
    role_id     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    UNIQUE (project_id, user_id),
    UNIQUE (project_id, group_id)
);
INSERT INTO project_members_v2 (id, project_id, user_id, role_id, created_at)
    SELECT id, project_id, user_id, role_id, created_at FROM project_members;
DROP TABLE project_members;
ALTER TABLE project_members_v2 RENAME TO project_members;
CREATE INDEX project_members_by_group ON project_members (group_id) WHERE group_id IS NOT NULL;
