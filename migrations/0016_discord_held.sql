-- The owner's DMs that arrived while mai serve was stopping: kept rather
-- than answered by a process on its way out, and answered at the next start
-- in the order they came.
CREATE TABLE discord_held (
    message_id TEXT PRIMARY KEY,  -- the DM's Discord id
    message    TEXT NOT NULL,     -- the message as the gateway gave it, JSON
    received   TEXT NOT NULL      -- RFC 3339, UTC
) STRICT;
