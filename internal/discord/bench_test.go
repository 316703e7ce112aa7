package discord

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/discord/discordtest"
)

const benchPrompt = "tell me about tortoises"

func percentileMS(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(float64(len(s)-1)*p)]) / float64(time.Millisecond)
}

// BenchmarkFirstVisibleText measures the time from a DM to the first text
// shown in Discord (the fake's record of the message's creation) against
// the chat core's own first token on the same prompt, with the same real
// tiny Ollama model; the goal is at most one edit interval more.
func BenchmarkFirstVisibleText(b *testing.B) {
	fake := newFake(b, discordtest.Options{})
	db := openDB(b, b.TempDir())
	core, _ := ollamaCore(b, db, 0)
	interval := 1200 * time.Millisecond
	bot := startBot(b, fake, db, FromCore(core), Options{EditInterval: interval})
	ch := fake.DMChannel(ownerID)
	ctx := context.Background()
	direct := func() time.Duration {
		start := time.Now()
		var first time.Duration
		if err := core.Send(ctx, chat.Message{User: "bench-direct", Text: benchPrompt}, func(e chat.Event) {
			if e.Kind == chat.EventText && first == 0 {
				first = time.Since(start)
			}
		}); err != nil {
			b.Fatal(err)
		}
		return first
	}
	viaDiscord := func() time.Duration {
		n := len(fake.BotMessages(ch))
		start := time.Now()
		fake.SendDM(ownerID, benchPrompt)
		waitFor(b, "the reply", func() bool { return len(fake.BotMessages(ch)) > n && replyDone(db) })
		flush(b, bot.Outbox(), 30*time.Second)
		return fake.BotMessages(ch)[n].Timestamp.Sub(start)
	}
	direct()
	viaDiscord() // warm both paths: the model is loaded once
	var core1, disc []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N || i < 10; i++ {
		if i%2 == 0 {
			core1 = append(core1, direct())
			disc = append(disc, viaDiscord())
		} else {
			disc = append(disc, viaDiscord())
			core1 = append(core1, direct())
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(percentileMS(disc, 0.5), "discord-first-text-p50-ms")
	b.ReportMetric(percentileMS(core1, 0.5), "model-first-token-p50-ms")
	b.ReportMetric(percentileMS(disc, 0.5)-percentileMS(core1, 0.5), "overhead-p50-ms")
	b.ReportMetric(float64(interval.Milliseconds()), "edit-interval-ms")
	b.ReportMetric(float64(fake.RateLimited()), "429s")
}

// BenchmarkEditsPerSecond streams a paced real answer (like a GPU at 20
// tokens/s) and reports how often the message was edited and the 429s.
func BenchmarkEditsPerSecond(b *testing.B) {
	fake := newFake(b, discordtest.Options{})
	db := openDB(b, b.TempDir())
	core, _ := ollamaCore(b, db, 50*time.Millisecond)
	bot := startBot(b, fake, db, FromCore(core), Options{})
	ch := fake.DMChannel(ownerID)
	var edits int
	var spent time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := countRoute(fake.Calls(), "PATCH /channels/{id}/messages/{m}")
		n := len(fake.BotMessages(ch))
		start := time.Now()
		fake.SendDM(ownerID, benchPrompt)
		waitFor(b, "the reply", func() bool { return len(fake.BotMessages(ch)) > n && replyDone(db) })
		flush(b, bot.Outbox(), 30*time.Second)
		spent += time.Since(start)
		edits += countRoute(fake.Calls(), "PATCH /channels/{id}/messages/{m}") - before
	}
	b.ReportMetric(float64(edits)/spent.Seconds(), "edits/s")
	b.ReportMetric(float64(fake.RateLimited()), "429s")
}
