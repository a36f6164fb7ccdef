-- The portal's login sessions (issue 19). Server-side, so that logging out ends a
-- session everywhere and replicas behind one load balancer share them. The cookie
-- holds a random id; only its SHA-256 is stored, so a copy of the database lets no
-- one into anyone's session. The CSRF token is per session (useless without the
-- cookie). A session goes with its user.

CREATE TABLE portal_sessions (
    id_hash      BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX portal_sessions_user ON portal_sessions(user_id);
CREATE INDEX portal_sessions_seen ON portal_sessions(last_seen_at);
