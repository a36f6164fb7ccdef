-- OpenID Connect: what Wharf keeps of each OIDC user, and the code flows under way.

-- One row per user onboarded from the OpenID provider (Harbor's oidc_user). The CLI
-- secret and the refresh token are sealed with the server's secret key: the secret is
-- shown back to its owner, the token is sent back to the provider.
CREATE TABLE oidc_users (
    user_id          INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    issuer           TEXT NOT NULL,
    subject          TEXT NOT NULL,
    secret           TEXT NOT NULL,
    refresh_token    TEXT NOT NULL DEFAULT '',
    -- When the provider last confirmed the refresh token (login or refresh), and
    -- until when that confirmation holds (the access token's expiry).
    token_checked_at INTEGER NOT NULL,
    token_valid_until INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX oidc_users_by_subject ON oidc_users (issuer, subject);

-- Authorization-code flows started and not yet finished: state (the key), nonce and
-- the PKCE verifier (sealed). A row is deleted when its callback arrives, so a state
-- is used once; rows older than the flow's lifetime are purged.
CREATE TABLE oidc_logins (
    state        TEXT PRIMARY KEY,
    nonce        TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oidc_logins_by_age ON oidc_logins (created_at);
