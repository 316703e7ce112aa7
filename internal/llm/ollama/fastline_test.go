package ollama

import "testing"

func TestFastLine(t *testing.T) {
	tests := []struct {
		line    string
		content string
		ok      bool
	}{
		{`{"model":"m","created_at":"2026-11-25T13:56:26Z","message":{"role":"assistant","content":"Let"},"done":false}`, "Let", true},
		{` { "message" : { "content" : "a b" } , "done" : false } `, "a b", true},
		{`{"message":{"content":"\u003cb\u003e\n\"q\""}}`, "<b>\n\"q\"", true},
		{`{"model":{"a":[1,2.5e3,-0.1,true,null,"x",{"b":[]}]},"extra":[[]],"message":{"content":"ok"}}`, "ok", true},
		{`{"message":{"role":"assistant","content":""},"done":false}`, "", true},
		{`{}`, "", true},
		{`{"message":{"content":""},"done":true,"done_reason":"stop"}`, "", false},
		{`{"error":"boom"}`, "", false},
		{`{"message":{"content":"","tool_calls":[]}}`, "", false},
		{`{"message":{"content":"","thinking":"hm"}}`, "", false},
		{`{"message":{"content":"a","content":"b"}}`, "", false},
		{`{"Message":{"content":"a"}}`, "", false},
		{`{"mess\u0061ge":{"content":"a"}}`, "", false},
		{`{"message":{"content":"a"},"done":null}`, "", false},
		{`{"extra":01,"message":{"content":"x"}}`, "", false},
		{"{\"message\":{\"content\":\"\xff\"}}", "", false},
		{`{"message":{"content":"\x41"}}`, "", false},
		{`{"message":{"content":"a"}} x`, "", false},
		{`{"message":{"content":"a"}`, "", false},
		{`[]`, "", false},
	}
	for _, tt := range tests {
		content, ok := fastLine([]byte(tt.line))
		if ok != tt.ok || content != tt.content {
			t.Errorf("fastLine(%s) = %q, %v; want %q, %v", tt.line, content, ok, tt.content, tt.ok)
		}
	}
}

func TestFastLineAllocs(t *testing.T) {
	line := []byte(`{"model":"qwen3:8b","created_at":"2026-11-25T13:56:26.364406623Z","message":{"role":"assistant","content":"tok "},"done":false}`)
	if n := testing.AllocsPerRun(100, func() { fastLine(line) }); n > 1 {
		t.Errorf("%v allocations for a token line, want 1 (its text)", n)
	}
}
