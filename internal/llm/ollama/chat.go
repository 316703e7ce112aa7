package ollama

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

type wireMessage struct {
	Role       string         `json:"role"`
	Content    string         `json:"content"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolName   string         `json:"tool_name,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
	Images     [][]byte       `json:"images,omitempty"` // base64 in JSON, as Ollama takes them
}

type wireToolCall struct {
	ID       string       `json:"id,omitempty"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Index     int             `json:"index"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

type wireTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	} `json:"function"`
}

type chatRequest struct {
	Model     string          `json:"model"`
	Messages  []wireMessage   `json:"messages"`
	Tools     []wireTool      `json:"tools,omitempty"`
	Stream    bool            `json:"stream"`
	Options   map[string]any  `json:"options,omitempty"`
	KeepAlive any             `json:"keep_alive,omitempty"`
	Format    json.RawMessage `json:"format,omitempty"`
}

// chatBody translates a Request into Ollama's /api/chat body.
func chatBody(req llm.Request) chatRequest {
	body := chatRequest{Model: req.Model, Stream: true, KeepAlive: keepAlive(req.KeepAlive), Format: req.Format}
	// Ollama names the tool a result belongs to, not the call: find the name
	// from the assistant message that made the call.
	callNames := map[string]string{}
	for _, m := range req.Messages {
		wm := wireMessage{Role: string(m.Role), Content: m.Content, ToolCallID: m.ToolCallID}
		for _, im := range m.Images {
			wm.Images = append(wm.Images, im.Data)
		}
		for i, tc := range m.ToolCalls {
			args := tc.Arguments
			if len(args) == 0 {
				args = json.RawMessage("{}")
			}
			wm.ToolCalls = append(wm.ToolCalls, wireToolCall{ID: tc.ID, Function: wireFunction{Index: i, Name: tc.Name, Arguments: args}})
			if tc.ID != "" {
				callNames[tc.ID] = tc.Name
			}
		}
		if m.Role == llm.RoleTool {
			wm.ToolName = callNames[m.ToolCallID]
		}
		body.Messages = append(body.Messages, wm)
	}
	for _, t := range req.Tools {
		var wt wireTool
		wt.Type = "function"
		wt.Function.Name, wt.Function.Description, wt.Function.Parameters = t.Name, t.Description, t.Parameters
		body.Tools = append(body.Tools, wt)
	}
	o := req.Options
	opts := map[string]any{}
	if o.MaxTokens > 0 {
		opts["num_predict"] = o.MaxTokens
	}
	if o.Temperature != nil {
		opts["temperature"] = *o.Temperature
	}
	if o.TopP != nil {
		opts["top_p"] = *o.TopP
	}
	if o.TopK > 0 {
		opts["top_k"] = o.TopK
	}
	if o.Seed != nil {
		opts["seed"] = *o.Seed
	}
	if len(o.Stop) > 0 {
		opts["stop"] = o.Stop
	}
	if o.ContextLength > 0 {
		opts["num_ctx"] = o.ContextLength
	}
	if len(opts) > 0 {
		body.Options = opts
	}
	return body
}

// Chat starts a streamed answer (/api/chat). It returns when Ollama starts
// answering, which includes loading the model; errors after that come from
// the stream. Cancelling ctx closes the request at once.
func (c *Client) Chat(ctx context.Context, req llm.Request) (llm.Stream, error) {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	// Until the headers arrive, the header timeout applies; then the idle
	// timer of the stream takes over.
	headerTimer := time.AfterFunc(c.header, func() { cancel(errTimedOut) })
	resp, err := c.send(ctx, http.MethodPost, "/api/chat", chatBody(req))
	headerTimer.Stop()
	if err != nil {
		cancel(nil)
		return nil, c.notFound(context.WithoutCancel(ctx), req.Model, err)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
		resp.Body.Close()
		cancel(nil)
		return nil, c.bad("answered /api/chat with an HTML page instead of a stream: the address is a proxy or a web page, not the Ollama API")
	}
	return newStream(c, ctx, cancel, resp.Body, start), nil
}
