// Package llm defines what Mai needs from a local model server: the Backend
// interface and the types it speaks in (models, loaded instances, chat
// requests, streamed events). Each server lives in its own subpackage
// (llm/ollama, llm/lmstudio); the router chooses between them.
package llm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"
)

// Backend is one model server at one endpoint. Two Ollama machines are two
// Backends. Implementations are safe for concurrent use.
type Backend interface {
	// Name returns the kind of server ("ollama", "lmstudio"), used in MAI_MODELS
	// prefixes and in messages to the owner.
	Name() string

	// Endpoint returns the base URL the backend talks to.
	Endpoint() string

	// Models returns the installed models. It returns ErrUnreachable when the
	// server does not answer and ErrBadResponse when its answer is unusable.
	Models(ctx context.Context) ([]Model, error)

	// Loaded returns the model instances resident in memory, none when idle.
	Loaded(ctx context.Context) ([]Instance, error)

	// Load makes the model resident and returns its instance. A model that is
	// already loaded is not loaded again: its instance is returned as it is,
	// whatever context length it has (unload it first to change that).
	// It returns a *ModelNotFoundError (matching ErrModelNotFound) for an
	// unknown name.
	Load(ctx context.Context, model string, opts LoadOptions) (Instance, error)

	// Unload releases the instance with the given id, or every instance of
	// the model with that name. Unloading something not loaded is not an error.
	Unload(ctx context.Context, idOrModel string) error

	// Chat starts a streamed completion of req.Messages. The returned Stream
	// must be closed; cancelling ctx ends it and its HTTP request at once.
	// Errors before the first byte (unknown model, unreachable server) are
	// returned here, later ones by Stream.Next.
	Chat(ctx context.Context, req Request) (Stream, error)

	// Embed returns one vector per input, in order.
	Embed(ctx context.Context, model string, inputs []string) ([][]float32, error)
}

// Model is an installed model as the server describes it. Zero fields are
// unknown to the server.
type Model struct {
	Name           string       `json:"name"`            // the name Chat, Load and Embed accept
	Family         string       `json:"family"`          // architecture, e.g. "llama", "qwen3"
	Parameters     int64        `json:"parameters"`      // parameter count
	ParameterLabel string       `json:"parameter_label"` // as the server writes it, e.g. "8B"
	Quantization   string       `json:"quantization"`    // e.g. "Q4_K_M"
	SizeBytes      int64        `json:"size_bytes"`      // weights on disk
	ContextLength  int          `json:"context_length"`  // the largest context the model supports
	Capabilities   Capabilities `json:"capabilities"`

	// KVBytesPerToken is the KV cache one token of context costs at the
	// server's default cache type (16-bit), when the server reports the model's
	// shape; the router estimates it from the parameter count otherwise.
	KVBytesPerToken int64 `json:"kv_bytes_per_token,omitempty"`
}

// Capabilities says what a model can be used for.
type Capabilities struct {
	Chat      bool `json:"chat"`
	Embedding bool `json:"embedding"`
	Tools     bool `json:"tools"`
	Vision    bool `json:"vision"`
}

// Instance is a model resident in memory. Zero fields are unknown.
type Instance struct {
	Model         string    `json:"model"`          // the Model.Name it is an instance of
	ID            string    `json:"id"`             // what Unload accepts; equals Model where the server has one instance per model
	SizeBytes     int64     `json:"size_bytes"`     // memory used in total
	VRAMBytes     int64     `json:"vram_bytes"`     // of which on the GPU
	ContextLength int       `json:"context_length"` // the context it was loaded with
	ExpiresAt     time.Time `json:"expires_at"`     // when the server unloads it if idle; zero for never or unknown
}

// LoadOptions are the settings a model is loaded with.
type LoadOptions struct {
	// ContextLength is the context window to allocate; 0 keeps the server's default.
	ContextLength int
	// KeepAlive is how long the model stays loaded when idle: 0 keeps the
	// server's default, a negative value keeps it until unloaded.
	KeepAlive time.Duration
}

// Role is who wrote a message.
type Role string

// The roles of the OpenAI and Ollama chat formats.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role       Role       `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`   // calls an assistant message asked for
	ToolCallID string     `json:"tool_call_id,omitempty"` // the call a tool message answers
	// Images go with a user message to a model that can see them
	// (Capabilities.Vision).
	Images []Image `json:"images,omitempty"`
}

// Image is a picture given to a vision-capable model.
type Image struct {
	MIME string `json:"mime"` // "image/png", "image/jpeg", "image/webp"
	Data []byte `json:"data"`
}

// DataURI returns the image as a data URI ("data:image/png;base64,…"),
// the form OpenAI-compatible servers take.
func (im Image) DataURI() string {
	return "data:" + im.MIME + ";base64," + base64.StdEncoding.EncodeToString(im.Data)
}

// ToolCall is a model's request to run a tool.
type ToolCall struct {
	ID        string          `json:"id"` // may be empty on servers that do not number calls (Ollama's native API)
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"` // a JSON object
}

// Tool is a function the model may call.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"` // a JSON Schema object
}

// Options tune sampling. Zero values and nil pointers leave the server's
// default; pointers distinguish "unset" from a meaningful zero (temperature 0).
type Options struct {
	MaxTokens     int      // most tokens to generate
	Temperature   *float64 // e.g. new(0.7)
	TopP          *float64
	TopK          int
	Seed          *int64
	Stop          []string
	ContextLength int // context window; loads the model with this size if the server supports it per request
}

// Request is one chat completion.
type Request struct {
	Model    string
	Messages []Message
	Tools    []Tool
	Options  Options
	// Format, when set, is a JSON Schema the answer must follow (Ollama
	// format, OpenAI-compatible response_format json_schema).
	Format json.RawMessage
	// KeepAlive is how long the model stays loaded after this request (Ollama
	// keep_alive, LM Studio ttl): 0 keeps the server's default, negative forever.
	KeepAlive time.Duration
}
