package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/maicompanion/mai/internal/doctor"
	"github.com/maicompanion/mai/internal/review"
)

// pinger is a remote reviewer that can say whether it answers.
type pinger interface {
	Ping(ctx context.Context) error
}

// remoteReviewer is the configured optional reviewer, or nil for local
// and none.
func (m *Main) remoteReviewer() (review.Model, error) {
	c := m.cfg
	switch c.Reviewer {
	case "anthropic":
		if c.AnthropicAPIKey.Reveal() == "" {
			return nil, errors.New("MAI_REVIEWER=anthropic needs ANTHROPIC_API_KEY")
		}
		return review.Anthropic{BaseURL: c.AnthropicURL, APIKey: c.AnthropicAPIKey.Reveal(), Model: c.AnthropicModel}, nil
	case "opencode":
		return review.OpenCode{URL: c.OpenCodeURL, Password: c.OpenCodePassword.Reveal()}, nil
	case "openai":
		if c.ReviewEndpoint == "" || c.ReviewModel == "" {
			return nil, errors.New("MAI_REVIEWER=openai needs REVIEW_ENDPOINT and REVIEW_MODEL")
		}
		return review.OpenAI{Endpoint: c.ReviewEndpoint, APIKey: c.ReviewAPIKey.Reveal(), Model: c.ReviewModel}, nil
	}
	return nil, nil
}

// reviewerCheck is doctor's line for the reviewer: which one is active
// and whether it answers.
func (m *Main) reviewerCheck() doctor.Check {
	return doctor.Check{Name: "reviewer", Run: func(ctx context.Context) doctor.Result {
		r := doctor.Result{Name: "reviewer", Status: doctor.OK}
		switch m.cfg.Reviewer {
		case "none":
			r.Status, r.Detail = doctor.Warn, "none: every self-modification is shown with 'no review available'"
			r.Fix = "set MAI_REVIEWER=local (the router's model), anthropic, opencode or openai"
			return r
		case "local":
			r.Detail = "local model through the router; it answers when a model backend does (see the models line)"
			return r
		}
		model, err := m.remoteReviewer()
		if err != nil {
			r.Status, r.Detail, r.Fix = doctor.Fail, err.Error(), "set the variables named, or MAI_REVIEWER=local"
			return r
		}
		if err := model.(pinger).Ping(ctx); err != nil {
			r.Status, r.Detail = doctor.Fail, fmt.Sprintf("%s does not answer: %v", model.Name(), err)
			r.Fix = "check the reviewer's URL and key, or set MAI_REVIEWER=local"
			return r
		}
		r.Detail = model.Name() + " answers"
		return r
	}}
}
