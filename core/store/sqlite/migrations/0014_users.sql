-- Issue 17: users, their API tokens and web UI sessions. No secret is
-- stored: passwords as encoded argon2id hashes (parameters and salt in the
-- encoding), tokens and session ids as SHA-256 hashes. Users are never
-- deleted (the audit trail names them), only disabled. Times are Unix
-- microseconds, 0 for "not set".
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    full_name     TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL DEFAULT '',
    created       INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
    id        TEXT    PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    label     TEXT    NOT NULL DEFAULT '',
    hash      BLOB    NOT NULL,
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL DEFAULT 0,
    revoked   INTEGER NOT NULL DEFAULT 0,
    last_used INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    hash      BLOB    PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    csrf      TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
