package discord

import "context"

// DM queues text for the owner's DM channel in the outbox, which sends it
// once Discord answers. It fails only while the channel is not known yet
// and Discord cannot be asked for it; the caller then keeps the text and
// tries again.
func (b *Bot) DM(ctx context.Context, text string) error {
	ch, err := b.ownerChannel(ctx)
	if err != nil {
		return err
	}
	_, err = b.out.Send(ctx, ch, Message{Content: text})
	return err
}
