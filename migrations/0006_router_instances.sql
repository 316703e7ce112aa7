-- The model instances the router loaded itself, so that a restarted Mai
-- still unloads them when it needs the room, and does not count them as
-- memory someone else holds.
CREATE TABLE router_instances (
    backend     TEXT NOT NULL,  -- "ollama", "lmstudio"
    endpoint    TEXT NOT NULL,  -- the server's base URL
    instance_id TEXT NOT NULL,  -- what the server's unload call takes
    model       TEXT NOT NULL,
    loaded_at   TEXT NOT NULL,  -- RFC 3339, UTC
    PRIMARY KEY (endpoint, instance_id)
) STRICT;
