-- Every change of the answering model, with its cause and reason, for
-- `mai status`; and the model the owner pinned with `mai models switch`.
CREATE TABLE model_switches (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,  -- RFC 3339, UTC
    from_ref TEXT NOT NULL,  -- "" for the first choice
    to_ref   TEXT NOT NULL,
    cause    TEXT NOT NULL,  -- initial, request, failure, latency, upgrade
    reason   TEXT NOT NULL
) STRICT;

CREATE INDEX model_switches_at ON model_switches (at);

CREATE TABLE model_pin (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    ref TEXT NOT NULL,       -- backend:model
    at  TEXT NOT NULL
) STRICT;
