-- Memory: who Mai talks to, what was said, what it learned, and the
-- summaries and compressed archive that let it keep years of history.
-- Times are Unix milliseconds (UTC) so range scans and recency are integer
-- comparisons; internal/memory converts them to time.Time.

-- A user is a Discord user id, or 'local' for the terminal.
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
) STRICT;

-- A conversation is one session with one user (a DM thread, a `mai chat` run).
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL DEFAULT '',
    started_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX conversations_user ON conversations(user_id, started_ms);

-- Compressed originals of messages older than 90 days, one row per
-- conversation-day: a gzip-compressed JSON array of {"id","content"}.
CREATE TABLE archive (
    id              INTEGER PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    day             TEXT NOT NULL, -- YYYY-MM-DD (UTC)
    from_ms         INTEGER NOT NULL,
    to_ms           INTEGER NOT NULL,
    messages        INTEGER NOT NULL,
    raw_bytes       INTEGER NOT NULL,
    codec           TEXT NOT NULL DEFAULT 'gzip',
    data            BLOB NOT NULL,
    created_ms      INTEGER NOT NULL,
    UNIQUE (conversation_id, day)
) STRICT;

-- user_id repeats the conversation's owner so recall filters without a join.
-- An archived message keeps its metadata here; its text is in archive.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content         TEXT NOT NULL,
    tokens          INTEGER NOT NULL,
    tokens_exact    INTEGER NOT NULL DEFAULT 0, -- 1 when the backend reported the count
    model           TEXT NOT NULL DEFAULT '',
    reply_to        INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    created_ms      INTEGER NOT NULL,
    archive_id      INTEGER REFERENCES archive(id) ON DELETE SET NULL
) STRICT;
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_user_time ON messages(user_id, created_ms);
CREATE INDEX messages_reply_to ON messages(reply_to) WHERE reply_to IS NOT NULL;
CREATE INDEX messages_archive ON messages(archive_id) WHERE archive_id IS NOT NULL;

-- External-content FTS5: the text is stored once (in messages), bm25() and
-- snippet() work, and the index can be rebuilt from the table. Triggers keep
-- it in sync on update and delete; an archived message's text leaves the
-- index (its summary stays searchable through summaries_fts). Deleted
-- entries linger in old segments until a merge, so forgetting runs the
-- 'optimize' command afterwards. Inserts are indexed by internal/memory in
-- the inserting transaction with one INSERT … SELECT over the new id range:
-- a per-row AFTER INSERT trigger costs about 5× as much per message.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;

-- Facts and learned patterns about a user, with the messages they came from.
CREATE TABLE facts (
    id           INTEGER PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    subject      TEXT NOT NULL DEFAULT '',
    statement    TEXT NOT NULL,
    confidence   REAL NOT NULL DEFAULT 1.0 CHECK (confidence >= 0 AND confidence <= 1),
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    last_used_ms INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, subject, statement)
) STRICT;

CREATE TABLE fact_sources (
    fact_id    INTEGER NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (fact_id, message_id)
) WITHOUT ROWID, STRICT;
CREATE INDEX fact_sources_message ON fact_sources(message_id);

-- Summaries of a message range. tier: 'fold' (oldest turns folded while a
-- conversation is active), 'day' (key points of a conversation-day, 7-30
-- days old), 'condensed' (a conversation-week, older than 30 days).
-- period is the day or the week's Monday (YYYY-MM-DD), '' for folds; the
-- unique key makes the compression pass idempotent.
CREATE TABLE summaries (
    id               INTEGER PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tier             TEXT NOT NULL CHECK (tier IN ('fold', 'day', 'condensed')),
    period           TEXT NOT NULL DEFAULT '',
    first_message_id INTEGER NOT NULL,
    last_message_id  INTEGER NOT NULL,
    from_ms          INTEGER NOT NULL,
    to_ms            INTEGER NOT NULL,
    content          TEXT NOT NULL,
    tokens           INTEGER NOT NULL,
    model            TEXT NOT NULL DEFAULT '', -- '' for the extractive fallback
    created_ms       INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX summaries_period ON summaries(conversation_id, tier, period) WHERE tier != 'fold';
CREATE INDEX summaries_conversation ON summaries(conversation_id, tier, last_message_id);
CREATE INDEX summaries_user_time ON summaries(user_id, from_ms);

CREATE VIRTUAL TABLE summaries_fts USING fts5(
    content,
    content = 'summaries',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER summaries_fts_ai AFTER INSERT ON summaries BEGIN
    INSERT INTO summaries_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER summaries_fts_ad AFTER DELETE ON summaries BEGIN
    INSERT INTO summaries_fts(summaries_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER summaries_fts_au AFTER UPDATE OF content ON summaries BEGIN
    INSERT INTO summaries_fts(summaries_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO summaries_fts(rowid, content) VALUES (new.id, new.content);
END;

-- Embedding vectors of messages: little-endian float32, normalised to unit
-- length so cosine similarity is a dot product.
CREATE TABLE embeddings (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    dims       INTEGER NOT NULL,
    vector     BLOB NOT NULL,
    PRIMARY KEY (message_id, model)
) WITHOUT ROWID, STRICT;
