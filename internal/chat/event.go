package chat

import "time"

// EventKind says which fields of an Event are set.
type EventKind string

// The kinds of events a turn or a command yields. They are strings so that
// the control socket can stream them as JSON unchanged.
const (
	// EventText carries Text, the next piece of the answer.
	EventText EventKind = "text"
	// EventRestart tells the front end to discard the answer text shown so
	// far: the backend failed and another model starts the answer again.
	// Text is the notice saying so. The partial answer stays in memory,
	// marked as failed over.
	EventRestart EventKind = "restart"
	// EventThinking carries the model's reasoning when Config.ShowThinking
	// is set; otherwise one event with an empty Text says "thinking…".
	EventThinking EventKind = "thinking"
	// EventTool carries Tool: a tool call starting or finished.
	EventTool EventKind = "tool"
	// EventApproval carries Approval: code waits for the owner's decision;
	// the front end answers with Core.Decide.
	EventApproval EventKind = "approval"
	// EventNotice carries Text, a line for the owner that is not part of the
	// answer (queued, failover, pulled the sandbox image, a command's reply).
	EventNotice EventKind = "notice"
	// EventReply carries Text, the whole answer to a command (/help, /facts…).
	EventReply EventKind = "reply"
	// EventDone carries Stats and ends a turn that produced an answer.
	EventDone EventKind = "done"
	// EventError carries Text: the turn or command failed and says why.
	EventError EventKind = "error"
	// EventExit asks the front end to end the session (/exit).
	EventExit EventKind = "exit"
)

// Event is one step of a turn, the type every front end consumes.
type Event struct {
	Kind     EventKind     `json:"kind"`
	Text     string        `json:"text,omitempty"`
	Tool     *ToolActivity `json:"tool,omitempty"`
	Approval *Approval     `json:"approval,omitempty"`
	Stats    *Stats        `json:"stats,omitempty"`
}

// ToolActivity is a tool call as the owner sees it.
type ToolActivity struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "running", "done", "refused", "failed"
	Line   string `json:"line"`   // one short line: what ran and how it ended
	// Output is what a finished run_code printed (stdout, then stderr),
	// for front ends that show it; the model gets its own copy.
	Output string `json:"output,omitempty"`
}

// Approval is a pending decision on code the risk gate judged HIGH.
type Approval struct {
	ID       string   `json:"id"`
	Language string   `json:"language"`
	Code     string   `json:"code"`
	Findings []string `json:"findings"`
	// SHA256 is the hash of the payload shown, which a decision is bound
	// to (persisted approval requests); empty for inline ones.
	SHA256 string `json:"sha256,omitempty"`
}

// Stats describe a finished turn.
type Stats struct {
	Model            string        `json:"model"`
	PromptTokens     int           `json:"prompt_tokens"`
	CompletionTokens int           `json:"completion_tokens"`
	TokensPerSecond  float64       `json:"tokens_per_second"`
	FirstToken       time.Duration `json:"first_token"`
	ContextTokens    int           `json:"context_tokens"` // what the assembled context took
	ContextWindow    int           `json:"context_window"` // the model's loaded context
	ToolCalls        int           `json:"tool_calls,omitempty"`
	FailedOver       bool          `json:"failed_over,omitempty"`
	// RecentTurns is how many of the conversation's latest messages the
	// context kept word for word; Summaries > 0 says older ones were
	// folded into summaries, so the model saw only the last RecentTurns.
	RecentTurns int `json:"recent_turns,omitempty"`
	Summaries   int `json:"summaries,omitempty"`
	// MessageID and AnswerID are the stored ids of the message answered
	// and of its answer, which a front end may link its own messages to
	// (a later Message.ReplyTo).
	MessageID int64 `json:"message_id,omitempty"`
	AnswerID  int64 `json:"answer_id,omitempty"`
}
