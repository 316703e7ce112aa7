-- The ▶️ offers: a code file sent in a DM without /run gets the risk
-- verdict, and the owner's ▶️ on that verdict runs exactly this code (bound
-- to its SHA-256), once, within 24 hours — across restarts too.
CREATE TABLE discord_run_offers (
    ref        INTEGER PRIMARY KEY,  -- the verdict's message in discord_outbox
    channel_id TEXT    NOT NULL,
    code       BLOB    NOT NULL,
    language   TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,     -- hex SHA-256 of code
    created_at INTEGER NOT NULL,     -- unix seconds
    expires_at INTEGER NOT NULL      -- unix seconds: created + 24 h
);
CREATE INDEX discord_run_offers_expiry ON discord_run_offers (expires_at);
