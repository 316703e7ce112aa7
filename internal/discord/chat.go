package discord

import "context"

// Chat is the chat core as the Discord front end uses it: the same core the
// terminal uses, with no Discord types in it.
type Chat interface {
	// Send handles one message of user: a command when it starts with "/",
	// otherwise a turn. Events go to emit as they happen.
	Send(ctx context.Context, user string, p Prompt, emit func(Event)) error
	// Stop cancels user's running generation; it reports whether one ran.
	Stop(user string) bool
}

// Redoer is a Chat that can answer a message again without storing it a
// second time; the bot uses it for an answer a restart interrupted (and
// Send when the Chat is not one).
type Redoer interface {
	Redo(ctx context.Context, user string, p Prompt, emit func(Event)) error
}

// Prompt is one message of the owner's as the chat core takes it.
type Prompt struct {
	Text string
	// ReplyTo is the chat core's id of the message this one replies to
	// (Stats.MessageID or AnswerID of an earlier answer), 0 for none.
	ReplyTo int64
	Images  []Image
}

// Image is an image the owner sent: its bytes and MIME type.
type Image struct {
	MIME string
	Data []byte
}

// EventKind says what an Event carries.
type EventKind int

// The events of a turn, as the reply shows them.
const (
	// EventText is the next piece of the answer.
	EventText EventKind = iota + 1
	// EventRestart discards the answer so far (the backend failed over);
	// Text says so.
	EventRestart
	// EventTool is tool activity: Text is one short line.
	EventTool
	// EventNotice is a line for the owner that is not part of the answer.
	EventNotice
	// EventReply is the whole answer to a command.
	EventReply
	// EventDone ends an answer and carries Stats.
	EventDone
	// EventError says the turn failed, and why.
	EventError
)

// Event is one step of a turn.
type Event struct {
	Kind  EventKind
	Text  string
	Stats Stats
	// Output is what code run in the sandbox printed (EventTool).
	Output string
}

// Stats describe a finished answer, for the footer.
type Stats struct {
	Model           string
	TokensPerSecond float64
	ContextTokens   int
	ContextWindow   int
	// KeptMessages > 0 says the context was cut to the last N messages.
	KeptMessages int
	// MessageID and AnswerID are the chat core's ids of the message
	// answered and of the answer.
	MessageID, AnswerID int64
}
