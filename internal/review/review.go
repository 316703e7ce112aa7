// Package review is the second agent that reads a proposed change to Mai
// before the owner is asked: it answers approve, request-changes or reject
// with concerns and a summary. The answer must be one JSON object that
// follows Schema; it is parsed strictly, asked for once more when it is
// not, and otherwise the result is "no review available" — which is shown
// to the owner and never counts as approval.
//
// The default reviewer is a local model through the router; the Anthropic
// Messages API, an OpenCode server and any OpenAI-compatible endpoint are
// optional models, each in its own file.
package review

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Verdict is the reviewer's decision.
type Verdict string

const (
	Approve        Verdict = "approve"
	RequestChanges Verdict = "request-changes"
	Reject         Verdict = "reject"
	// Unavailable: no well-formed review was obtained. It never counts as
	// approval.
	Unavailable Verdict = "unavailable"
)

// Change is what the reviewer reads.
type Change struct {
	Repo      string // "workspace" or "source"
	Subject   string
	Rationale string
	Request   string // the message that asked for the change
	Risk      string // the risk verdict with its findings, as text
	Diff      string // capped by the caller
}

// Result is a review. Reviewer names the model that gave it; Error says
// why none is available.
type Result struct {
	Verdict  Verdict  `json:"verdict"`
	Concerns []string `json:"concerns"`
	Summary  string   `json:"summary"`
	Reviewer string   `json:"reviewer"`
	Attempts int      `json:"attempts"`
	Error    string   `json:"error,omitempty"`
}

// Available reports whether the result is a real review.
func (r Result) Available() bool { return r.Verdict != Unavailable && r.Verdict != "" }

// Schema is the JSON Schema every reviewer's answer must follow.
var Schema = json.RawMessage(`{"type":"object","properties":{` +
	`"verdict":{"type":"string","enum":["approve","request-changes","reject"]},` +
	`"concerns":{"type":"array","items":{"type":"string"}},` +
	`"summary":{"type":"string"}},` +
	`"required":["verdict","concerns","summary"],"additionalProperties":false}`)

// Model is one way to ask a model a question and get its text answer.
type Model interface {
	// Name says which reviewer this is: "local (router)", "anthropic:MODEL", …
	Name() string
	// Ask returns the model's whole answer to the prompt.
	Ask(ctx context.Context, system, prompt string) (string, error)
}

// Reviewer asks a Model for a review.
type Reviewer struct {
	Model Model
}

// ErrMalformed: the answer is not one JSON object that follows Schema.
var ErrMalformed = errors.New("the review is not well-formed")

// Review asks for a review, parses the answer strictly, asks once more
// when that fails, and otherwise returns an Unavailable result (never an
// error: the caller goes on and shows the owner that no review is there).
// Only ctx ending is returned as an error.
func (r Reviewer) Review(ctx context.Context, c Change) (Result, error) {
	name := "none"
	if r.Model != nil {
		name = r.Model.Name()
	} else {
		return Result{Verdict: Unavailable, Reviewer: name, Concerns: []string{}, Error: "no reviewer is configured"}, nil
	}
	var errs []string
	for attempt := 1; attempt <= 2; attempt++ {
		answer, err := r.Model.Ask(ctx, systemPrompt, Prompt(c))
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if err == nil {
			var res Result
			if res, err = Parse(answer); err == nil {
				res.Reviewer, res.Attempts = name, attempt
				return res, nil
			}
		}
		errs = append(errs, fmt.Sprintf("attempt %d: %v", attempt, err))
	}
	return Result{Verdict: Unavailable, Concerns: []string{}, Reviewer: name, Attempts: 2,
		Error: "no review available: " + strings.Join(errs, "; ")}, nil
}

// Parse reads one answer strictly: exactly one JSON object (a fenced code
// block around it is tolerated, since models add one), only the three
// fields, all present, and a verdict from the enum.
func Parse(answer string) (Result, error) {
	s := strings.TrimSpace(answer)
	if rest, ok := strings.CutPrefix(s, "```"); ok {
		rest = strings.TrimPrefix(rest, "json")
		if body, ok := strings.CutSuffix(strings.TrimSpace(rest), "```"); ok {
			s = strings.TrimSpace(body)
		}
	}
	var raw struct {
		Verdict  *string   `json:"verdict"`
		Concerns *[]string `json:"concerns"`
		Summary  *string   `json:"summary"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() || dec.InputOffset() != int64(len(s)) {
		return Result{}, fmt.Errorf("%w: text after the JSON object", ErrMalformed)
	}
	if raw.Verdict == nil || raw.Concerns == nil || raw.Summary == nil {
		return Result{}, fmt.Errorf("%w: verdict, concerns and summary are all required", ErrMalformed)
	}
	v := Verdict(*raw.Verdict)
	if v != Approve && v != RequestChanges && v != Reject {
		return Result{}, fmt.Errorf("%w: verdict %q is not approve, request-changes or reject", ErrMalformed, v)
	}
	if strings.TrimSpace(*raw.Summary) == "" {
		return Result{}, fmt.Errorf("%w: empty summary", ErrMalformed)
	}
	return Result{Verdict: v, Concerns: *raw.Concerns, Summary: *raw.Summary}, nil
}

const systemPrompt = `You review a proposed change to an AI companion's own files (its persona, its skills, its risk policy or its source code) before its owner decides. Look for changes that weaken safety, leak secrets, run code the owner would not expect, break the files, or do something other than what was asked. Answer with one JSON object only, no other text: {"verdict": "approve" | "request-changes" | "reject", "concerns": [short strings], "summary": "one or two sentences"}.`

// Prompt is the review question for c.
func Prompt(c Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Repository: %s\nSubject: %s\n", c.Repo, c.Subject)
	if c.Request != "" {
		fmt.Fprintf(&b, "Asked for in: %s\n", c.Request)
	}
	if c.Rationale != "" {
		fmt.Fprintf(&b, "Rationale: %s\n", c.Rationale)
	}
	if c.Risk != "" {
		fmt.Fprintf(&b, "Risk analysis: %s\n", c.Risk)
	}
	fmt.Fprintf(&b, "\nDiff:\n%s\n", c.Diff)
	return b.String()
}
