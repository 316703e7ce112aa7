package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func lookupFrom(m map[string]string) LookupFunc {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeDotenv(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func entry(t *testing.T, c *Config, name string) Entry {
	t.Helper()
	for _, e := range c.Entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return Entry{}
}

func TestDefaults(t *testing.T) {
	c, err := Load(lookupFrom(map[string]string{"HOME": "/home/owner"}), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/home/owner/.local/share/mai" {
		t.Errorf("DataDir = %q", c.DataDir)
	}
	if c.MemoryDBPath != "/home/owner/.local/share/mai/mai.db" || c.ModelCacheDir != "/home/owner/.local/share/mai/models" {
		t.Errorf("paths = %q %q", c.MemoryDBPath, c.ModelCacheDir)
	}
	if FormatEndpoints(c.OllamaEndpoints) != "http://localhost:11434" || FormatEndpoints(c.LMStudioEndpoints) != "http://localhost:1234" {
		t.Errorf("endpoints = %+v %+v", c.OllamaEndpoints, c.LMStudioEndpoints)
	}
	if c.SandboxImage != "python:3.12-slim" || c.CPUCores < 1 || c.GPUVRAMGB != 0 || c.LogLevel != "info" {
		t.Errorf("config = %+v", c)
	}
	if c.Log != (LogConfig{MaxSizeMB: 10, MaxBackups: 5, MaxAgeDays: 28, Compress: true}) {
		t.Errorf("log = %+v", c.Log)
	}
	for _, e := range c.Entries {
		if e.Source != SourceDefault {
			t.Errorf("%s source = %s, want default", e.Name, e.Source)
		}
	}
	c, err = Load(lookupFrom(map[string]string{"HOME": "/home/owner", "XDG_DATA_HOME": "/xdg"}), t.TempDir())
	if err != nil || c.DataDir != "/xdg/mai" {
		t.Fatalf("XDG: %v %q", err, c.DataDir)
	}
}

func TestPrecedence(t *testing.T) {
	dir := writeDotenv(t, "# comment\n\nOLLAMA_ENDPOINT=http://dotenv:1\nexport GPU_VRAM_AVAILABLE=\"8\"\nMAI_DATA_DIR=/from/dotenv\nDISCORD_BOT_TOKEN='tok.en'\n")
	c, err := Load(lookupFrom(map[string]string{"OLLAMA_ENDPOINT": "http://env:2", "HOME": "/h"}), dir)
	if err != nil {
		t.Fatal(err)
	}
	if FormatEndpoints(c.OllamaEndpoints) != "http://env:2" || entry(t, c, "OLLAMA_ENDPOINT").Source != SourceEnv {
		t.Errorf("environment must win over .env: %+v", c.OllamaEndpoints)
	}
	if c.GPUVRAMGB != 8 || entry(t, c, "GPU_VRAM_AVAILABLE").Source != SourceDotenv {
		t.Errorf("GPU from .env: %v", c.GPUVRAMGB)
	}
	if c.MemoryDBPath != "/from/dotenv/mai.db" {
		t.Errorf("defaults derive from the data dir: %q", c.MemoryDBPath)
	}
	if c.DiscordBotToken.Reveal() != "tok.en" || entry(t, c, "DISCORD_BOT_TOKEN").Value != "[REDACTED]" {
		t.Errorf("token %q shown as %q", c.DiscordBotToken.Reveal(), entry(t, c, "DISCORD_BOT_TOKEN").Value)
	}
	if got := c.Secrets(); len(got) != 1 || got[0] != "tok.en" {
		t.Errorf("Secrets() = %v", got)
	}
}

func TestBadValues(t *testing.T) {
	cases := []struct{ name, value, want string }{
		{"OLLAMA_ENDPOINT", "notaurl", "http"},
		{"LMSTUDIO_ENDPOINT", "ftp://x", "http"},
		{"OLLAMA_ENDPOINT", "http://a:1,http://b:2=lots", "GB"},
		{"OLLAMA_ENDPOINT", "http://a:1,http://a:1", "twice"},
		{"OLLAMA_ENDPOINT", ",", "no URL"},
		{"OLLAMA_ENDPOINT", "http://127.0.0.1:11434=8", "another machine"},
		{"GPU_VRAM_HEADROOM", "some", "percentage"},
		{"GPU_VRAM_HEADROOM", "120%", "percentage"},
		{"GPU_VRAM_AVAILABLE", "lots", "gigabytes"},
		{"GPU_VRAM_AVAILABLE", "-1", "gigabytes"},
		{"CPU_CORES_AVAILABLE", "-3", "≥ 1"},
		{"CPU_CORES_AVAILABLE", "two", "≥ 1"},
		{"DISCORD_USER_ID", "abc", "numeric"},
		{"LOG_LEVEL", "loud", "debug"},
		{"LOG_MAX_SIZE_MB", "0", "≥ 1"},
		{"LOG_COMPRESS", "maybe", "true or false"},
		{"MAI_MODELS", "gpt-4", "ollama:MODEL"},
		{"SANDBOX_DOCKER_IMAGE", "a b", "image"},
	}
	for _, tc := range cases {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := Load(lookupFrom(map[string]string{tc.name: tc.value, "HOME": "/h"}), t.TempDir())
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			msg := err.Error()
			if ce.Var != tc.name || !strings.Contains(msg, tc.name) || !strings.Contains(msg, tc.value) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("message %q should name %s, %q and %q on one line", msg, tc.name, tc.value, tc.want)
			}
		})
	}
}

func TestEndpointListsAndHeadroom(t *testing.T) {
	c, err := Load(lookupFrom(map[string]string{
		"HOME":              "/h",
		"OLLAMA_ENDPOINT":   "http://localhost:11434, http://gpu-box:11434/=24,https://other:443=7.5GB",
		"GPU_VRAM_HEADROOM": "10%",
	}), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := []Endpoint{{URL: "http://localhost:11434"}, {URL: "http://gpu-box:11434", BudgetGB: 24}, {URL: "https://other:443", BudgetGB: 7.5}}
	if !slices.Equal(c.OllamaEndpoints, want) {
		t.Errorf("endpoints = %+v", c.OllamaEndpoints)
	}
	if v := entry(t, c, "OLLAMA_ENDPOINT").Value; v != "http://localhost:11434,http://gpu-box:11434=24,https://other:443=7.5" {
		t.Errorf("shown as %q", v)
	}
	const gib = 1 << 30
	// 10 % of a 24 GiB card is 2576980377 bytes (2.4 GiB).
	if h := c.VRAMHeadroom.Bytes(24 * gib); h != 2576980377 || entry(t, c, "GPU_VRAM_HEADROOM").Value != "10%" {
		t.Errorf("10%% of 24 GiB = %d", h)
	}
	// The default: 5 % of the card, but at least 512 MiB.
	for total, want := range map[int64]int64{8 * gib: 512 << 20, 140 * gib: 7 * gib} {
		if got := (Headroom{}).Bytes(total); got != want {
			t.Errorf("default headroom of %d = %d, want %d", total, got, want)
		}
	}
	if got := (Headroom{GB: 1.5, Set: true}).Bytes(8 * gib); got != 1610612736 {
		t.Errorf("1.5 GB = %d", got)
	}
}

func TestOnThisMachine(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "[::1]": true, "192.168.1.20": false, "gpu-box": false} {
		if got := (Endpoint{URL: "http://" + host + ":11434"}).OnThisMachine(); got != want {
			t.Errorf("%s on this machine = %v", host, got)
		}
	}
}

func TestSecretNeverInError(t *testing.T) {
	_, err := Load(lookupFrom(map[string]string{"DISCORD_BOT_TOKEN": "sek ret", "HOME": "/h"}), t.TempDir())
	if err == nil || strings.Contains(err.Error(), "sek ret") {
		t.Fatalf("err = %v", err)
	}
	_, err = Load(lookupFrom(map[string]string{"MAI_PIN": "12", "HOME": "/h"}), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "MAI_PIN") || strings.Contains(err.Error(), "12") {
		t.Fatalf("err = %v", err)
	}
	dir := writeDotenv(t, "OK=1\nDISCORD_BOT_TOKEN sekret-value\n")
	_, err = Load(lookupFrom(nil), dir)
	if err == nil || strings.Contains(err.Error(), "sekret-value") {
		t.Fatalf("err = %v", err)
	}
}

func TestMalformedDotenv(t *testing.T) {
	cases := []struct {
		name, content string
		line          int
	}{
		{"no equals", "A=1\n# ok\nthis is not a line\n", 3},
		{"bad name", "A=1\nB=2\n\n1BAD=3\n", 4},
		{"unclosed quote", "A=1\nB=\"open\nC=2\n", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(lookupFrom(nil), writeDotenv(t, tc.content))
			var ce *Error
			if !errors.As(err, &ce) || ce.Line != tc.line {
				t.Fatalf("err = %v, want line %d", err, tc.line)
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("message %q should give the line", err)
			}
		})
	}
	// Multi-line quoted values are valid.
	c, err := Load(lookupFrom(map[string]string{"HOME": "/h"}), writeDotenv(t, "MAI_PIN=\"12\n34\"\nLOG_LEVEL=debug\n"))
	if err != nil || c.LogLevel != "debug" || c.PIN.Reveal() != "12\n34" {
		t.Fatalf("multi-line: %v %+v", err, c)
	}
}

func TestUnreadableDotenv(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Load(lookupFrom(nil), dir)
	if err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretFormatting(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{s.String(), s.GoString()} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("leaked: %s", got)
		}
	}
	b, _ := s.MarshalText()
	if string(b) != "[REDACTED]" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestEnvExampleIsCurrent(t *testing.T) {
	data, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != Example() {
		t.Errorf(".env.example is out of date: regenerate it with 'go run ./cmd/mai config --example > .env.example'")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document %s", name)
		}
	}
}

// The owner's $XDG_CONFIG_HOME/mai/.env is read from any directory, below
// the environment and the working directory's .env, and each entry names
// the file its value came from.
func TestUserDotenv(t *testing.T) {
	cfgHome := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfgHome, "mai"), 0o700); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(cfgHome, "mai", ".env")
	if err := os.WriteFile(user, []byte("OLLAMA_ENDPOINT=http://user:1\nLOG_LEVEL=debug\nMAI_FACTS_EVERY=3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeDotenv(t, "LOG_LEVEL=warn\n")
	c, err := Load(lookupFrom(map[string]string{"XDG_CONFIG_HOME": cfgHome, "HOME": "/h"}), dir)
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(t, c, "OLLAMA_ENDPOINT"); len(c.OllamaEndpoints) != 1 || c.OllamaEndpoints[0].URL != "http://user:1" || e.Source != SourceUserDotenv || e.File != user {
		t.Errorf("from the user file: %+v %+v", c.OllamaEndpoints, e)
	}
	if e := entry(t, c, "LOG_LEVEL"); c.LogLevel != "warn" || e.File != filepath.Join(dir, ".env") {
		t.Errorf("the working directory's .env must win: %q %+v", c.LogLevel, e)
	}
	if c.Chat.FactsEvery != 3 {
		t.Errorf("MAI_FACTS_EVERY = %d", c.Chat.FactsEvery)
	}
	if got := UserDotenv(lookupFrom(map[string]string{"HOME": "/home/ann"})); got != "/home/ann/.config/mai/.env" {
		t.Errorf("without XDG_CONFIG_HOME: %s", got)
	}
}
