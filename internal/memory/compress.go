package memory

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// The ages at which history is compressed. A unit (a conversation-day or
// -week, in UTC) moves to a tier once the whole unit is at least that old.
const (
	KeyPointsAge = 7 * 24 * time.Hour  // a conversation-day becomes key points
	CondenseAge  = 30 * 24 * time.Hour // a conversation-week becomes one condensed summary
	ArchiveAge   = 90 * 24 * time.Hour // a conversation-day's originals move to the archive
)

const day = 24 * time.Hour

// Tiers of the compression pass, as steps report them.
const (
	TierKeyPoints = "keypoints"
	TierCondensed = "condensed"
	TierArchive   = "archive"
)

// CompressOptions adjusts one compression pass.
type CompressOptions struct {
	// DryRun reports what the pass would do and changes nothing.
	DryRun bool
	// AfterStep is called after each committed step; an error stops the
	// pass there (tests use it to interrupt a pass).
	AfterStep func(Step) error
}

// Step is one unit of work: one conversation-day or -week moved to a tier.
type Step struct {
	Tier         string `json:"tier"`
	Conversation int64  `json:"conversation"`
	Period       string `json:"period"` // the day, or the week's Monday
	Messages     int    `json:"messages"`
}

// CompressReport says what a pass did (or, dry, would do). Hot bytes are
// the text of messages and summaries; archive bytes are compressed blobs.
type CompressReport struct {
	DryRun             bool   `json:"dry_run"`
	KeyPoints          int    `json:"key_points"`
	Condensed          int    `json:"condensed"`
	Archived           int    `json:"archived"`
	ArchivedMessages   int    `json:"archived_messages"`
	HotBytesBefore     int64  `json:"hot_bytes_before"`
	HotBytesAfter      int64  `json:"hot_bytes_after"`
	ArchiveBytesBefore int64  `json:"archive_bytes_before"`
	ArchiveBytesAfter  int64  `json:"archive_bytes_after"`
	Steps              []Step `json:"steps"`
}

// unit is a conversation-day with the messages it holds.
type unit struct {
	conversation int64
	user         string
	day          int64 // days since the Unix epoch, UTC
	messages     int
}

func dayString(d int64) string { return time.Unix(d*86400, 0).UTC().Format(time.DateOnly) }

// weekOf returns the day number of the Monday starting d's ISO week.
func weekOf(d int64) int64 {
	// 1970-01-01 was a Thursday: (d+3) mod 7 is days since Monday.
	return d - (d+3)%7
}

// Compress runs the compression pass. Every step is one transaction whose
// existence check makes it idempotent, so a pass killed anywhere leaves the
// database consistent and the next pass finishes the job with nothing lost
// or duplicated.
func (s *Store) Compress(ctx context.Context, o CompressOptions) (CompressReport, error) {
	p := &compressPass{s: s, o: o, r: CompressReport{DryRun: o.DryRun}}
	var err error
	if p.r.HotBytesBefore, p.r.ArchiveBytesBefore, err = s.bytes(ctx); err != nil {
		return p.r, err
	}
	now := s.now().UTC()
	cut := func(age time.Duration) int64 { return now.Add(-age).Unix() / 86400 } // first day number too young
	p.condCut = cut(CondenseAge)
	if p.existing, err = s.summaryPeriods(ctx); err != nil {
		return p.r, err
	}
	units, err := s.units(ctx, cut(KeyPointsAge), false)
	if err != nil {
		return p.r, err
	}
	if err := p.keyPoints(ctx, units); err != nil {
		return p.r, err
	}
	if err := p.condense(ctx, units); err != nil {
		return p.r, err
	}
	if err := p.archive(ctx, cut(ArchiveAge)); err != nil {
		return p.r, err
	}
	if o.DryRun {
		// Summaries are not written in a dry run, so only the move to the
		// archive is estimated (at the 4× gzip usually achieves).
		p.r.HotBytesAfter = p.r.HotBytesBefore - p.movedRaw
		p.r.ArchiveBytesAfter = p.r.ArchiveBytesBefore + p.movedRaw/4
		return p.r, nil
	}
	if p.r.HotBytesAfter, p.r.ArchiveBytesAfter, err = s.bytes(ctx); err != nil {
		return p.r, err
	}
	s.cache.clear()
	return p.r, nil
}

// compressPass is one run of Compress: its options, what it found, and its
// report so far.
type compressPass struct {
	s        *Store
	o        CompressOptions
	r        CompressReport
	condCut  int64 // the first day number too young for a condensed week
	existing map[periodKey]bool
	movedRaw int64 // dry run: text bytes the archive step would move
}

// done records a committed step and lets AfterStep interrupt the pass.
func (p *compressPass) done(st Step) error {
	p.r.Steps = append(p.r.Steps, st)
	if p.o.AfterStep != nil {
		return p.o.AfterStep(st)
	}
	return nil
}

// keyPoints summarises days old enough whose week is not yet condensable
// (a condensable week's days go straight to the condensed summary).
func (p *compressPass) keyPoints(ctx context.Context, units []unit) error {
	for _, u := range units {
		wk := weekOf(u.day)
		if wk+7 <= p.condCut || p.existing[periodKey{u.conversation, TierCondensed, dayString(wk)}] || p.existing[periodKey{u.conversation, "day", dayString(u.day)}] {
			continue
		}
		st := Step{Tier: TierKeyPoints, Conversation: u.conversation, Period: dayString(u.day), Messages: u.messages}
		if !p.o.DryRun {
			if err := p.s.summarizeUnit(ctx, u.conversation, u.user, "day", st.Period, u.day, u.day+1, 256); err != nil {
				return err
			}
		}
		p.r.KeyPoints++
		if err := p.done(st); err != nil {
			return err
		}
	}
	return nil
}

// condense writes one condensed summary for each whole conversation-week
// older than CondenseAge.
func (p *compressPass) condense(ctx context.Context, units []unit) error {
	weeks := map[[2]int64]unit{}
	var order [][2]int64
	for _, u := range units {
		wk := weekOf(u.day)
		k := [2]int64{u.conversation, wk}
		if wk+7 > p.condCut || p.existing[periodKey{u.conversation, TierCondensed, dayString(wk)}] {
			continue
		}
		w, ok := weeks[k]
		if !ok {
			order = append(order, k)
			w = unit{conversation: u.conversation, user: u.user, day: wk}
		}
		w.messages += u.messages
		weeks[k] = w
	}
	for _, k := range order {
		w := weeks[k]
		st := Step{Tier: TierCondensed, Conversation: w.conversation, Period: dayString(w.day), Messages: w.messages}
		if !p.o.DryRun {
			if err := p.s.summarizeUnit(ctx, w.conversation, w.user, TierCondensed, st.Period, w.day, w.day+7, 192); err != nil {
				return err
			}
		}
		p.r.Condensed++
		if err := p.done(st); err != nil {
			return err
		}
	}
	return nil
}

// archive moves the originals of days before archCut into the archive (a
// dry run measures what would move).
func (p *compressPass) archive(ctx context.Context, archCut int64) error {
	arch, err := p.s.units(ctx, archCut, true)
	if err != nil {
		return err
	}
	for _, u := range arch {
		st := Step{Tier: TierArchive, Conversation: u.conversation, Period: dayString(u.day), Messages: u.messages}
		if p.o.DryRun {
			var raw int64
			if err := p.s.db.QueryRowContext(ctx, `SELECT coalesce(sum(length(CAST(content AS BLOB))), 0) FROM messages WHERE conversation_id = ? AND archive_id IS NULL AND created_ms >= ? AND created_ms < ?`,
				u.conversation, u.day*86400000, (u.day+1)*86400000).Scan(&raw); err != nil {
				return fmt.Errorf("measure %s: %w", st.Period, err)
			}
			p.movedRaw += raw
		} else if err := p.s.archiveDay(ctx, u); err != nil {
			return err
		}
		p.r.Archived++
		p.r.ArchivedMessages += u.messages
		if err := p.done(st); err != nil {
			return err
		}
	}
	return nil
}

// bytes returns the hot text bytes and the archive's compressed bytes.
func (s *Store) bytes(ctx context.Context) (hot, archive int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
 (SELECT coalesce(sum(length(CAST(content AS BLOB))), 0) FROM messages) +
 (SELECT coalesce(sum(length(CAST(content AS BLOB))), 0) FROM summaries),
 (SELECT coalesce(sum(length(data)), 0) FROM archive)`).Scan(&hot, &archive)
	if err != nil {
		return 0, 0, fmt.Errorf("measure memory: %w", err)
	}
	return hot, archive, nil
}

type periodKey struct {
	conversation int64
	tier, period string
}

func (s *Store) summaryPeriods(ctx context.Context) (map[periodKey]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT conversation_id, tier, period FROM summaries WHERE tier != 'fold'`)
	if err != nil {
		return nil, fmt.Errorf("read summaries: %w", err)
	}
	defer rows.Close()
	out := map[periodKey]bool{}
	for rows.Next() {
		var k periodKey
		if err := rows.Scan(&k.conversation, &k.tier, &k.period); err != nil {
			return nil, fmt.Errorf("read summaries: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

// units lists conversation-days before day number cut, oldest first; with
// unarchived, only days that still hold unarchived messages.
func (s *Store) units(ctx context.Context, cut int64, unarchived bool) ([]unit, error) {
	q := `SELECT conversation_id, user_id, created_ms / 86400000 AS d, count(*) FROM messages WHERE created_ms < ?`
	if unarchived {
		q += ` AND archive_id IS NULL`
	}
	q += ` GROUP BY conversation_id, d ORDER BY d, conversation_id`
	rows, err := s.db.QueryContext(ctx, q, cut*86400000)
	if err != nil {
		return nil, fmt.Errorf("list conversation-days: %w", err)
	}
	defer rows.Close()
	var out []unit
	for rows.Next() {
		var u unit
		if err := rows.Scan(&u.conversation, &u.user, &u.day, &u.messages); err != nil {
			return nil, fmt.Errorf("list conversation-days: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// summarizeUnit writes the tier's summary of a conversation's messages in
// days [from, to). A condensed summary replaces the week's day key points
// in the same transaction. The unique (conversation, tier, period) index
// makes a repeated step a no-op.
func (s *Store) summarizeUnit(ctx context.Context, conversation int64, user, tier, period string, from, to int64, maxTokens int) error {
	ms, err := queryMessages(ctx, s.db, `SELECT `+messageCols+` FROM messages WHERE conversation_id = ? AND created_ms >= ? AND created_ms < ? ORDER BY id`,
		conversation, from*86400000, to*86400000)
	if err != nil {
		return err
	}
	if err := s.restoreArchived(ctx, ms); err != nil {
		return err
	}
	if len(ms) == 0 {
		return nil
	}
	style := StyleKeyPoints
	if tier == TierCondensed {
		style = StyleCondensed
	}
	text, model := s.summarize(ctx, SummaryRequest{Style: style, Messages: ms, MaxTokens: maxTokens})
	last := ms[len(ms)-1]
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO summaries (user_id, conversation_id, tier, period, first_message_id, last_message_id, from_ms, to_ms, content, tokens, model, created_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (conversation_id, tier, period) WHERE tier != 'fold' DO NOTHING`,
			user, conversation, tier, period, ms[0].ID, last.ID, toMS(ms[0].Time), toMS(last.Time), text, s.tok.Count(text), model, toMS(s.now()))
		if err != nil {
			return err
		}
		if tier == TierCondensed {
			var days []any
			for d := from; d < to; d++ {
				days = append(days, dayString(d))
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM summaries WHERE conversation_id = ? AND tier = 'day' AND period IN (?`+strings.Repeat(",?", len(days)-1)+`)`,
				append([]any{conversation}, days...)...)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("write %s summary of conversation %d %s: %w", tier, conversation, period, err)
	}
	return nil
}

// archiveDay moves the original text of a conversation-day's unarchived
// messages into its archive row (merging with one that exists) and empties
// their content, in one transaction; the FTS trigger drops them from the
// index, and the day's summaries stay searchable.
func (s *Store) archiveDay(ctx context.Context, u unit) error {
	period := dayString(u.day)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ms, err := queryMessages(ctx, tx, `SELECT `+messageCols+` FROM messages WHERE conversation_id = ? AND archive_id IS NULL AND created_ms >= ? AND created_ms < ? ORDER BY id`,
			u.conversation, u.day*86400000, (u.day+1)*86400000)
		if err != nil || len(ms) == 0 {
			return err
		}
		var entries []archived
		var id int64
		var data []byte
		err = tx.QueryRowContext(ctx, `SELECT id, data FROM archive WHERE conversation_id = ? AND day = ?`, u.conversation, period).Scan(&id, &data)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		default:
			if entries, err = decodeArchive(data); err != nil {
				return err
			}
		}
		for _, m := range ms {
			entries = append(entries, archived{ID: m.ID, Content: m.Content})
		}
		blob, raw, err := s.encodeArchive(entries)
		if err != nil {
			return err
		}
		fromMs, toMs := toMS(ms[0].Time), toMS(ms[len(ms)-1].Time)
		if id == 0 {
			err = tx.QueryRowContext(ctx, `INSERT INTO archive (user_id, conversation_id, day, from_ms, to_ms, messages, raw_bytes, codec, data, created_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, 'gzip', ?, ?) RETURNING id`, u.user, u.conversation, period, fromMs, toMs, len(entries), raw, blob, toMS(s.now())).Scan(&id)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE archive SET from_ms = min(from_ms, ?), to_ms = max(to_ms, ?), messages = ?, raw_bytes = ?, data = ? WHERE id = ?`,
				fromMs, toMs, len(entries), raw, blob, id)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE messages SET content = '', archive_id = ? WHERE conversation_id = ? AND archive_id IS NULL AND created_ms >= ? AND created_ms < ?`,
			id, u.conversation, u.day*86400000, (u.day+1)*86400000)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive conversation %d %s: %w", u.conversation, period, err)
	}
	return nil
}
