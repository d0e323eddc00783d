-- The configuration as the admin API and config.json leave it. Every configuration blob is sealed
-- (AES-256-GCM) as a whole, so no secret inside it (provider keys, proxy passwords, credentials)
-- is ever in the database in clear. `file_hash` is the hash of the config.json entry the row was
-- last seeded from (NULL when the row was written through the admin API only).
CREATE TABLE asbru_providers (
    name TEXT PRIMARY KEY NOT NULL,
    position BIGINT NOT NULL,
    sealed TEXT NOT NULL,
    file_hash TEXT,
    updated_at BIGINT NOT NULL
);

-- Top-level sections other than providers (client, plugins, governance, mcp, framework, auth_config).
CREATE TABLE asbru_sections (
    name TEXT PRIMARY KEY NOT NULL,
    sealed TEXT NOT NULL,
    file_hash TEXT,
    updated_at BIGINT NOT NULL
);

-- Store facts: how secrets are sealed (key check, KDF salt), the config revision.
CREATE TABLE asbru_meta (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Admin sessions: only a hash of each token is kept.
CREATE TABLE asbru_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
