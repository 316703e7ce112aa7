package chat

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/memory"
)

// Stored tool use goes back paired or not at all: servers of the OpenAI
// kind reject a tool message without its call and a call without its
// results, and the window may have cut either away.
func TestToLLMPairsToolTurns(t *testing.T) {
	call := func(calls string) memory.Turn {
		return memory.Turn{Role: memory.RoleAssistant, Content: calls, Tool: &memory.TurnDetail{Kind: memory.TurnToolCall}}
	}
	result := func(id, name, out string) memory.Turn {
		return memory.Turn{Role: memory.RoleTool, Content: name + ": " + out, Tool: &memory.TurnDetail{Kind: memory.TurnToolResult, ToolName: name, ToolCallID: id}}
	}
	user := memory.Turn{Role: memory.RoleUser, Content: "hi"}
	two := `[{"id":"a","name":"recall","arguments":{"query":"x"}},{"id":"b","name":"remember","arguments":{"statement":"y"}}]`
	cases := []struct {
		name  string
		turns []memory.Turn
		tools bool
		want  []llm.Message
	}{
		{"both answered", []memory.Turn{user, call(two), result("a", "recall", "found x"), result("b", "remember", "remembered")}, true, []llm.Message{
			{Role: llm.RoleUser, Content: "hi"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "a", Name: "recall", Arguments: json.RawMessage(`{"query":"x"}`)},
				{ID: "b", Name: "remember", Arguments: json.RawMessage(`{"statement":"y"}`)}}},
			{Role: llm.RoleTool, Content: "found x", ToolCallID: "a"},
			{Role: llm.RoleTool, Content: "remembered", ToolCallID: "b"},
		}},
		{"one answered before the turn was stopped", []memory.Turn{call(two), result("a", "recall", "found x"), user}, true, []llm.Message{
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "a", Name: "recall", Arguments: json.RawMessage(`{"query":"x"}`)}}},
			{Role: llm.RoleTool, Content: "found x", ToolCallID: "a"},
			{Role: llm.RoleUser, Content: "hi"},
		}},
		{"none answered", []memory.Turn{call(two), user}, true, []llm.Message{{Role: llm.RoleUser, Content: "hi"}}},
		{"the call cut off by the window", []memory.Turn{result("b", "remember", "remembered"), user}, true, []llm.Message{
			{Role: llm.RoleUser, Content: "[tool result] remember: remembered"},
			{Role: llm.RoleUser, Content: "hi"},
		}},
		{"a result of another call", []memory.Turn{call(two), result("z", "recall", "stray")}, true, []llm.Message{
			{Role: llm.RoleUser, Content: "[tool result] recall: stray"},
		}},
		{"a call stored without an id", []memory.Turn{call(`[{"id":"","name":"recall","arguments":{}}]`), result("", "recall", "found")}, true, []llm.Message{
			{Role: llm.RoleUser, Content: "[tool result] recall: found"},
		}},
		{"a model without tools", []memory.Turn{call(two), result("a", "recall", "found x")}, false, []llm.Message{
			{Role: llm.RoleAssistant, Content: "[tool call] " + two},
			{Role: llm.RoleUser, Content: "[tool result] recall: found x"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := toLLM(tc.turns, tc.tools, nil); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
