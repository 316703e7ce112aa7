package discord

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"

	"github.com/bwmarrin/discordgo"
)

// MaxImage is the largest image a DM may bring for a model to see.
const MaxImage = 10 << 20

// imageTypes are the image formats both Ollama and LM Studio give their
// vision models.
var imageTypes = []string{"image/png", "image/jpeg", "image/webp"}

// downloadImage fetches an image: at most MaxImage bytes whose declared
// content type and content are PNG, JPEG or WebP.
func (b *Bot) downloadImage(ctx context.Context, a *discordgo.MessageAttachment) (Image, error) {
	tooBig := fmt.Errorf("%s is larger than %d MiB, the most Mai gives a model to see; send a smaller image", a.Filename, MaxImage>>20)
	if a.Size > MaxImage {
		return Image{}, tooBig
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return Image{}, fmt.Errorf("fetching %s: %w", a.Filename, err)
	}
	client := b.s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Image{}, fmt.Errorf("fetching %s: %w", a.Filename, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Image{}, fmt.Errorf("fetching %s: Discord answered %s", a.Filename, resp.Status)
	}
	notImage := fmt.Errorf("%s is not a PNG, JPEG or WebP image; those are what a model can be shown", a.Filename)
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || !slices.Contains(imageTypes, mt) {
			return Image{}, notImage
		}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxImage+1))
	if err != nil {
		return Image{}, fmt.Errorf("fetching %s: %w", a.Filename, err)
	}
	if len(data) > MaxImage {
		return Image{}, tooBig
	}
	// The bytes decide, not the name or the header: a model gets what it can read.
	sniffed := http.DetectContentType(data)
	if !slices.Contains(imageTypes, sniffed) {
		return Image{}, notImage
	}
	return Image{MIME: sniffed, Data: data}, nil
}
