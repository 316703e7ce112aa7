package discord

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// offerTTL is how long the owner's ▶️ on a verdict still runs its code.
const offerTTL = 24 * time.Hour

// runBlock is the /run a ▶️ sends for code in language lang.
func runBlock(lang string, code []byte) string {
	return "/run\n```" + lang + "\n" + strings.TrimRight(string(code), "\n") + "\n```"
}

func codeSum(code []byte) string {
	s := sha256.Sum256(code)
	return hex.EncodeToString(s[:])
}

// saveOffer keeps the ▶️ offer of the verdict ref: the exact code, bound to
// its SHA-256, for offerTTL; expired offers are dropped on the way.
func (b *Bot) saveOffer(ctx context.Context, ref Ref, channel, lang string, code []byte) error {
	now := time.Now()
	if _, err := b.db.ExecContext(ctx, `DELETE FROM discord_run_offers WHERE expires_at <= ?`, now.Unix()); err != nil {
		return fmt.Errorf("drop expired ▶️ offers: %w", err)
	}
	_, err := b.db.ExecContext(ctx, `INSERT OR REPLACE INTO discord_run_offers (ref, channel_id, code, language, sha256, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, int64(ref), channel, code, lang, codeSum(code), now.Unix(), now.Add(offerTTL).Unix())
	if err != nil {
		return fmt.Errorf("keep the ▶️ offer: %w", err)
	}
	return nil
}

// takeOffer removes and returns the /run of the verdict ref's offer: ""
// when there is none; an error when it expired or its code no longer
// matches its SHA-256 (nothing runs then).
func (b *Bot) takeOffer(ctx context.Context, ref Ref) (string, error) {
	var code []byte
	var lang, sum string
	var expires int64
	err := b.db.QueryRowContext(ctx, `DELETE FROM discord_run_offers WHERE ref = ? RETURNING code, language, sha256, expires_at`, int64(ref)).
		Scan(&code, &lang, &sum, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the ▶️ offer: %w", err)
	}
	if time.Now().Unix() >= expires {
		return "", errors.New("this ▶️ offer expired (offers last 24 hours); send the file again to run it")
	}
	if codeSum(code) != sum {
		return "", errors.New("this ▶️ offer's code no longer matches its SHA-256; nothing ran — send the file again")
	}
	return runBlock(lang, code), nil
}
