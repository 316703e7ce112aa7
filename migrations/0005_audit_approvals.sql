-- The audit log: an append-only chain where each entry's hash is
-- HMAC-SHA256(key, prev_hash ‖ canonical encoding of the entry). The key
-- lives in a file in the data directory, never here; the latest seq and hash
-- are also kept in an anchor file outside the database (see internal/audit).
-- The key's id (a hash of the key, not the key) is kept in meta as
-- 'audit_key_id' so that a wrong key file is told apart from tampering.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,  -- 1, 2, 3, … without gaps
    at        TEXT NOT NULL,        -- RFC 3339 with nanoseconds, UTC
    actor     TEXT NOT NULL,        -- "local", "discord:<id>", "mai"
    action    TEXT NOT NULL,        -- e.g. sandbox.run, approval.approve
    subject   TEXT NOT NULL,        -- what it was done to: a job, a request id, a user
    details   TEXT NOT NULL,        -- JSON object, exactly as hashed
    prev_hash BLOB NOT NULL,        -- 32 bytes; zeros for the first entry
    hash      BLOB NOT NULL         -- 32 bytes
) STRICT;

-- Approval requests: the owner's yes or no, bound to the SHA-256 of the
-- exact payload. A request is decided once; a later one for the same
-- subject may supersede it.
CREATE TABLE approvals (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,     -- code_run, self_modification, policy_change
    summary        TEXT NOT NULL,     -- one line
    payload        BLOB NOT NULL,     -- exactly what is approved
    payload_sha256 TEXT NOT NULL,     -- hex
    verdict        TEXT NOT NULL,     -- JSON risk verdict with findings, or ''
    review         TEXT NOT NULL DEFAULT '',  -- JSON, filled by the review issue
    checks         TEXT NOT NULL DEFAULT '',  -- JSON, filled by the self-modification issue
    requester      TEXT NOT NULL,
    created        TEXT NOT NULL,     -- RFC 3339, UTC
    expires        TEXT NOT NULL,
    reminded       TEXT NOT NULL DEFAULT '',  -- when the one reminder went out
    state          TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'superseded', 'withdrawn')),
    decided_by     TEXT NOT NULL DEFAULT '',
    decided_via    TEXT NOT NULL DEFAULT '',  -- terminal, discord, control, flag
    decided_at     TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX approvals_state ON approvals (state, created);
