-- Everything the Discord front end sends goes through this table first, in
-- order, so that an outage or a crash loses nothing and sends nothing twice.
CREATE TABLE discord_outbox (
    id          INTEGER PRIMARY KEY,   -- the sending order
    channel_id  TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('send', 'edit', 'react')),
    ref         INTEGER REFERENCES discord_outbox (id),  -- edit, react: the send row of the message
    target_id   TEXT NOT NULL DEFAULT '',  -- edit, react of a message not sent here: its id
    content     TEXT NOT NULL DEFAULT '',
    embeds      TEXT NOT NULL DEFAULT '',  -- JSON array, or ''
    files       TEXT NOT NULL DEFAULT '',  -- JSON array of {name, data}, or ''
    emoji       TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'superseded', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,  -- > 0 with state pending: the outcome of a try is unknown
    message_id  TEXT NOT NULL DEFAULT '',    -- send: the id Discord gave the message
    error       TEXT NOT NULL DEFAULT '',
    created     TEXT NOT NULL,               -- RFC 3339, UTC
    sent        TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX discord_outbox_pending ON discord_outbox (state, id);

-- When a user who is not the owner was last told that Mai serves only its
-- owner (at most once a day each).
CREATE TABLE discord_refusals (
    user_id TEXT PRIMARY KEY,
    at      TEXT NOT NULL  -- RFC 3339, UTC
) STRICT;

-- The message that shows each approval request, so that a reaction (which
-- carries only ids) finds its request, and the hash shown is the hash
-- decided on.
CREATE TABLE discord_approvals (
    approval_id    TEXT PRIMARY KEY,
    ref            INTEGER REFERENCES discord_outbox (id),  -- the send of the embed; NULL while it is being queued
    payload_sha256 TEXT NOT NULL,
    shown_state    TEXT NOT NULL DEFAULT 'pending'  -- the state the embed shows
) STRICT;

-- Each answer being streamed, from the owner's DM to its final edit, so
-- that an answer a crash interrupted is generated again on restart and
-- finished in the same messages instead of a second reply.
CREATE TABLE discord_replies (
    id         INTEGER PRIMARY KEY,
    channel_id TEXT NOT NULL,
    prompt     TEXT NOT NULL,            -- the owner's message
    refs       TEXT NOT NULL DEFAULT '[]',  -- JSON array of outbox send ids, in order
    done       INTEGER NOT NULL DEFAULT 0,
    created    TEXT NOT NULL
) STRICT;
