package health

import (
	"errors"
	"testing"
	"time"
)

func TestRegistryStatesAndListeners(t *testing.T) {
	clock := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := New(func() time.Time { return clock })
	var heard []Change
	r.Listen(func(c Change) { heard = append(heard, c) })

	r.Set("sandbox", Starting, "", nil)
	clock = clock.Add(time.Second)
	r.Set("sandbox", Down, "Docker does not answer", errors.New("dial unix /var/run/docker.sock: connection refused"))
	clock = clock.Add(time.Second)
	r.Set("sandbox", Down, "Docker does not answer (retry in 2s)", nil) // same state: no listener call
	clock = clock.Add(time.Second)
	r.Set("sandbox", Up, "", nil)
	r.Set("discord", Off, "no DISCORD_BOT_TOKEN", nil)

	want := []struct {
		name     string
		from, to State
	}{{"sandbox", "", Starting}, {"sandbox", Starting, Down}, {"sandbox", Down, Up}, {"discord", "", Off}}
	if len(heard) != len(want) {
		t.Fatalf("listener heard %d changes, want %d: %+v", len(heard), len(want), heard)
	}
	for i, w := range want {
		if heard[i].Name != w.name || heard[i].From != w.from || heard[i].State != w.to {
			t.Errorf("change %d = %s %s→%s, want %s %s→%s", i, heard[i].Name, heard[i].From, heard[i].State, w.name, w.from, w.to)
		}
	}
	c, ok := r.Get("sandbox")
	if !ok || c.State != Up || c.Since != time.Date(2026, 12, 4, 10, 0, 3, 0, time.UTC) {
		t.Errorf("sandbox = %+v, want up since 10:00:03", c)
	}
	if c.LastError != "dial unix /var/run/docker.sock: connection refused" || c.LastErrorAt != time.Date(2026, 12, 4, 10, 0, 1, 0, time.UTC) {
		t.Errorf("sandbox kept last error %q at %v", c.LastError, c.LastErrorAt)
	}
	snap := r.Snapshot()
	if len(snap) != 2 || snap[0].Name != "discord" || snap[1].Name != "sandbox" {
		t.Errorf("snapshot = %+v, want discord then sandbox", snap)
	}
	if r.Uptime() != 3*time.Second {
		t.Errorf("uptime = %v, want 3s", r.Uptime())
	}
}

func TestLastErrorsNewestFirstWithRepeatsCounted(t *testing.T) {
	clock := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := New(func() time.Time { return clock })
	for range 3 { // a component retried with backoff
		clock = clock.Add(time.Second)
		r.Set("router", Down, "no backend answers", errors.New("connection refused"))
	}
	clock = clock.Add(time.Second)
	r.Set("sandbox", Down, "Docker does not answer", errors.New("no such file"))
	r.Set("sandbox", Up, "", nil)
	for i := range 12 {
		r.Set("discord", Degraded, "", errors.New("drop "+string(rune('a'+i))))
	}
	got := r.LastErrors(3)
	if len(got) != 3 || got[0].Error != "drop l" || got[2].Error != "drop j" {
		t.Fatalf("last 3 = %+v, want drop l, k, j", got)
	}
	all := r.LastErrors(100)
	if len(all) != 10 || all[9].Error != "drop c" {
		t.Fatalf("kept %d errors, oldest %+v; want the last 10", len(all), all[len(all)-1])
	}

	r = New(func() time.Time { return clock })
	for range 3 {
		clock = clock.Add(time.Second)
		r.Set("router", Down, "no backend answers", errors.New("connection refused"))
	}
	r.Set("sandbox", Down, "Docker does not answer", errors.New("no such file"))
	got = r.LastErrors(5)
	want := []ErrorReport{
		{Component: "sandbox", Error: "no such file", At: clock, Count: 1},
		{Component: "router", Error: "connection refused", At: clock, Count: 3},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("last errors = %+v, want %+v", got, want)
	}
}
