package discord

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/memory"
)

// Memory is the memory search behind /memory search (memory.Store).
type Memory interface {
	Recall(ctx context.Context, user, query string, k int) ([]memory.Recollection, error)
}

// SetMemory connects the store /memory search reads.
func (b *Bot) SetMemory(m Memory) { b.memory = m }

// commandTimeout bounds a slash command's work; Discord keeps a deferred
// interaction's token for 15 minutes.
const commandTimeout = 5 * time.Minute

func boolPtr(b bool) *bool { return &b }

// Commands are the slash commands Mai registers globally, usable in DMs.
func Commands() []*discordgo.ApplicationCommand {
	str := func(name, desc string, required bool) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: name, Description: desc, Required: required}
	}
	dm := boolPtr(true)
	return []*discordgo.ApplicationCommand{
		{Name: "status", Description: "Mai's state: models, VRAM, memory", DMPermission: dm},
		{Name: "models", Description: "the installed models and the one in use", DMPermission: dm},
		{Name: "switch", Description: "pin a model for the next answers", DMPermission: dm,
			Options: []*discordgo.ApplicationCommandOption{str("model", "backend:model, as /models lists them", true)}},
		{Name: "forget", Description: "forget this conversation, the last exchange (last), a fact (fact N) or everything (all)", DMPermission: dm,
			Options: []*discordgo.ApplicationCommandOption{str("what", "nothing for this conversation, last, fact N, or all", false)}},
		{Name: "memory", Description: "search what Mai remembers", DMPermission: dm,
			Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionSubCommand, Name: "search", Description: "search by words and meaning",
				Options: []*discordgo.ApplicationCommandOption{str("query", "what to look for", true)}}}},
		{Name: "approvals", Description: "the approval requests waiting for you", DMPermission: dm},
	}
}

// registerCommands replaces the application's global commands with ours.
func (b *Bot) registerCommands(ctx context.Context) error {
	appID := ""
	if b.s.State != nil && b.s.State.Application != nil {
		appID = b.s.State.Application.ID
	}
	if appID == "" {
		appID = b.botID()
	}
	if _, err := b.s.ApplicationCommandBulkOverwrite(appID, "", Commands(), discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("discord slash commands: %w", err)
	}
	return nil
}

// onInteraction serves the owner's slash commands: it defers at once (the
// answer may take longer than Discord's 3 seconds), then edits the
// response with the result. Anyone else gets a short private refusal.
func (b *Bot) onInteraction(ctx context.Context, i *discordgo.InteractionCreate) {
	if i.Type != discordgo.InteractionApplicationCommand {
		return
	}
	user := i.User
	if i.Member != nil {
		user = i.Member.User
	}
	if user == nil || user.ID != b.o.Owner {
		if user != nil {
			b.o.Log.Info().Str("user_id", user.ID).Msg("discord: a slash command from someone who is not the owner; refused")
		}
		b.s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: Refusal, Flags: discordgo.MessageFlagsEphemeral}}, discordgo.WithContext(ctx))
		return
	}
	if err := b.s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}, discordgo.WithContext(ctx)); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: defer a slash command")
		return
	}
	go func() {
		cctx, cancel := context.WithTimeout(ctx, commandTimeout)
		defer cancel()
		text := b.runCommand(cctx, i.ApplicationCommandData())
		parts := Split(text, MaxMessage)
		if len(parts) == 0 {
			parts = []string{"(nothing)"}
		}
		if _, err := b.s.InteractionResponseEdit(i.Interaction, &discordgo.WebhookEdit{Content: &parts[0]}, discordgo.WithContext(cctx)); err != nil {
			b.o.Log.Error().Err(err).Msg("discord: answer a slash command")
		}
		for _, p := range parts[1:] {
			if _, err := b.s.FollowupMessageCreate(i.Interaction, true, &discordgo.WebhookParams{Content: p}, discordgo.WithContext(cctx)); err != nil {
				b.o.Log.Error().Err(err).Msg("discord: continue a slash command's answer")
				return
			}
		}
	}()
}

// runCommand runs one slash command and returns its answer.
func (b *Bot) runCommand(ctx context.Context, d discordgo.ApplicationCommandInteractionData) string {
	opt := func(opts []*discordgo.ApplicationCommandInteractionDataOption, name string) string {
		for _, o := range opts {
			if o.Name == name {
				return o.StringValue()
			}
		}
		return ""
	}
	switch d.Name {
	case "approvals":
		return b.pendingApprovals(ctx)
	case "memory":
		if len(d.Options) == 1 && d.Options[0].Name == "search" {
			return b.searchMemory(ctx, opt(d.Options[0].Options, "query"))
		}
		return "usage: /memory search query"
	case "switch":
		return b.chatCommand(ctx, "/switch "+opt(d.Options, "model"))
	case "forget":
		return b.chatCommand(ctx, strings.TrimSpace("/forget "+opt(d.Options, "what")))
	case "status", "models":
		return b.chatCommand(ctx, "/"+d.Name)
	}
	return "unknown command /" + d.Name
}

// chatCommand runs a typed command through the chat core and collects
// what it says.
func (b *Bot) chatCommand(ctx context.Context, text string) string {
	if b.chat == nil {
		return ChatOff
	}
	var out strings.Builder
	err := b.chat.Send(ctx, b.o.Owner, Prompt{Text: text}, func(e Event) {
		switch e.Kind {
		case EventReply, EventText:
			out.WriteString(e.Text)
		case EventNotice, EventError:
			fmt.Fprintf(&out, "%s\n", e.Text)
		}
	})
	if err != nil && out.Len() == 0 {
		return "⚠️ " + err.Error()
	}
	if out.Len() == 0 {
		return "(done)"
	}
	return strings.TrimSpace(out.String())
}

func (b *Bot) pendingApprovals(ctx context.Context) string {
	if b.approvals.svc == nil {
		return "approvals are not available in this process"
	}
	reqs, err := b.approvals.svc.List(ctx, approval.Pending)
	if err != nil {
		return "⚠️ " + err.Error()
	}
	if len(reqs) == 0 {
		return "No approval request is waiting."
	}
	var out strings.Builder
	for _, r := range reqs {
		level := "?"
		if r.Verdict != nil {
			level = r.Verdict.Level.String()
		}
		fmt.Fprintf(&out, "• `%s` %s — %s, expires <t:%d:R>\n", r.ID, level, oneLine(r.Summary), r.Expires.Unix())
	}
	return out.String()
}

func (b *Bot) searchMemory(ctx context.Context, query string) string {
	if b.memory == nil {
		return "memory search is not available in this process"
	}
	hits, err := b.memory.Recall(ctx, b.o.Owner, query, 5)
	if err != nil {
		return "⚠️ " + err.Error()
	}
	if len(hits) == 0 {
		return "Nothing found for “" + query + "”."
	}
	var out strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&out, "• %s (%s): %s\n", h.Time.UTC().Format("2006-01-02"), h.Kind, truncate(oneLine(h.Content), 300))
	}
	return out.String()
}
