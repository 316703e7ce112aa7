// Package config reads Mai's configuration once, from the process
// environment and from .env in the working directory (the environment wins),
// into one typed, validated Config. Every variable is described in vars.go;
// that table drives parsing, defaults, `mai config` and .env.example.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Source says where a value came from.
type Source string

const (
	SourceDefault Source = "default"
	SourceEnv     Source = "environment"
	SourceDotenv  Source = ".env"
	// SourceUserDotenv is the owner's file, $XDG_CONFIG_HOME/mai/.env
	// (~/.config/mai/.env), read so that the CLI finds the daemon's
	// configuration from any directory.
	SourceUserDotenv Source = "user .env"
)

// Secret is a string that never prints itself: fmt, %v, JSON and logs see
// "[REDACTED]" (or "" when empty). Use Reveal where the value is really needed.
type Secret string

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString redacts the value for %#v too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText redacts the value in JSON and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Config is Mai's effective configuration.
type Config struct {
	DataDir  string
	LogLevel string
	Log      LogConfig

	DiscordBotToken Secret
	DiscordUserID   string
	DiscordAPIURL   string
	// DiscordEditInterval is the least time between two edits of a streamed reply.
	DiscordEditInterval time.Duration
	// DiscordRefuseOthers sends non-owners one refusal a day; false stays silent.
	DiscordRefuseOthers bool
	// DiscordFooter ends replies with model, tokens/s and context use.
	DiscordFooter bool

	LMStudioEndpoints []Endpoint
	LMStudioAPIToken  Secret
	OllamaEndpoints   []Endpoint
	// Models is the model preference list, each "backend:model".
	Models []string

	MemoryDBPath string
	// BackupKeep is how many daily backups `mai serve` keeps.
	BackupKeep    int
	ModelCacheDir string
	Workspace     string

	CPUCores int
	// GPUVRAMGB overrides the VRAM probe when > 0.
	GPUVRAMGB float64
	// VRAMHeadroom is kept free on each GPU; unset means the default.
	VRAMHeadroom Headroom

	SandboxImage string
	// SandboxPoolSize is how many started sandbox containers the daemon
	// keeps ready per job shape, each used once and replaced; 0 turns the
	// pool off.
	SandboxPoolSize int
	// SandboxGoImage is a Go-capable image for checks of Mai's own source;
	// empty leaves those checks unavailable.
	SandboxGoImage string
	// SourceRepo is a checkout of Mai's source that self-modification may
	// target; empty when not configured.
	SourceRepo string
	// Reviewer is the second agent that reviews self-modifications:
	// local (the router's model), anthropic, opencode, openai or none.
	Reviewer string
	// The optional reviewers' settings.
	AnthropicAPIKey  Secret
	AnthropicModel   string
	AnthropicURL     string
	OpenCodeURL      string
	OpenCodePassword Secret
	ReviewEndpoint   string
	ReviewAPIKey     Secret
	ReviewModel      string
	Chat             ChatConfig
	// ApprovalRemind and ApprovalExpire time an unanswered approval request.
	ApprovalRemind time.Duration
	ApprovalExpire time.Duration
	// Notify is what the owner is told without asking.
	Notify NotifyConfig
	// PIN, when set, must accompany requests on the control socket.
	PIN Secret

	// Entries records every variable's effective value and source, in table order.
	Entries []Entry
}

// ChatConfig tunes the chat core.
type ChatConfig struct {
	MaxToolCalls int
	FactsEvery   int // 0: only at /remember
	ShowThinking bool
}

// LogConfig sets rotation of the log file.
type LogConfig struct {
	MaxSizeMB  int
	MaxBackups int
	MaxAgeDays int
	Compress   bool
}

// Entry is one variable as `mai config` shows it.
type Entry struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source Source `json:"source"`
	File   string `json:"file,omitempty"` // the .env file it came from
	Secret bool   `json:"secret,omitempty"`
	Help   string `json:"help"`
}

// Secrets returns the non-empty values of the variables the table marks
// secret, for log redaction: a new secret variable is redacted by being
// marked so, with nothing to add here.
func (c *Config) Secrets() []string {
	var out []string
	for _, v := range vars() {
		if v.secret != nil && v.secret(c) != "" {
			out = append(out, v.secret(c).Reveal())
		}
	}
	return out
}

// Error is a configuration problem: one line naming the variable (or the
// .env line), the bad value and the expected form.
type Error struct {
	Var    string // variable name, or "" for a .env syntax error
	Value  string // the offending value, already redacted for secrets
	Expect string
	File   string
	Line   int
}

func (e *Error) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Expect)
	}
	return fmt.Sprintf("invalid %s=%q: %s", e.Var, e.Value, e.Expect)
}

// LookupFunc looks up an environment variable, like os.LookupEnv.
type LookupFunc func(string) (string, bool)

// Load reads the environment through lookup, the .env file in dir (if
// any) and the owner's $XDG_CONFIG_HOME/mai/.env (if any), in that order of
// precedence, applies defaults, and validates everything. The first problem
// found is returned as an *Error.
func Load(lookup LookupFunc, dir string) (*Config, error) {
	local := filepath.Join(dir, ".env")
	dotenv, err := readDotenv(local)
	if err != nil {
		return nil, err
	}
	user := UserDotenv(lookup)
	userEnv := map[string]string{}
	if user != "" {
		if userEnv, err = readDotenv(user); err != nil {
			return nil, err
		}
	}
	get := func(name string) (string, Source, string, bool) {
		if v, ok := lookup(name); ok {
			return v, SourceEnv, "", true
		}
		if v, ok := dotenv[name]; ok {
			return v, SourceDotenv, local, true
		}
		if v, ok := userEnv[name]; ok {
			return v, SourceUserDotenv, user, true
		}
		return "", SourceDefault, "", false
	}
	cfg := &Config{}
	for _, v := range vars() {
		raw, src, file, ok := get(v.name)
		if ok && strings.TrimSpace(raw) == "" {
			ok, src, file = false, SourceDefault, "" // an empty value means "use the default"
		}
		if !ok {
			raw = v.def(cfg, lookup)
		}
		if err := v.set(cfg, strings.TrimSpace(raw)); err != nil {
			shown := raw
			if v.secret != nil {
				shown = Secret(raw).String()
			}
			return nil, &Error{Var: v.name, Value: shown, Expect: err.Error()}
		}
		cfg.Entries = append(cfg.Entries, Entry{Name: v.name, Value: v.shown(cfg), Source: src, File: file, Secret: v.secret != nil, Help: v.help})
	}
	return cfg, nil
}

// UserDotenv returns the owner's configuration file:
// $XDG_CONFIG_HOME/mai/.env, else $HOME/.config/mai/.env; "" when neither
// variable is set.
func UserDotenv(lookup LookupFunc) string {
	if x, ok := lookup("XDG_CONFIG_HOME"); ok && filepath.IsAbs(x) {
		return filepath.Join(x, "mai", ".env")
	}
	if h, ok := lookup("HOME"); ok && filepath.IsAbs(h) {
		return filepath.Join(h, ".config", "mai", ".env")
	}
	return ""
}

// readDotenv parses path with godotenv after checking each line ourselves,
// because godotenv's errors do not say which line is wrong. A missing file
// is not an error.
func readDotenv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, &Error{File: path, Line: 0, Expect: fmt.Sprintf("cannot read: %v (fix its permissions or remove it)", err)}
	}
	if line, msg := checkDotenv(string(data)); line > 0 {
		return nil, &Error{File: path, Line: line, Expect: msg}
	}
	env, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, &Error{File: path, Line: 1, Expect: fmt.Sprintf("cannot parse: %v", err)}
	}
	return env, nil
}

// checkDotenv finds the first line that is not blank, a comment, or
// [export] NAME=VALUE, and says what is wrong with it. Quoted values that
// span lines are allowed, as godotenv allows them.
func checkDotenv(text string) (int, string) {
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			name, value, ok = strings.Cut(line, ":")
		}
		name = strings.TrimSpace(name)
		// The line itself is not echoed: it may hold a secret.
		if !ok {
			return i + 1, "expected NAME=value (no '=' found), e.g. OLLAMA_ENDPOINT=http://localhost:11434"
		}
		if !validName(name) {
			return i + 1, fmt.Sprintf("%q is not a variable name (letters, digits and _; not starting with a digit)", truncate(name, 40))
		}
		value = strings.TrimSpace(value)
		if q := quoteOf(value); q != 0 && !closedQuote(value[1:], q) {
			// A quoted value may continue on following lines until its closing quote.
			start := i
			for i++; i < len(lines) && !closedQuote(lines[i], q); i++ {
			}
			if i >= len(lines) {
				return start + 1, fmt.Sprintf("value of %s opens a %c quote that is never closed", name, q)
			}
		}
	}
	return 0, ""
}

func quoteOf(v string) byte {
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		return v[0]
	}
	return 0
}

func closedQuote(s string, q byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && q == '"' {
			i++
			continue
		}
		if s[i] == q {
			return true
		}
	}
	return false
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '.') {
			continue
		}
		return false
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Names returns every variable name Mai reads, sorted.
func Names() []string {
	var out []string
	for _, v := range vars() {
		out = append(out, v.name)
	}
	sort.Strings(out)
	return out
}

// Example renders the .env.example template: every variable, commented out
// at its default, with its help text.
func Example() string {
	var b strings.Builder
	b.WriteString("# Mai configuration. Copy to .env (never commit .env) and uncomment what you change.\n")
	b.WriteString("# The real environment wins over this file. `mai config` shows the effective values.\n")
	for _, v := range vars() {
		fmt.Fprintf(&b, "\n# %s", v.help)
		if v.secret != nil {
			b.WriteString(" (secret: never logged or printed)")
		}
		def := v.defDoc
		if strings.ContainsAny(def, " <$") {
			fmt.Fprintf(&b, "\n# default: %s\n# %s=\n", def, v.name)
			continue
		}
		fmt.Fprintf(&b, "\n# %s=%s\n", v.name, def)
	}
	return b.String()
}

// NotifyConfig configures the owner's notices (internal/notify).
type NotifyConfig struct {
	On            bool          // DM notices; false logs them only
	Interval      time.Duration // least time between two DMs
	ExpiryWarning time.Duration // lead of the warning before an approval expires
}
