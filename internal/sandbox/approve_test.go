package sandbox

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/risk"
)

func TestTerminalApprover(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req := ApprovalRequest{JobID: "j1", Language: "python", Entry: "main.py", Verdict: risk.Verdict{
		Level: risk.High, Findings: []risk.Finding{{Rule: "process.spawn", Level: risk.High, Line: 2, Reason: "runs another program"}},
	}}
	tests := []struct {
		name        string
		in          string
		interactive bool
		yes         bool
		wantOK      bool
		wantBy      string
		wantErr     error
	}{
		{name: "--yes", yes: true, wantOK: true, wantBy: "--yes"},
		{name: "y", in: "y\n", interactive: true, wantOK: true, wantBy: "terminal"},
		{name: "YES", in: " YES \n", interactive: true, wantOK: true, wantBy: "terminal"},
		{name: "enter means no", in: "\n", interactive: true, wantBy: "terminal"},
		{name: "end of input means no", in: "", interactive: true, wantBy: "terminal"},
		{name: "no terminal", in: "y\n", wantErr: ErrNoTerminal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			a := TerminalApprover{In: strings.NewReader(tt.in), Out: &out, Interactive: tt.interactive, Yes: tt.yes, Now: func() time.Time { return at }}
			got, err := a.Approve(context.Background(), req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got.Approved != tt.wantOK || got.By != tt.wantBy {
				t.Errorf("approval = %+v, want approved %v by %q", got, tt.wantOK, tt.wantBy)
			}
			if got.By != "" && !got.At.Equal(at) {
				t.Errorf("approval time = %v", got.At)
			}
			if tt.interactive && !strings.Contains(out.String(), "process.spawn") {
				t.Errorf("the prompt does not show the findings: %q", out.String())
			}
		})
	}
}

func TestTerminalApproverCancelled(t *testing.T) {
	r, w := io.Pipe() // nobody answers
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := TerminalApprover{In: r, Out: io.Discard, Interactive: true}.Approve(ctx, ApprovalRequest{})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestOutputCap(t *testing.T) {
	fired := 0
	c := newOutputCap(10, func() { fired++ })
	c.stdoutWriter().Write([]byte("abcdef"))
	c.stderrWriter().Write([]byte("123"))
	if n, err := c.stdoutWriter().Write([]byte("ghijkl")); n != 6 || err != nil {
		t.Errorf("write past the cap = %d, %v; want the whole length and no error", n, err)
	}
	c.stderrWriter().Write([]byte("more"))
	out, errOut, truncated := c.result()
	if out != "abcdefg" || errOut != "123" || !truncated || fired != 1 {
		t.Errorf("stdout %q stderr %q truncated %v fired %d", out, errOut, truncated, fired)
	}
	c = newOutputCap(4, nil)
	c.stdoutWriter().Write([]byte("abcd"))
	if _, _, truncated := c.result(); truncated {
		t.Error("output exactly at the cap is reported truncated")
	}
}
