package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/memory"
)

// factWindow is how many recent messages fact extraction reads.
const factWindow = 12

const extractPrompt = `You extract durable facts and preferences about the user from a conversation: who they are, what they like, what they need Mai to remember. Ignore passing remarks and anything about Mai itself. Answer with only a JSON array, each element {"subject": "...", "statement": "...", "confidence": 0.0-1.0}; answer [] when there is nothing durable. Facts already known:
%s`

// extracted is one fact as the model writes it.
type extracted struct {
	Subject    string  `json:"subject"`
	Statement  string  `json:"statement"`
	Confidence float64 `json:"confidence"`
}

// learn asks the model for durable facts in the conversation's recent user
// messages and stores the new ones with those messages as provenance.
// hint, when set, is what the owner asked to remember. It returns the ids
// of the facts written.
func (c *Core) learn(ctx context.Context, s *session, conv int64, hint string) ([]int64, error) {
	ms, err := c.cfg.Memory.Messages(ctx, conv, 0, 0)
	if err != nil {
		return nil, err
	}
	if len(ms) > factWindow {
		ms = ms[len(ms)-factWindow:]
	}
	var sources []int64
	var convo strings.Builder
	for _, m := range ms {
		if m.Role != memory.RoleUser {
			continue
		}
		sources = append(sources, m.ID)
		fmt.Fprintf(&convo, "user: %s\n", m.Content)
	}
	if len(sources) == 0 {
		return nil, nil
	}
	known, err := c.cfg.Memory.Facts(ctx, s.user)
	if err != nil {
		return nil, err
	}
	var list strings.Builder
	seen := map[string]bool{}
	for _, f := range known {
		fmt.Fprintf(&list, "- %s\n", f.Statement)
		seen[normalize(f.Statement)] = true
	}
	if hint != "" {
		fmt.Fprintf(&convo, "The user asked Mai to remember: %s\n", hint)
	}
	req := llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: fmt.Sprintf(extractPrompt, list.String())},
		{Role: llm.RoleUser, Content: convo.String()},
	}}
	s.mu.Lock()
	req.Options.MaxTokens = s.maxTokens
	s.mu.Unlock()
	if req.Options.MaxTokens == 0 {
		req.Options.MaxTokens = 512
	}
	st, err := c.cfg.Models.ChatWith(ctx, Need{}, func(Target) (llm.Request, error) { return req, nil })
	if err != nil {
		return nil, err
	}
	msg, _, err := llm.Collect(st)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, f := range parseFacts(msg.Content) {
		if seen[normalize(f.Statement)] {
			continue
		}
		seen[normalize(f.Statement)] = true
		conf := f.Confidence
		if conf <= 0 || conf > 1 {
			conf = 0.5
		}
		id, err := c.cfg.Memory.Remember(ctx, memory.Fact{User: s.user, Subject: strings.TrimSpace(f.Subject), Statement: f.Statement, Confidence: conf, Sources: sources})
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// parseFacts reads the first JSON array in text; anything unreadable gives
// no facts (small models often answer with prose).
func parseFacts(text string) []extracted {
	var th thinkFilter
	text, _ = th.feed(text)
	i := strings.Index(text, "[")
	j := strings.LastIndex(text, "]")
	if i < 0 || j < i {
		return nil
	}
	var out []extracted
	if json.Unmarshal([]byte(text[i:j+1]), &out) != nil {
		return nil
	}
	kept := out[:0]
	for _, f := range out {
		if strings.TrimSpace(f.Statement) != "" {
			kept = append(kept, f)
		}
	}
	return kept
}

func normalize(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// remember stores what the owner asked to remember as their message, lets
// the model extract facts from it, and keeps the text itself as a fact when
// the model found none.
func (c *Core) remember(ctx context.Context, s *session, text string, emit func(Event)) error {
	conv, err := c.conversation(ctx, s)
	if err != nil {
		return err
	}
	text = c.limitInput(text, emit)
	msg, err := c.cfg.Memory.Append(ctx, memory.Message{ConversationID: conv, Role: memory.RoleUser, Content: "/remember " + text})
	if err != nil {
		return err
	}
	ids, err := c.learn(ctx, s, conv, text)
	if err != nil {
		c.cfg.Log.Warn().Err(err).Msg("fact extraction failed; keeping the text as it is")
	}
	if len(ids) == 0 {
		id, err := c.cfg.Memory.Remember(ctx, memory.Fact{User: s.user, Statement: text, Confidence: 1, Sources: []int64{msg.ID}})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	emit(Event{Kind: EventReply, Text: fmt.Sprintf("remembered (fact %s)", joinIDs(ids))})
	return nil
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}
