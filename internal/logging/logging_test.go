package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/logging/logtest"
)

func TestLinesCarryTimeLevelComponentMessage(t *testing.T) {
	dir := t.TempDir()
	l, err := New(Options{Dir: dir, Level: "debug", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.Logger.Info().Msg("started")
	sl := Component(l.Logger, "store")
	sl.Debug().Int("n", 3).Msg("migrated")
	l.Close()
	f, err := os.Open(filepath.Join(dir, ".logs", "mai.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var comps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		for _, k := range []string{"time", "level", "component", "message"} {
			if _, ok := line[k]; !ok {
				t.Errorf("line %s lacks %s", sc.Text(), k)
			}
		}
		comps = append(comps, line["component"].(string))
	}
	if strings.Join(comps, ",") != "mai,store" {
		t.Errorf("components = %v", comps)
	}
	info, err := os.Stat(filepath.Join(dir, ".logs", "mai.log"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("log file mode = %v, %v", info.Mode(), err)
	}
}

// A component logger made from another component's logger carries one
// component key, its own: a strict JSON reader rejects a repeated key.
func TestOneComponentKeyPerLine(t *testing.T) {
	dir := t.TempDir()
	l, err := New(Options{Dir: dir, Level: "debug", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.Logger.Info().Msg("root")
	sandbox := Component(l.Logger, "sandbox")
	sandbox.Info().Str("job", "j1").Msg("ran")
	gate := Component(sandbox, "gate")
	gate.Warn().Msg("refused")
	l.Close()
	var comps []string
	for _, line := range logtest.Lines(t, l.Path) {
		comps = append(comps, line["component"].(string))
	}
	if got := strings.Join(comps, ","); got != "mai,sandbox,gate" {
		t.Errorf("components = %s, want mai,sandbox,gate", got)
	}
	data, _ := os.ReadFile(l.Path)
	if !bytes.Contains(data, []byte(`"time"`)) || bytes.Count(data, []byte(`"time"`)) != 3 {
		t.Errorf("every line needs its one time field:\n%s", data)
	}
}

func TestLevelFilters(t *testing.T) {
	dir := t.TempDir()
	l, err := New(Options{Dir: dir, Level: "warn", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.Logger.Info().Msg("hidden")
	l.Logger.Warn().Msg("shown")
	l.Close()
	data, _ := os.ReadFile(l.Path)
	if strings.Contains(string(data), "hidden") || !strings.Contains(string(data), "shown") {
		t.Errorf("log = %s", data)
	}
}

func TestSecretsNeverReachTheLog(t *testing.T) {
	const token = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GaBcDe.planted-token-value_xyz"
	const pin = `pi"n\1234`
	dir := t.TempDir()
	var console bytes.Buffer
	l, err := New(Options{Dir: dir, Level: "debug", MaxSizeMB: 1, Console: &console, Secrets: []string{token, pin, "ab"}})
	if err != nil {
		t.Fatal(err)
	}
	l.Logger.Info().Str("token", token).Msg("connecting with " + token)
	l.Logger.Error().Str("pin", pin).Msgf("auth header Bot %s failed", token)
	l.Logger.Info().Msg("a b ab abc") // short "secrets" are not redacted
	l.Close()
	data, err := os.ReadFile(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"file": string(data), "console": console.String()} {
		if strings.Contains(out, "planted-token-value") || strings.Contains(out, `pi\"n\\1234`) || strings.Contains(out, pin) {
			t.Errorf("%s output leaks a secret:\n%s", name, out)
		}
		if strings.Count(out, "[REDACTED]") < 4 {
			t.Errorf("%s output should show [REDACTED] where secrets were:\n%s", name, out)
		}
		if !strings.Contains(out, "a b ab abc") {
			t.Errorf("%s output over-redacted:\n%s", name, out)
		}
	}
}

func TestRotationAtTinySize(t *testing.T) {
	dir := t.TempDir()
	// lumberjack counts in megabytes; 1 MB is its smallest limit.
	l, err := New(Options{Dir: dir, Level: "info", MaxSizeMB: 1, MaxBackups: 2, Compress: false})
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("x", 4000)
	for i := 0; i < 800; i++ { // ≈ 3.2 MB → at least 3 files, 2 backups kept
		l.Logger.Info().Int("i", i).Str("pad", payload).Msg("filler")
	}
	l.Close()
	entries, err := os.ReadDir(filepath.Join(dir, ".logs"))
	if err != nil {
		t.Fatal(err)
	}
	var backups int
	for _, e := range entries {
		info, _ := e.Info()
		if info.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over the 1 MB limit", e.Name(), info.Size())
		}
		if e.Name() != "mai.log" && strings.HasPrefix(e.Name(), "mai-") {
			backups++
		}
	}
	// lumberjack removes surplus backups in a goroutine; allow for it lagging.
	if backups < 1 || backups > 3 {
		t.Errorf("backups = %d, want rotation with at most MaxBackups kept (entries %v)", backups, entries)
	}
}

func TestUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".logs"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "log directory") {
		t.Fatalf("err = %v", err)
	}
}

// SetLevel changes what every logger made from the daemon's writes,
// including component loggers made before; a bad name changes nothing.
func TestSetLevelWhileRunning(t *testing.T) {
	dir := t.TempDir()
	l, err := New(Options{Dir: dir, Level: "info", MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	comp := Component(l.Logger, "router")
	comp.Debug().Msg("debug-one")
	if err := l.SetLevel("debug"); err != nil {
		t.Fatal(err)
	}
	comp.Debug().Msg("debug-two")
	if err := l.SetLevel("loud"); err == nil {
		t.Error("an unknown level was accepted")
	}
	comp.Debug().Msg("debug-three")
	if err := l.SetLevel("error"); err != nil {
		t.Fatal(err)
	}
	comp.Warn().Msg("warn-four")
	l.Close()
	data, _ := os.ReadFile(l.Path)
	for want, shown := range map[string]bool{"debug-one": false, "debug-two": true, "debug-three": true, "warn-four": false} {
		if strings.Contains(string(data), want) != shown {
			t.Errorf("%s shown = %v, want %v:\n%s", want, !shown, shown, data)
		}
	}
}
