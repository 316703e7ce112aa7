package selfmod

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

const timeLayout = "2006-01-02T15:04:05.000000000Z"

func newID() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz123456789"
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return "p" + string(b[1:])
}

// insert stores a new record.
func (s *Service) insert(ctx context.Context, r *Record) error {
	now := s.o.Now().UTC()
	r.Created, r.Updated = now, now
	for attempt := 0; ; attempt++ {
		r.ID = newID()
		_, err := s.o.DB.ExecContext(ctx, `INSERT INTO selfmod_proposals (id, repo, repo_path, branch, base, subject, rationale,
			request, requested_in, requester, changes, flags, state, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Repo, r.RepoPath, r.Branch, r.Base, r.Subject, r.Rationale, r.Request, r.RequestedIn, r.Requester,
			mustJSON(changesDoc{r.Changes, r.Revert}), mustJSON(r.Flags), string(r.State), now.Format(timeLayout), now.Format(timeLayout))
		if err == nil {
			return nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("store proposal: %w", err)
		}
	}
}

type changesDoc struct {
	Files  []Change `json:"files"`
	Revert string   `json:"revert,omitempty"`
}

// save writes every mutable field of r.
func (s *Service) save(ctx context.Context, r *Record) error {
	r.Updated = s.o.Now().UTC()
	enc := func(v any, ok bool) string {
		if !ok {
			return ""
		}
		return mustJSON(v)
	}
	_, err := s.o.DB.ExecContext(context.WithoutCancel(ctx), `UPDATE selfmod_proposals SET base = ?, diff = ?, diff_sha256 = ?, risk = ?,
		review = ?, checks = ?, approval_id = ?, state = ?, reason = ?, commit_id = ?, tree = ?, worktree = ?, updated = ? WHERE id = ?`,
		r.Base, []byte(r.Diff), r.DiffSHA256, enc(r.Risk, r.Risk != nil), enc(r.Review, r.Review != nil), enc(r.Checks, r.Checks != nil),
		r.ApprovalID, string(r.State), r.Reason, r.Commit, r.Tree, r.Worktree, r.Updated.Format(timeLayout), r.ID)
	if err != nil {
		return fmt.Errorf("store proposal %s: %w", r.ID, err)
	}
	return nil
}

const columns = `id, repo, repo_path, branch, base, subject, rationale, request, requested_in, requester, changes, diff, diff_sha256,
	risk, review, checks, flags, approval_id, state, reason, commit_id, tree, worktree, created, updated`

// Get returns one proposal.
func (s *Service) Get(ctx context.Context, id string) (Record, error) {
	rs, err := s.query(ctx, `WHERE id = ?`, id)
	if err != nil {
		return Record{}, err
	}
	if len(rs) == 0 {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return rs[0], nil
}

// List returns every proposal, newest first.
func (s *Service) List(ctx context.Context) ([]Record, error) {
	return s.query(ctx, `ORDER BY created DESC, id`)
}

func (s *Service) inState(ctx context.Context, states ...State) ([]Record, error) {
	q := make([]string, len(states))
	args := make([]any, len(states))
	for i, st := range states {
		q[i], args[i] = "?", string(st)
	}
	return s.query(ctx, `WHERE state IN (`+strings.Join(q, ",")+`) ORDER BY created, id`, args...)
}

func (s *Service) query(ctx context.Context, where string, args ...any) ([]Record, error) {
	rows, err := s.o.DB.QueryContext(ctx, `SELECT `+columns+` FROM selfmod_proposals `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read proposals: %w", err)
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func scan(rows *sql.Rows) (Record, error) {
	var r Record
	var changes, rk, rv, ck, flags, state, created, updated string
	var diff []byte
	if err := rows.Scan(&r.ID, &r.Repo, &r.RepoPath, &r.Branch, &r.Base, &r.Subject, &r.Rationale, &r.Request, &r.RequestedIn,
		&r.Requester, &changes, &diff, &r.DiffSHA256, &rk, &rv, &ck, &flags, &r.ApprovalID, &state, &r.Reason, &r.Commit,
		&r.Tree, &r.Worktree, &created, &updated); err != nil {
		return r, fmt.Errorf("read proposals: %w", err)
	}
	r.Diff, r.State = string(diff), State(state)
	var doc changesDoc
	errs := []error{json.Unmarshal([]byte(changes), &doc), json.Unmarshal([]byte(flags), &r.Flags)}
	r.Changes, r.Revert = doc.Files, doc.Revert
	if rk != "" {
		errs = append(errs, json.Unmarshal([]byte(rk), &r.Risk))
	}
	if rv != "" {
		errs = append(errs, json.Unmarshal([]byte(rv), &r.Review))
	}
	if ck != "" {
		errs = append(errs, json.Unmarshal([]byte(ck), &r.Checks))
	}
	for _, err := range errs {
		if err != nil {
			return r, fmt.Errorf("proposal %s: stored JSON: %w", r.ID, err)
		}
	}
	r.Created, _ = time.Parse(timeLayout, created)
	r.Updated, _ = time.Parse(timeLayout, updated)
	return r, nil
}
