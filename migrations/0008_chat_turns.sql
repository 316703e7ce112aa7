-- Chat turns: what the chat core knows about a stored message beyond its
-- role and text — the answer's statistics, a tool call or a tool result, and
-- whether the answer was cut short by a failover. One row per message at
-- most; it goes with its message (forget deletes both).
CREATE TABLE turn_details (
    message_id        INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('answer', 'tool_call', 'tool_result')),
    tool_name         TEXT NOT NULL DEFAULT '',
    tool_call_id      TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    tokens_per_second REAL NOT NULL DEFAULT 0,
    first_token_ms    INTEGER NOT NULL DEFAULT 0,
    failed_over       INTEGER NOT NULL DEFAULT 0, -- 1: a partial answer the backend broke off
    context_tokens    INTEGER NOT NULL DEFAULT 0, -- the context sent for it
    context_window    INTEGER NOT NULL DEFAULT 0
) STRICT;
