package main

import (
	"strings"
	"testing"
)

// What a terminal and a pipe are left with when an answer restarts on
// another model.
func TestAnswerWriterRestart(t *testing.T) {
	for _, tt := range []struct {
		name string
		live bool
		want string
	}{
		{"terminal: the new answer on its own line", true, "par\nwhole answer\n"},
		{"pipe: the final answer alone", false, "whole answer\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			a := &answerWriter{w: &b, live: tt.live}
			for _, step := range []string{"par", "", "whole ", "answer"} {
				if step == "" {
					a.restart()
					continue
				}
				if err := a.text(step); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.end(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote %q, want %q", b.String(), tt.want)
			}
		})
	}
}
