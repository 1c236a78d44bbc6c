-- Issue 17: users, their API tokens and web UI sessions. No secret is
-- stored: passwords as encoded argon2id hashes (parameters and salt in the
-- encoding), tokens and session ids as SHA-256 hashes. Users are never
-- deleted (the audit trail names them), only disabled. Times are Unix
-- microseconds, 0 for "not set".
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text      NOT NULL UNIQUE,
    full_name     text      NOT NULL DEFAULT '',
    role          text      NOT NULL,
    password_hash text      NOT NULL DEFAULT '',
    created       bigint    NOT NULL,
    disabled      bigint    NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
    id        text   PRIMARY KEY,
    user_id   bigint NOT NULL REFERENCES users (id),
    label     text   NOT NULL DEFAULT '',
    hash      bytea  NOT NULL,
    created   bigint NOT NULL,
    expires   bigint NOT NULL DEFAULT 0,
    revoked   bigint NOT NULL DEFAULT 0,
    last_used bigint NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    hash      bytea  PRIMARY KEY,
    user_id   bigint NOT NULL REFERENCES users (id),
    created   bigint NOT NULL,
    expires   bigint NOT NULL,
    last_seen bigint NOT NULL,
    csrf      text   NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
