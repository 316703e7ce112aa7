package discord

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/memory"
)

// echoChat answers a command with a reply naming it.
type echoChat struct{ scriptChat }

func (c *echoChat) Send(ctx context.Context, user string, p Prompt, emit func(Event)) error {
	text := p.Text
	c.mu.Lock()
	c.texts = append(c.texts, text)
	c.mu.Unlock()
	emit(Event{Kind: EventReply, Text: "core ran " + text})
	return nil
}

// answerOf returns the final content of an interaction's deferred answer.
func answerOf(t *testing.T, fake *discordtest.Server, id string) (deferred bool, content string) {
	t.Helper()
	for _, c := range fake.InteractionCalls(id) {
		var body struct {
			Type    int     `json:"type"`
			Content *string `json:"content"`
			Data    *struct {
				Content string `json:"content"`
				Flags   int    `json:"flags"`
			} `json:"data"`
		}
		json.Unmarshal(c.Body, &body)
		switch {
		case strings.HasSuffix(c.Route, "/callback") && body.Type == int(discordgo.InteractionResponseDeferredChannelMessageWithSource):
			deferred = true
		case strings.HasSuffix(c.Route, "/callback") && body.Data != nil:
			content = body.Data.Content
		case body.Content != nil:
			content = *body.Content
		}
	}
	return deferred, content
}

func TestSlashCommands(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	dir := t.TempDir()
	db := openDB(t, dir)
	mem := memory.New(db, memory.Options{})
	ctx := context.Background()
	conv, err := mem.StartConversation(ctx, ownerID, "discord")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Append(ctx, memory.Message{ConversationID: conv, User: ownerID, Role: memory.RoleUser, Content: "my passport is in the blue drawer"}); err != nil {
		t.Fatal(err)
	}
	chat := &echoChat{}
	b := startBot(t, fake, db, chat, Options{})
	b.SetMemory(mem)
	waitFor(t, "the commands to be registered", func() bool { return len(fake.Commands()) == len(Commands()) })
	for _, c := range fake.Commands() {
		if c.DMPermission == nil || !*c.DMPermission {
			t.Errorf("/%s is not usable in DMs", c.Name)
		}
	}
	str := func(name, v string) *discordgo.ApplicationCommandInteractionDataOption {
		return &discordgo.ApplicationCommandInteractionDataOption{Name: name, Type: discordgo.ApplicationCommandOptionString, Value: v}
	}
	cases := []struct {
		name string
		opts []*discordgo.ApplicationCommandInteractionDataOption
		want string
	}{
		{"status", nil, "core ran /status"},
		{"models", nil, "core ran /models"},
		{"switch", []*discordgo.ApplicationCommandInteractionDataOption{str("model", "ollama:tiny")}, "core ran /switch ollama:tiny"},
		{"forget", nil, "core ran /forget"},
		{"forget", []*discordgo.ApplicationCommandInteractionDataOption{str("what", "fact 3")}, "core ran /forget fact 3"},
		{"memory", []*discordgo.ApplicationCommandInteractionDataOption{{Name: "search", Type: discordgo.ApplicationCommandOptionSubCommand,
			Options: []*discordgo.ApplicationCommandInteractionDataOption{str("query", "passport")}}}, "blue drawer"},
		{"approvals", nil, "approvals are not available in this process"},
	}
	for _, c := range cases {
		id := fake.Interact(ownerID, c.name, c.opts...)
		waitFor(t, "the answer to /"+c.name, func() bool { _, got := answerOf(t, fake, id); return got != "" })
		deferred, got := answerOf(t, fake, id)
		if !deferred || !strings.Contains(got, c.want) {
			t.Errorf("/%s: deferred %v, answer %q; want it deferred and containing %q", c.name, deferred, got, c.want)
		}
	}
	// Anyone else gets the refusal, privately, and the core hears nothing.
	before := len(chat.sent())
	id := fake.Interact("200000000000000002", "status")
	waitFor(t, "the refusal", func() bool { _, got := answerOf(t, fake, id); return got != "" })
	if deferred, got := answerOf(t, fake, id); deferred || got != Refusal || len(chat.sent()) != before {
		t.Fatalf("stranger's /status: deferred %v, answer %q, core calls %d→%d", deferred, got, before, len(chat.sent()))
	}
}
