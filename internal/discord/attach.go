package discord

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/maicompanion/mai/internal/risk"
)

// MaxCodeFile is the largest code file a DM may bring to be judged or run.
const MaxCodeFile = 16 << 10

// EmojiRun on a verdict for a code file runs that file.
const EmojiRun = "▶️"

// maxShownFindings bounds the findings a verdict lists.
const maxShownFindings = 5

// prepareAttachments fetches the files of a DM, off the gateway's handler
// while the DM waits for its turn, and returns what its turn does with
// them: images go to the chat core with the text (which gives them to a
// model that can see, or says that none is installed); a code file is
// run when the text is /run, else judged, with ▶️ to run it. Text besides
// a file is answered with the file's code after it. A file that cannot be
// fetched is said at the DM's turn too.
func (b *Bot) prepareAttachments(ctx context.Context, m *discordgo.Message) func(context.Context) {
	text := strings.TrimSpace(m.Content)
	var file *discordgo.MessageAttachment
	var images []Image
	var problems []string
	for _, a := range m.Attachments {
		if isImage(a) {
			im, err := b.downloadImage(ctx, a)
			if err != nil {
				problems = append(problems, "⚠️ "+err.Error())
				continue
			}
			images = append(images, im)
			continue
		}
		if file == nil {
			file = a
		}
	}
	var code []byte
	if file != nil {
		var err error
		if code, err = b.download(ctx, file); err != nil {
			problems = append(problems, "⚠️ "+err.Error())
		}
	}
	return func(ctx context.Context) {
		for _, p := range problems {
			b.say(ctx, m.ChannelID, p)
		}
		switch {
		case file == nil:
			if text != "" || len(images) > 0 {
				b.answerDM(ctx, m, images)
			}
		case code != nil:
			b.answerFile(ctx, m, file.Filename, code)
		}
	}
}

// answerFile judges or runs the code file name that DM m brought.
func (b *Bot) answerFile(ctx context.Context, m *discordgo.Message, name string, code []byte) {
	text := strings.TrimSpace(m.Content)
	v := risk.Analyzer{}.Analyze(ctx, "", name, code)
	block := "```" + string(v.Lang) + "\n" + strings.TrimRight(string(code), "\n") + "\n```"
	if text == "/run" {
		b.answer(ctx, m.ChannelID, "/run\n"+block)
		return
	}
	ref, err := b.out.Send(ctx, m.ChannelID, Message{Content: verdictText(name, v)})
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: queue a verdict")
		return
	}
	if err := b.saveOffer(ctx, ref, m.ChannelID, string(v.Lang), code); err != nil {
		b.say(ctx, m.ChannelID, "⚠️ "+err.Error()+"; send the file with /run to run it")
		return
	}
	if err := b.out.React(ctx, m.ChannelID, ref, "", EmojiRun); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: queue a reaction")
	}
	if text != "" {
		b.answer(ctx, m.ChannelID, m.Content+"\n\n"+block)
	}
}

// say sends one line that is not an answer.
func (b *Bot) say(ctx context.Context, channel, text string) {
	if _, err := b.out.Send(ctx, channel, Message{Content: text}); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: queue a message")
	}
}

// isImage tells an image by its content type or, lacking one, its name.
func isImage(a *discordgo.MessageAttachment) bool {
	if a.ContentType != "" {
		return strings.HasPrefix(a.ContentType, "image/")
	}
	switch strings.ToLower(path.Ext(a.Filename)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp":
		return true
	}
	return false
}

// download fetches a code file: at most MaxCodeFile bytes of UTF-8 text.
func (b *Bot) download(ctx context.Context, a *discordgo.MessageAttachment) ([]byte, error) {
	tooBig := fmt.Errorf("%s is larger than %d KiB, the most Mai takes as a code file; paste the part that matters", a.Filename, MaxCodeFile>>10)
	data, _, err := b.fetch(ctx, a, MaxCodeFile, tooBig)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("%s is not a text file; Mai runs and judges source code only", a.Filename)
	}
	return data, nil
}

// fetch downloads an attachment of at most limit bytes (tooBig when it is
// larger) and returns it with the content type it was served with.
func (b *Bot) fetch(ctx context.Context, a *discordgo.MessageAttachment, limit int, tooBig error) ([]byte, string, error) {
	if a.Size > limit {
		return nil, "", tooBig
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("fetching %s: %w", a.Filename, err)
	}
	client := b.s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("fetching %s: %w", a.Filename, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetching %s: Discord answered %s", a.Filename, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, "", fmt.Errorf("fetching %s: %w", a.Filename, err)
	}
	if len(data) > limit {
		return nil, "", tooBig
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// verdictText says what the risk analyser makes of a code file.
func verdictText(name string, v risk.Verdict) string {
	lang := string(v.Lang)
	if lang == "" {
		lang = "an unknown language"
	}
	var s strings.Builder
	fmt.Fprintf(&s, "📎 `%s`: %s, risk **%s**\n", name, lang, v.Level)
	for i, f := range v.Findings {
		if i == maxShownFindings {
			fmt.Fprintf(&s, "- and %d more\n", len(v.Findings)-i)
			break
		}
		fmt.Fprintf(&s, "- line %d: %s\n", f.Line, oneLine(f.Reason))
	}
	s.WriteString("React " + EmojiRun + " to run it in the sandbox")
	if v.Level >= risk.High {
		s.WriteString("; being HIGH, it will still ask for your approval")
	}
	return s.String()
}
