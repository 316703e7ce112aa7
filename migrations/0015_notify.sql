-- The owner's notices (internal/notify): what waits to be DMed, and which
-- one-time notices went out, so that a restart neither loses a notice nor
-- sends one twice.
CREATE TABLE notify_queue (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,     -- health, expiry, audit_head
    text    TEXT NOT NULL,     -- as DMed: no message text, no secrets
    created TEXT NOT NULL      -- RFC 3339, UTC
) STRICT;

CREATE TABLE notify_sent (
    key TEXT PRIMARY KEY,      -- 'expiry:<approval id>', 'audit_head'
    at  TEXT NOT NULL          -- RFC 3339, UTC: when it was queued
) STRICT;
