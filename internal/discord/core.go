package discord

import (
	"context"
	"errors"
	"fmt"

	"github.com/maicompanion/mai/internal/chat"
)

// FromCore adapts the chat core to Chat.
func FromCore(c *chat.Core) Chat { return coreChat{c} }

type coreChat struct{ c *chat.Core }

func (cc coreChat) Send(ctx context.Context, user string, p Prompt, emit func(Event)) error {
	return cc.c.Send(ctx, message(user, p), adapt(emit))
}

// Redo answers p again through the core's Redo: the stored message is
// not stored twice.
func (cc coreChat) Redo(ctx context.Context, user string, p Prompt, emit func(Event)) error {
	return cc.c.Redo(ctx, message(user, p), adapt(emit))
}

// message is p as the chat core takes it.
func message(user string, p Prompt) chat.Message {
	m := chat.Message{User: user, Text: p.Text, ReplyTo: p.ReplyTo}
	for _, im := range p.Images {
		m.Images = append(m.Images, chat.Image{MIME: im.MIME, Data: im.Data})
	}
	return m
}

func (cc coreChat) Stop(user string) bool { return cc.c.Stop(user) }

func (cc coreChat) ForgetExchange(ctx context.Context, user string, id int64) (int64, error) {
	parent, err := cc.c.ForgetExchange(ctx, user, id)
	if errors.Is(err, chat.ErrNoExchange) {
		return 0, fmt.Errorf("%w: %w", ErrNotInMemory, err)
	}
	return parent, err
}

// adapt passes the chat events Discord shows on to emit.
func adapt(emit func(Event)) func(chat.Event) {
	return func(e chat.Event) {
		if de, ok := fromChatEvent(e); ok {
			emit(de)
		}
	}
}

// fromChatEvent translates one chat event; reasoning is not shown.
func fromChatEvent(e chat.Event) (Event, bool) {
	switch e.Kind {
	case chat.EventText:
		return Event{Kind: EventText, Text: e.Text}, true
	case chat.EventRestart:
		return Event{Kind: EventRestart, Text: e.Text}, true
	case chat.EventTool:
		if e.Tool == nil {
			return Event{}, false
		}
		return Event{Kind: EventTool, Text: e.Tool.Line, Output: e.Tool.Output}, true
	case chat.EventApproval:
		if e.Approval == nil {
			return Event{}, false
		}
		return Event{Kind: EventNotice, Text: "⏳ waiting for your 👍 or 👎 on approval request " + e.Approval.ID}, true
	case chat.EventNotice:
		return Event{Kind: EventNotice, Text: e.Text}, true
	case chat.EventReply:
		return Event{Kind: EventReply, Text: e.Text}, true
	case chat.EventError:
		return Event{Kind: EventError, Text: e.Text}, true
	case chat.EventDone:
		var st Stats
		if e.Stats != nil {
			st = Stats{Model: e.Stats.Model, TokensPerSecond: e.Stats.TokensPerSecond, ContextTokens: e.Stats.ContextTokens, ContextWindow: e.Stats.ContextWindow,
				MessageID: e.Stats.MessageID, AnswerID: e.Stats.AnswerID}
			if e.Stats.Summaries > 0 { // older messages are only summarised
				st.KeptMessages = e.Stats.RecentTurns
			}
		}
		return Event{Kind: EventDone, Stats: st}, true
	}
	return Event{}, false
}
