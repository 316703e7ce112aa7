-- A counter that changes whenever an embedding is written or deleted, so
-- internal/memory can keep the vectors in memory for recall and know, with
-- one tiny read, whether another process (an import, a forget) changed them.
CREATE TABLE embedding_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
) STRICT;
INSERT INTO embedding_generation (id, n) VALUES (1, 0);

CREATE TRIGGER embeddings_gen_ai AFTER INSERT ON embeddings BEGIN
    UPDATE embedding_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER embeddings_gen_au AFTER UPDATE ON embeddings BEGIN
    UPDATE embedding_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER embeddings_gen_ad AFTER DELETE ON embeddings BEGIN
    UPDATE embedding_generation SET n = n + 1 WHERE id = 1;
END;
