package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/memory"
)

// NoVision is the answer to an image when no installed model can see one.
const NoVision = "I can't see images: no model that can see them is installed. " +
	"Install a vision model (in Ollama, for example `ollama pull qwen2.5vl:7b`, llava or gemma3; " +
	"in LM Studio, a model marked Vision) and send the image again."

// seeable returns the images to give the model: all of them when a model
// that can see them is installed (the router then chooses it), none when
// not, saying so: as the answer when the message is only images, else as
// a notice before the answer to its text.
func (c *Core) seeable(ctx context.Context, images []llm.Image, text string, emit func(Event)) []llm.Image {
	if len(images) == 0 {
		return nil
	}
	ok, err := c.cfg.Models.Sees(ctx)
	if ok || err != nil { // unreachable backends: the answer will say so
		return images
	}
	if strings.TrimSpace(text) == "" {
		emit(Event{Kind: EventReply, Text: NoVision})
	} else {
		emit(Event{Kind: EventNotice, Text: NoVision})
	}
	return nil
}

// imageNote is what memory keeps of a message's images.
func imageNote(images []llm.Image) string {
	var b strings.Builder
	for _, im := range images {
		fmt.Fprintf(&b, "\n[image: %s, %d KB]", im.MIME, (len(im.Data)+1023)/1024)
	}
	return b.String()
}

// withoutImageNotes returns stored without the image notes imageNote
// added to it.
func withoutImageNotes(stored string) string {
	for strings.HasSuffix(stored, "]") {
		i := strings.LastIndex(stored, "\n[image: ")
		if i < 0 {
			break
		}
		stored = stored[:i]
	}
	return stored
}

// parent returns id when it is a stored message of s's user, the message
// a new one replies to; else 0, saying that the answer continues from the
// latest turns instead.
func (c *Core) parent(ctx context.Context, s *session, id int64, emit func(Event)) int64 {
	if id == 0 {
		return 0
	}
	ms, err := c.cfg.Memory.Branch(ctx, id, 1)
	if err == nil && ms[0].User == s.user {
		return id
	}
	if !errors.Is(err, memory.ErrNotFound) && err != nil {
		c.cfg.Log.Warn().Err(err).Int64("message", id).Msg("could not read the message replied to")
	}
	emit(Event{Kind: EventNotice, Text: "the message this replies to is not in Mai's memory (forgotten?); answering from the latest conversation"})
	return 0
}

// Image is an image a message brings: its bytes and MIME type.
type Image = llm.Image
