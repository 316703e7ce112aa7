-- Self-modification proposals: one row per proposed change to a repository
-- Mai may change (the workspace, or its own source). The diff is the exact
-- payload of the approval request (diff_sha256 = the request's hash); a
-- rebase makes a new diff and a new request, so the owner always approves
-- what will be committed. The state says how far the pipeline got, so that
-- a crash is completed or rolled back on the next start.
CREATE TABLE selfmod_proposals (
    id           TEXT PRIMARY KEY,
    repo         TEXT NOT NULL,              -- workspace or source
    repo_path    TEXT NOT NULL,              -- the repository's folder
    branch       TEXT NOT NULL,              -- the target branch
    base         TEXT NOT NULL,              -- the commit the diff applies to
    subject      TEXT NOT NULL,              -- the commit's subject line
    rationale    TEXT NOT NULL DEFAULT '',
    request      TEXT NOT NULL DEFAULT '',   -- the message that asked for it
    requested_in TEXT NOT NULL DEFAULT '',   -- that message's id
    requester    TEXT NOT NULL,
    changes      TEXT NOT NULL,              -- JSON: the files as proposed
    diff         BLOB NOT NULL DEFAULT x'',
    diff_sha256  TEXT NOT NULL DEFAULT '',
    risk         TEXT NOT NULL DEFAULT '',   -- JSON verdict
    review       TEXT NOT NULL DEFAULT '',   -- JSON review
    checks       TEXT NOT NULL DEFAULT '',   -- JSON check result
    flags        TEXT NOT NULL DEFAULT '',   -- JSON: explicit overrides the owner asked for
    approval_id  TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    tree         TEXT NOT NULL DEFAULT '',   -- the proposed tree's object id
    commit_id    TEXT NOT NULL DEFAULT '',   -- the commit, once made
    worktree     TEXT NOT NULL DEFAULT '',   -- a temporary worktree in use
    created      TEXT NOT NULL,
    updated      TEXT NOT NULL
) STRICT;

CREATE INDEX selfmod_proposals_state ON selfmod_proposals (state, repo_path);
