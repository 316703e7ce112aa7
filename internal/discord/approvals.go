package discord

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/risk"
)

// Approvals is the part of the approval service the front end uses.
type Approvals interface {
	Decide(ctx context.Context, id string, d approval.Decision) (approval.Request, error)
	List(ctx context.Context, state approval.State) ([]approval.Request, error)
	Get(ctx context.Context, id string) (approval.Request, error)
}

// syncEvery is how often requests made or decided by other processes (mai
// sandbox run, mai approvals) are brought into the DM.
const syncEvery = 3 * time.Second

// Reactions that decide an approval request.
const (
	EmojiApprove = "👍"
	EmojiDeny    = "👎"
)

// maxExcerpt bounds the code shown in the embed; the whole payload is the
// attached file.
const maxExcerpt = 1500

// Colours of approval embeds.
var levelColour = map[risk.Level]int{risk.Low: 0x2ecc71, risk.Medium: 0xf1c40f, risk.High: 0xe67e22, risk.Blocked: 0xe74c3c}

var stateColour = map[approval.State]int{approval.Approved: 0x2ecc71, approval.Denied: 0xe74c3c}

// approvalView shows approval requests in the owner's DM and turns the
// owner's 👍/👎 into decisions. It implements approval.Listener.
type approvalView struct {
	b   *Bot
	svc Approvals
}

var _ approval.Listener = (*approvalView)(nil)

// Listener returns the bot's approval.Listener, to give approval.New.
func (b *Bot) Listener() approval.Listener { return b.approvals }

// SetApprovals connects the service the owner's reactions decide with.
func (b *Bot) SetApprovals(svc Approvals) { b.approvals.svc = svc }

// ownerChannel returns the DM channel with the owner, asking Discord once.
func (b *Bot) ownerChannel(ctx context.Context) (string, error) {
	b.mu.Lock()
	dm := b.dm
	b.mu.Unlock()
	if dm != "" {
		return dm, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ch, err := b.s.UserChannelCreate(b.o.Owner, discordgo.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("discord: the owner's DM channel: %w", err)
	}
	b.mu.Lock()
	b.dm = ch.ID
	b.mu.Unlock()
	return ch.ID, nil
}

// Requested posts the request as an embed with its payload attached, and
// adds 👍 and 👎 for the owner to click.
func (v *approvalView) Requested(ctx context.Context, r approval.Request) {
	if err := v.announce(context.WithoutCancel(ctx), r); err != nil {
		v.b.o.Log.Error().Err(err).Str("approval", r.ID).Msg("discord: announce an approval request")
	}
}

func (v *approvalView) announce(ctx context.Context, r approval.Request) error {
	// Claim the request first, so that a request announced by the listener
	// and by the re-announcement after a start is posted once.
	res, err := v.b.db.ExecContext(ctx, `INSERT INTO discord_approvals (approval_id, payload_sha256) VALUES (?, ?)
		ON CONFLICT (approval_id) DO NOTHING`, r.ID, r.PayloadSHA256)
	if err != nil {
		return fmt.Errorf("discord approvals: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	ch, err := v.b.ownerChannel(ctx)
	if err == nil {
		err = v.post(ctx, ch, r)
	}
	if err != nil {
		// Unclaim, so that the next start posts it.
		v.b.db.ExecContext(ctx, `DELETE FROM discord_approvals WHERE approval_id = ? AND ref IS NULL`, r.ID)
	}
	return err
}

func (v *approvalView) post(ctx context.Context, ch string, r approval.Request) error {
	ref, err := v.b.out.Send(ctx, ch, Message{Embeds: []*discordgo.MessageEmbed{embed(r)}, Files: []File{{Name: payloadName(r), Data: r.Payload}}})
	if err != nil {
		return err
	}
	if _, err := v.b.db.ExecContext(ctx, `UPDATE discord_approvals SET ref = ? WHERE approval_id = ?`, ref, r.ID); err != nil {
		return fmt.Errorf("discord approvals: %w", err)
	}
	for _, e := range []string{EmojiApprove, EmojiDeny} {
		if err := v.b.out.React(ctx, ch, ref, "", e); err != nil {
			return err
		}
	}
	return nil
}

// Reminded posts a short reminder pointing at the request.
func (v *approvalView) Reminded(ctx context.Context, r approval.Request) {
	ch, err := v.b.ownerChannel(ctx)
	if err == nil {
		_, err = v.b.out.Send(context.WithoutCancel(ctx), ch, Message{Content: fmt.Sprintf("⏰ Still waiting for your 👍 or 👎: %s (request %s, expires <t:%d:R>).", oneLine(r.Summary), r.ID, r.Expires.Unix())})
	}
	if err != nil {
		v.b.o.Log.Error().Err(err).Msg("discord: approval reminder")
	}
}

// Decided edits the request's embed to show its final state.
func (v *approvalView) Decided(ctx context.Context, r approval.Request) {
	ctx = context.WithoutCancel(ctx)
	var ref Ref
	err := v.b.db.QueryRowContext(ctx, `SELECT ref FROM discord_approvals WHERE approval_id = ? AND ref IS NOT NULL`, r.ID).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return
	}
	if err == nil {
		err = v.b.out.Edit(ctx, ref, Message{Embeds: []*discordgo.MessageEmbed{embed(r)}})
	}
	if err == nil {
		_, err = v.b.db.ExecContext(ctx, `UPDATE discord_approvals SET shown_state = ? WHERE approval_id = ?`, string(r.State), r.ID)
	}
	if err != nil {
		v.b.o.Log.Error().Err(err).Msg("discord: show an approval decision")
	}
}

// sync posts pending requests not shown yet and edits shown ones that were
// decided elsewhere: the listener hears only this process's changes.
func (v *approvalView) sync(ctx context.Context) error {
	if err := v.reannounce(ctx); err != nil {
		return err
	}
	rows, err := v.b.db.QueryContext(ctx, `SELECT approval_id FROM discord_approvals WHERE shown_state = 'pending' AND ref IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("discord approvals: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("discord approvals: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		r, err := v.svc.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("discord approvals: %w", err)
		}
		if r.State != approval.Pending {
			v.Decided(ctx, r)
		}
	}
	return nil
}

// syncLoop runs sync every syncEvery until ctx ends.
func (v *approvalView) syncLoop(ctx context.Context) {
	if v.svc == nil {
		return
	}
	t := time.NewTicker(syncEvery)
	defer t.Stop()
	for {
		if err := v.sync(ctx); err != nil && ctx.Err() == nil {
			v.b.o.Log.Warn().Err(err).Msg("discord: approval requests")
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// reannounce posts the pending requests that have no message yet (made
// while Discord was off, or before a restart).
func (v *approvalView) reannounce(ctx context.Context) error {
	if v.svc == nil {
		return nil
	}
	pending, err := v.svc.List(ctx, approval.Pending)
	if err != nil {
		return fmt.Errorf("discord approvals: %w", err)
	}
	for _, r := range pending {
		if err := v.announce(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// react decides the request shown by the reacted message, if any; it
// reports whether the message was an approval request. Every user's
// reaction goes to Decide, which refuses (and audits) anyone but the owner.
func (v *approvalView) react(ctx context.Context, ref Ref, r *discordgo.MessageReaction) (bool, error) {
	var id, hash string
	err := v.b.db.QueryRowContext(ctx, `SELECT approval_id, payload_sha256 FROM discord_approvals WHERE ref = ?`, ref).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("discord approvals: %w", err)
	}
	if v.svc == nil || (r.Emoji.Name != EmojiApprove && r.Emoji.Name != EmojiDeny) {
		return true, nil
	}
	_, err = v.svc.Decide(ctx, id, approval.Decision{
		Approve: r.Emoji.Name == EmojiApprove, By: "discord:" + r.UserID, Via: approval.ViaDiscord, PayloadSHA256: hash,
	})
	return true, err
}

// embed renders a request: title, risk as colour, an excerpt of the
// payload, findings, expiry and the payload's SHA-256.
func embed(r approval.Request) *discordgo.MessageEmbed {
	e := &discordgo.MessageEmbed{
		Title:     truncate(stateTitle(r)+": "+oneLine(r.Summary), 256),
		Color:     0x95a5a6,
		Timestamp: r.Created.UTC().Format(time.RFC3339),
	}
	level := "not analysed"
	if r.Verdict != nil {
		level = r.Verdict.Level.String()
		e.Color = levelColour[r.Verdict.Level]
	}
	if c, ok := stateColour[r.State]; ok {
		e.Color = c
	} else if r.State != approval.Pending {
		e.Color = 0x95a5a6
	}
	e.Description = "```" + fenceLang(r) + "\n" + excerpt(string(r.Payload)) + "\n```"
	e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "Risk", Value: level, Inline: true},
		&discordgo.MessageEmbedField{Name: "Kind", Value: string(r.Kind), Inline: true},
		&discordgo.MessageEmbedField{Name: "Expires", Value: fmt.Sprintf("<t:%d:R>", r.Expires.Unix()), Inline: true})
	if r.Verdict != nil && len(r.Verdict.Findings) > 0 {
		var lines []string
		for i, f := range r.Verdict.Findings {
			if i == 8 {
				lines = append(lines, fmt.Sprintf("… and %d more", len(r.Verdict.Findings)-i))
				break
			}
			lines = append(lines, fmt.Sprintf("%s line %d: %s", f.Level, f.Line, oneLine(f.Reason)))
		}
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "Findings", Value: truncate(strings.Join(lines, "\n"), 1024)})
	}
	if len(r.Review) > 0 {
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "Review", Value: truncate(string(r.Review), 1024)})
	}
	if len(r.Checks) > 0 {
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "Checks", Value: truncate(string(r.Checks), 1024)})
	}
	e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "Payload SHA-256", Value: "`" + r.PayloadSHA256 + "`"})
	footer := "React 👍 to approve or 👎 to deny. The attached file is exactly what runs."
	if r.State != approval.Pending {
		footer = "Decided"
		if r.DecidedBy != "" {
			footer += " by " + r.DecidedBy
		}
	}
	e.Footer = &discordgo.MessageEmbedFooter{Text: footer}
	return e
}

func stateTitle(r approval.Request) string {
	switch r.State {
	case approval.Approved:
		return "✅ Approved"
	case approval.Denied:
		return "❌ Denied"
	case approval.Expired:
		return "⌛ Expired"
	case approval.Superseded:
		return "↪️ Superseded"
	case approval.Withdrawn:
		return "Withdrawn"
	}
	return "Approval needed"
}

func fenceLang(r approval.Request) string {
	if r.Verdict != nil && r.Verdict.Lang != "" {
		return strings.ToLower(string(r.Verdict.Lang))
	}
	if r.Kind == approval.KindSelfMod {
		return "diff"
	}
	return ""
}

func payloadName(r approval.Request) string {
	switch fenceLang(r) {
	case "python":
		return "payload-" + r.ID + ".py"
	case "bash", "sh", "shell":
		return "payload-" + r.ID + ".sh"
	case "diff":
		return "payload-" + r.ID + ".diff"
	}
	return "payload-" + r.ID + ".txt"
}

// excerpt is the start of the payload, cut at a line within maxExcerpt,
// with backticks that would end the fence defused.
func excerpt(p string) string {
	p = strings.ReplaceAll(p, "```", "`\u200b``")
	if len([]rune(p)) <= maxExcerpt {
		return p
	}
	parts := Split(p, maxExcerpt)
	return strings.TrimRight(parts[0], "\n") + "\n… (the whole payload is attached)"
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
