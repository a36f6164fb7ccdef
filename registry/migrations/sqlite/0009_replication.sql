-- Registry endpoints (issue 14): the remote registries replication pushes to
-- and pulls from, and the proxy cache fronts. `secret` is the credential's
-- secret sealed with the server's key (AES-256-GCM, nonce first): a copy of the
-- database alone does not give the remote registries away.

CREATE TABLE registries (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    url         TEXT NOT NULL,
    type        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- basic | oauth (Harbor's credential types); NULL: anonymous
    auth_type   TEXT,
    access_key  TEXT,
    secret      BLOB,
    ca_file     TEXT,
    insecure    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Replication policies: Harbor's `ReplicationPolicy` document as the service
-- validated it (the store never interprets it).
CREATE TABLE replication_policies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
