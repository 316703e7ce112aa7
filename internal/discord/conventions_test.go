package discord

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/maicompanion/mai/internal/discord/discordtest"
)

// botWith runs a bot over chat against a new fake; it returns the fake and
// the owner's DM channel.
func botWith(t *testing.T, chat *scriptChat) (*discordtest.Server, string) {
	t.Helper()
	fake := newFake(t, discordtest.Options{})
	startBot(t, fake, openDB(t, t.TempDir()), chat, Options{EditInterval: 100 * time.Millisecond})
	return fake, fake.DMChannel(ownerID)
}

func echoBot(t *testing.T) (*discordtest.Server, *scriptChat, string) {
	chat := &scriptChat{echo: true}
	fake, ch := botWith(t, chat)
	return fake, chat, ch
}

// ask sends a DM and waits until the bot's reply to it shows.
func ask(t *testing.T, fake *discordtest.Server, ch, text string) (sent, reply *discordgo.Message) {
	t.Helper()
	sent = fake.SendDM(ownerID, text)
	waitFor(t, "the answer to "+text, func() bool {
		for _, m := range fake.BotMessages(ch) {
			if m.Content == "re: "+text {
				reply = &m
				return true
			}
		}
		return false
	})
	return sent, reply
}

func TestRegenerateEditsTheReply(t *testing.T) {
	fake, chat, ch := echoBot(t)
	_, reply := ask(t, fake, ch, "question")
	fake.React(ownerID, ch, reply.ID, EmojiRegenerate)
	waitFor(t, "the answer again, in the same message", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].ID == reply.ID && m[0].Content == "re: /regenerate"
	})
	if got := chat.sent(); strings.Join(got, "|") != "question|/regenerate" {
		t.Fatalf("chat core got %q", got)
	}
}

func TestEditedDMIsAnsweredAgainInPlace(t *testing.T) {
	fake, chat, ch := echoBot(t)
	sent, reply := ask(t, fake, ch, "2+2?")
	fake.EditDM(ownerID, sent.ID, "3+3?")
	want := "-# ✏️ answered again: you edited your message\nre: 3+3?"
	waitFor(t, "the new answer in the old message", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].ID == reply.ID && m[0].Content == want
	})
	if got := chat.sent(); strings.Join(got, "|") != "2+2?|3+3?" || chat.forgot() != 1 {
		t.Fatalf("chat core got %q, forgot %d exchanges, want one", got, chat.forgot())
	}
}

func TestDeletedDMIsForgotten(t *testing.T) {
	fake, chat, ch := echoBot(t)
	first, firstReply := ask(t, fake, ch, "first")
	second, reply := ask(t, fake, ch, "second")
	fake.DeleteDM(ownerID, first.ID) // not the latest: forgotten too
	waitFor(t, "the first reply marked forgotten", func() bool {
		for _, m := range fake.BotMessages(ch) {
			if m.ID == firstReply.ID {
				return m.Content == "-# "+Forgotten
			}
		}
		return false
	})
	fake.EditDM(ownerID, first.ID, "changed") // gone already: nothing
	fake.DeleteDM(ownerID, second.ID)
	waitFor(t, "the reply marked forgotten", func() bool {
		for _, m := range fake.BotMessages(ch) {
			if m.ID == reply.ID {
				return m.Content == "-# "+Forgotten
			}
		}
		return false
	})
	time.Sleep(200 * time.Millisecond)
	chat.mu.Lock()
	forgets := append([]int64(nil), chat.forgets...)
	chat.mu.Unlock()
	// The script stores "first" as 1 (answer 2) and "second" as 3.
	if len(forgets) != 2 || forgets[0] != 1 || forgets[1] != 3 || len(chat.sent()) != 2 {
		t.Fatalf("forgot %v and got %q; want exchanges 1 and 3 forgotten once each", forgets, chat.sent())
	}
}

func TestReplyChainIsTheContext(t *testing.T) {
	chat := &scriptChat{echo: true, unstored: true}
	fake, ch := botWith(t, chat)
	_, first := ask(t, fake, ch, "first")
	ask(t, fake, ch, "second")
	goOn := fake.ReplyDM(ownerID, "go on", first.ID)
	waitFor(t, "the answer to the reply", func() bool { return len(chat.sent()) == 3 })
	fake.ReplyDM(ownerID, "and more", goOn.ID)
	waitFor(t, "the answer to the reply's reply", func() bool { return len(chat.sent()) == 4 })
	head := "[This replies to an earlier point of our conversation; continue from there.]\n"
	want := []string{
		head + "You (Mai) wrote:\n> re: first\n\ngo on",
		head + "You (Mai) wrote:\n> re: first\nI (the owner) wrote:\n> go on\n\nand more",
	}
	if got := chat.sent()[2:]; got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("chat core got\n%q\nwant\n%q", got, want)
	}
	// The second hop came from the API: Discord nests one referenced message only.
	if n := countRoute(fake.Calls(), "GET /channels/{id}/messages/{m}"); n != 1 {
		t.Fatalf("%d message fetches, want 1", n)
	}
}

// The bot holds only its recent replies; an older one is found in the
// database when the owner deletes its DM.
func TestOnlyRecentRepliesAreHeld(t *testing.T) {
	chat := &scriptChat{echo: true}
	many := discordtest.Limit{Requests: 200, Window: 5 * time.Second} // forty answers quickly
	fake := newFake(t, discordtest.Options{Limits: map[string]discordtest.Limit{
		"POST /channels/{id}/messages": many, "PATCH /channels/{id}/messages/{m}": many, "POST /channels/{id}/typing": many,
	}})
	b := startBot(t, fake, openDB(t, t.TempDir()), chat, Options{EditInterval: 100 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	first, firstReply := ask(t, fake, ch, "q0")
	for i := 1; i < 40; i++ {
		ask(t, fake, ch, "q"+strconv.Itoa(i))
	}
	waitFor(t, "40 finished replies", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.done) == 32 && b.busy == 0
	})
	b.mu.Lock()
	replies, asked := len(b.replies), len(b.asked)
	b.mu.Unlock()
	if replies != 32 || asked != 32 {
		t.Fatalf("the bot holds %d replies' messages and %d DMs after 40 answers; want the last 32", replies, asked)
	}
	fake.DeleteDM(ownerID, first.ID)
	waitFor(t, "the first reply marked forgotten", func() bool {
		for _, m := range fake.BotMessages(ch) {
			if m.ID == firstReply.ID {
				return m.Content == "-# "+Forgotten
			}
		}
		return false
	})
	chat.mu.Lock()
	defer chat.mu.Unlock()
	if len(chat.forgets) != 1 || chat.forgets[0] != 1 {
		t.Fatalf("forgot %v, want the first exchange (stored as 1)", chat.forgets)
	}
}
