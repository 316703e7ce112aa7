package discord

import (
	"context"
	"fmt"
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
	data, ct, err := b.fetch(ctx, a, MaxImage, tooBig)
	if err != nil {
		return Image{}, err
	}
	notImage := fmt.Errorf("%s is not a PNG, JPEG or WebP image; those are what a model can be shown", a.Filename)
	if ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || !slices.Contains(imageTypes, mt) {
			return Image{}, notImage
		}
	}
	// The bytes decide, not the name or the header: a model gets what it can read.
	sniffed := http.DetectContentType(data)
	if !slices.Contains(imageTypes, sniffed) {
		return Image{}, notImage
	}
	return Image{MIME: sniffed, Data: data}, nil
}
