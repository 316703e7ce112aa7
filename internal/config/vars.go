package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// variable describes one configuration variable: its default, how it is
// parsed into the Config, and how it is shown.
type variable struct {
	name string
	help string
	// secret, set for a secret variable, returns its value: `mai config`
	// shows it redacted, and Config.Secrets hands it to log redaction.
	secret func(c *Config) Secret
	// defDoc describes the default for people (.env.example, README).
	defDoc string
	// def computes the default; it may use values set by earlier rows.
	def  func(c *Config, lookup LookupFunc) string
	set  func(c *Config, raw string) error
	show func(c *Config) string
}

// shown is the value as `mai config` shows it: a secret always redacted.
func (v variable) shown(c *Config) string {
	if v.secret != nil {
		return v.secret(c).String()
	}
	return v.show(c)
}

func constant(s string) func(*Config, LookupFunc) string {
	return func(*Config, LookupFunc) string { return s }
}

// vars is the table of every variable, in dependency order: MAI_DATA_DIR
// comes first because other defaults live under it.
func vars() []variable {
	return []variable{
		{
			name: "MAI_DATA_DIR", help: "where Mai keeps its database, logs, models cache and workspace",
			defDoc: "$XDG_DATA_HOME/mai, else ~/.local/share/mai",
			def:    defaultDataDir,
			set:    pathVar(func(c *Config) *string { return &c.DataDir }),
			show:   func(c *Config) string { return c.DataDir },
		},
		{
			name: "LOG_LEVEL", help: "log level: debug, info, warn or error", defDoc: "info",
			def: constant("info"),
			set: func(c *Config, raw string) error {
				switch l := strings.ToLower(raw); l {
				case "debug", "info", "warn", "error":
					c.LogLevel = l
					return nil
				case "warning":
					c.LogLevel = "warn"
					return nil
				}
				return fmt.Errorf("expected one of debug, info, warn, error")
			},
			show: func(c *Config) string { return c.LogLevel },
		},
		intVar("LOG_MAX_SIZE_MB", "rotate the log file when it reaches this many megabytes", 10, 1, func(c *Config) *int { return &c.Log.MaxSizeMB }),
		intVar("LOG_MAX_BACKUPS", "rotated log files to keep", 5, 0, func(c *Config) *int { return &c.Log.MaxBackups }),
		intVar("LOG_MAX_AGE_DAYS", "days to keep rotated log files (0 keeps them regardless of age)", 28, 0, func(c *Config) *int { return &c.Log.MaxAgeDays }),
		boolVar("LOG_COMPRESS", "gzip rotated log files", true, func(c *Config) *bool { return &c.Log.Compress }),
		{
			name: "DISCORD_BOT_TOKEN", help: "Discord bot token; without it the daemon runs without Discord",
			secret: func(c *Config) Secret { return c.DiscordBotToken },
			def:    constant(""),
			set: func(c *Config, raw string) error {
				if strings.ContainsAny(raw, " \t") {
					return fmt.Errorf("expected a bot token without spaces (copy it from the Discord developer portal, Bot → Reset Token)")
				}
				c.DiscordBotToken = Secret(strings.TrimPrefix(raw, "Bot "))
				return nil
			},
		},
		{
			name: "DISCORD_USER_ID", help: "the owner's Discord user id (a number): the only user whose DMs and reactions count",
			def: constant(""),
			set: func(c *Config, raw string) error {
				if raw != "" {
					if n, err := strconv.ParseUint(raw, 10, 64); err != nil || n == 0 {
						return fmt.Errorf("expected a numeric Discord user id (Discord → Settings → Advanced → Developer Mode, then right-click your name → Copy User ID)")
					}
				}
				c.DiscordUserID = raw
				return nil
			},
			show: func(c *Config) string { return c.DiscordUserID },
		},
		urlVar("DISCORD_API_URL", "Discord REST API base URL (change only for testing)", "https://discord.com/api/v9", func(c *Config) *string { return &c.DiscordAPIURL }),
		durationVar("DISCORD_EDIT_INTERVAL", "least time between two edits of a streamed Discord reply (Discord rate-limits message edits)", "1.2s", func(c *Config) *time.Duration { return &c.DiscordEditInterval }),
		boolVar("DISCORD_REFUSE_OTHERS", "answer a Discord user who is not the owner with one short refusal a day (false: stay silent)", true, func(c *Config) *bool { return &c.DiscordRefuseOthers }),
		boolVar("DISCORD_FOOTER", "end each Discord reply with a footer: model, tokens/s and context use", true, func(c *Config) *bool { return &c.DiscordFooter }),
		endpointsVar("LMSTUDIO_ENDPOINT", "LM Studio server URL; a comma-separated list for several, each on another machine optionally with its VRAM budget in GB (http://gpu-box:1234=24)",
			"http://localhost:1234", func(c *Config) *[]Endpoint { return &c.LMStudioEndpoints }),
		{
			name: "LMSTUDIO_API_TOKEN", help: "LM Studio API token, when its server requires one",
			secret: func(c *Config) Secret { return c.LMStudioAPIToken },
			def:    constant(""),
			set:    func(c *Config, raw string) error { c.LMStudioAPIToken = Secret(raw); return nil },
		},
		endpointsVar("OLLAMA_ENDPOINT", "Ollama server URL; a comma-separated list for several, each on another machine optionally with its VRAM budget in GB (http://gpu-box:11434=24)",
			"http://localhost:11434", func(c *Config) *[]Endpoint { return &c.OllamaEndpoints }),
		{
			name: "MAI_MODELS", help: "model preference list, best first, each backend:model (e.g. ollama:qwen2.5:14b,lmstudio:qwen/qwen3-8b); empty picks by size",
			def: constant(""),
			set: func(c *Config, raw string) error {
				c.Models = nil
				for _, m := range strings.Split(raw, ",") {
					m = strings.TrimSpace(m)
					if m == "" {
						continue
					}
					backend, name, ok := strings.Cut(m, ":")
					if !ok || name == "" || (backend != "ollama" && backend != "lmstudio") {
						return fmt.Errorf("expected a comma-separated list of ollama:MODEL or lmstudio:MODEL, got %q", m)
					}
					c.Models = append(c.Models, m)
				}
				return nil
			},
			show: func(c *Config) string { return strings.Join(c.Models, ",") },
		},
		{
			name: "MEMORY_DB_PATH", help: "SQLite database file", defDoc: "<data dir>/mai.db",
			def:  func(c *Config, _ LookupFunc) string { return filepath.Join(c.DataDir, "mai.db") },
			set:  pathVar(func(c *Config) *string { return &c.MemoryDBPath }),
			show: func(c *Config) string { return c.MemoryDBPath },
		},
		intVar("MAI_BACKUP_KEEP", "daily database backups the daemon keeps in <data dir>/backups", 7, 1, func(c *Config) *int { return &c.BackupKeep }),
		{
			name: "MODEL_CACHE_DIR", help: "model files Mai may read for planning (GGUF headers; a link to LM Studio's models folder works) and the cache of what the backends reported about each model", defDoc: "<data dir>/models",
			def:  func(c *Config, _ LookupFunc) string { return filepath.Join(c.DataDir, "models") },
			set:  pathVar(func(c *Config) *string { return &c.ModelCacheDir }),
			show: func(c *Config) string { return c.ModelCacheDir },
		},
		{
			name: "MAI_WORKSPACE", help: "the git repository Mai may change (with approval), including its risk policy", defDoc: "<data dir>/workspace",
			def:  func(c *Config, _ LookupFunc) string { return filepath.Join(c.DataDir, "workspace") },
			set:  pathVar(func(c *Config) *string { return &c.Workspace }),
			show: func(c *Config) string { return c.Workspace },
		},
		{
			name: "CPU_CORES_AVAILABLE", help: "CPU cores the router and sandbox may plan with", defDoc: "all cores (runtime.NumCPU)",
			def: func(*Config, LookupFunc) string { return strconv.Itoa(runtime.NumCPU()) },
			set: func(c *Config, raw string) error {
				n, err := strconv.Atoi(raw)
				if err != nil || n < 1 {
					return fmt.Errorf("expected a whole number of cores ≥ 1 (this machine has %d)", runtime.NumCPU())
				}
				c.CPUCores = n
				return nil
			},
			show: func(c *Config) string { return strconv.Itoa(c.CPUCores) },
		},
		{
			name: "GPU_VRAM_AVAILABLE", help: "VRAM in GB the models may use; overrides the probe (nvidia-smi, AMD sysfs)", defDoc: "probed",
			def: constant(""),
			set: func(c *Config, raw string) error {
				if raw == "" {
					c.GPUVRAMGB = 0
					return nil
				}
				f, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToUpper(raw), "GB"), 64)
				if err != nil || f <= 0 || f > 4096 {
					return fmt.Errorf("expected a number of gigabytes such as 12 or 7.5 (leave it unset to probe)")
				}
				c.GPUVRAMGB = f
				return nil
			},
			show: func(c *Config) string {
				if c.GPUVRAMGB == 0 {
					return ""
				}
				return strconv.FormatFloat(c.GPUVRAMGB, 'f', -1, 64)
			},
		},
		{
			name: "GPU_VRAM_HEADROOM", help: "VRAM kept free on each GPU beside the models, in GB or as a percentage of the GPU's memory (10%)",
			defDoc: "5% or 0.5 GB, whichever is larger", def: constant(""),
			set: func(c *Config, raw string) error {
				h, err := parseHeadroom(raw)
				c.VRAMHeadroom = h
				return err
			},
			show: func(c *Config) string { return c.VRAMHeadroom.String() },
		},
		{
			name: "SANDBOX_DOCKER_IMAGE", help: "Docker image for code execution", defDoc: "python:3.12-slim",
			def: constant("python:3.12-slim"),
			set: func(c *Config, raw string) error {
				if strings.ContainsAny(raw, " \t") || strings.HasPrefix(raw, "-") {
					return fmt.Errorf("expected a Docker image reference such as python:3.12-slim")
				}
				c.SandboxImage = raw
				return nil
			},
			show: func(c *Config) string { return c.SandboxImage },
		},
		intVar("SANDBOX_POOL_SIZE", "started sandbox containers mai serve keeps ready for the next job, each used once and replaced (0: off)", 1, 0, func(c *Config) *int { return &c.SandboxPoolSize }),
		{
			name: "SANDBOX_GO_IMAGE", help: "Go-capable Docker image for the checks (go vet, go test) of changes to Mai's own source; unset leaves them unavailable",
			def: constant(""),
			set: func(c *Config, raw string) error {
				if strings.ContainsAny(raw, " \t") || strings.HasPrefix(raw, "-") {
					return fmt.Errorf("expected a Docker image reference such as golang:1.26")
				}
				c.SandboxGoImage = raw
				return nil
			},
			show: func(c *Config) string { return c.SandboxGoImage },
		},
		{
			name: "MAI_SOURCE_REPO", help: "a git checkout of Mai's own source that self-modification may change (with approval); unset: only the workspace",
			def: constant(""),
			set: func(c *Config, raw string) error {
				if raw == "" {
					c.SourceRepo = ""
					return nil
				}
				return pathVar(func(c *Config) *string { return &c.SourceRepo })(c, raw)
			},
			show: func(c *Config) string { return c.SourceRepo },
		},
		{
			name: "MAI_REVIEWER", help: "the second agent that reviews self-modifications: local (the router's model), anthropic, opencode, openai (REVIEW_ENDPOINT) or none", defDoc: "local",
			def: constant("local"),
			set: func(c *Config, raw string) error {
				switch r := strings.ToLower(raw); r {
				case "local", "none", "anthropic", "opencode", "openai":
					c.Reviewer = r
					return nil
				}
				return fmt.Errorf("expected local, anthropic, opencode, openai or none")
			},
			show: func(c *Config) string { return c.Reviewer },
		},
		secretVar("ANTHROPIC_API_KEY", "API key of the Anthropic reviewer (MAI_REVIEWER=anthropic)", func(c *Config) *Secret { return &c.AnthropicAPIKey }),
		stringVar("ANTHROPIC_MODEL", "the Anthropic reviewer's model", "claude-sonnet-4-5", func(c *Config) *string { return &c.AnthropicModel }),
		urlVar("ANTHROPIC_API_URL", "the Anthropic API's base URL (change only for testing or a proxy)", "https://api.anthropic.com", func(c *Config) *string { return &c.AnthropicURL }),
		urlVar("OPENCODE_URL", "the OpenCode server of the opencode reviewer (opencode serve)", "http://127.0.0.1:4096", func(c *Config) *string { return &c.OpenCodeURL }),
		secretVar("OPENCODE_SERVER_PASSWORD", "the OpenCode server's basic-auth password, when it has one", func(c *Config) *Secret { return &c.OpenCodePassword }),
		{
			name: "REVIEW_ENDPOINT", help: "an OpenAI-compatible API base URL for the openai reviewer (e.g. http://host:8000/v1)",
			def: constant(""),
			set: func(c *Config, raw string) error {
				if raw == "" {
					c.ReviewEndpoint = ""
					return nil
				}
				return urlVar("REVIEW_ENDPOINT", "", "http://host:8000/v1", func(c *Config) *string { return &c.ReviewEndpoint }).set(c, raw)
			},
			show: func(c *Config) string { return c.ReviewEndpoint },
		},
		secretVar("REVIEW_API_KEY", "the bearer key of REVIEW_ENDPOINT, when it needs one", func(c *Config) *Secret { return &c.ReviewAPIKey }),
		stringVar("REVIEW_MODEL", "the model the openai reviewer asks at REVIEW_ENDPOINT", "", func(c *Config) *string { return &c.ReviewModel }),
		intVar("MAI_CHAT_MAX_TOOL_CALLS", "most tool calls (run_code, remember, recall) the model may make in one answer", 5, 1, func(c *Config) *int { return &c.Chat.MaxToolCalls }),
		intVar("MAI_FACTS_EVERY", "learn facts about the owner every this many messages (0: only at /remember)", 6, 0, func(c *Config) *int { return &c.Chat.FactsEvery }),
		boolVar("MAI_SHOW_THINKING", "show a reasoning model's thinking instead of one \"thinking…\" line", false, func(c *Config) *bool { return &c.Chat.ShowThinking }),
		durationVar("APPROVAL_REMIND", "one reminder when an approval request is still unanswered after this long", "5m", func(c *Config) *time.Duration { return &c.ApprovalRemind }),
		durationVar("APPROVAL_EXPIRE", "an unanswered approval request expires (is not approved) after this long", "24h", func(c *Config) *time.Duration { return &c.ApprovalExpire }),
		boolVar("MAI_NOTIFY", "DM the owner when a component goes down or comes back, before an approval expires, and the audit log's head once a day (false: the log only)", true, func(c *Config) *bool { return &c.Notify.On }),
		durationVar("MAI_NOTIFY_INTERVAL", "least time between two notices DMed to the owner; notices meanwhile are sent together", "1m", func(c *Config) *time.Duration { return &c.Notify.Interval }),
		durationVar("MAI_NOTIFY_EXPIRY_WARNING", "warn the owner this long before an unanswered approval request expires", "15m", func(c *Config) *time.Duration { return &c.Notify.ExpiryWarning }),
		{
			name: "MAI_PIN", help: "the PIN the CLI presents for commands that decide approvals or change state, once one is stored with 'mai pin set'",
			secret: func(c *Config) Secret { return c.PIN },
			def:    constant(""),
			set: func(c *Config, raw string) error {
				if raw != "" && len(raw) < 4 {
					return fmt.Errorf("expected at least 4 characters")
				}
				c.PIN = Secret(raw)
				return nil
			},
		},
	}
}

func defaultDataDir(_ *Config, lookup LookupFunc) string {
	if x, ok := lookup("XDG_DATA_HOME"); ok && filepath.IsAbs(x) {
		return filepath.Join(x, "mai")
	}
	home, ok := lookup("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "mai")
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "mai")
}

func pathVar(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, raw string) error {
		if raw == "" || strings.ContainsRune(raw, 0) {
			return fmt.Errorf("expected a file system path")
		}
		p, err := filepath.Abs(expandHome(raw))
		if err != nil {
			return fmt.Errorf("expected a file system path: %v", err)
		}
		*field(c) = p
		return nil
	}
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

func urlVar(name, help, def string, field func(*Config) *string) variable {
	return variable{
		name: name, help: help, defDoc: def, def: constant(def),
		set: func(c *Config, raw string) error {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("expected an http:// or https:// URL such as %s", def)
			}
			*field(c) = strings.TrimRight(raw, "/")
			return nil
		},
		show: func(c *Config) string { return *field(c) },
	}
}

func intVar(name, help string, def, min int, field func(*Config) *int) variable {
	return variable{
		name: name, help: help, defDoc: strconv.Itoa(def), def: constant(strconv.Itoa(def)),
		set: func(c *Config, raw string) error {
			n, err := strconv.Atoi(raw)
			if err != nil || n < min {
				return fmt.Errorf("expected a whole number ≥ %d", min)
			}
			*field(c) = n
			return nil
		},
		show: func(c *Config) string { return strconv.Itoa(*field(c)) },
	}
}

func durationVar(name, help, def string, field func(*Config) *time.Duration) variable {
	return variable{
		name: name, help: help, defDoc: def, def: constant(def),
		set: func(c *Config, raw string) error {
			d, err := time.ParseDuration(raw)
			if err != nil || d <= 0 {
				return fmt.Errorf("expected a positive duration such as %s, 90s or 2h", def)
			}
			*field(c) = d
			return nil
		},
		show: func(c *Config) string { return field(c).String() },
	}
}

func boolVar(name, help string, def bool, field func(*Config) *bool) variable {
	return variable{
		name: name, help: help, defDoc: strconv.FormatBool(def), def: constant(strconv.FormatBool(def)),
		set: func(c *Config, raw string) error {
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("expected true or false")
			}
			*field(c) = b
			return nil
		},
		show: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

func endpointsVar(name, help, def string, field func(*Config) *[]Endpoint) variable {
	return variable{
		name: name, help: help, defDoc: def, def: constant(def),
		set: func(c *Config, raw string) error {
			eps, err := ParseEndpoints(raw)
			if err != nil {
				return fmt.Errorf("%w; expected URLs such as %s, or %s,http://gpu-box:11434=24", err, def, def)
			}
			*field(c) = eps
			return nil
		},
		show: func(c *Config) string { return FormatEndpoints(*field(c)) },
	}
}

// parseHeadroom reads GPU_VRAM_HEADROOM: "" for the default, a number of
// GB, or a percentage.
func parseHeadroom(raw string) (Headroom, error) {
	if raw == "" {
		return Headroom{}, nil
	}
	bad := fmt.Errorf("expected a number of gigabytes such as 1.5, or a percentage such as 10%%")
	if pct, ok := strings.CutSuffix(raw, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || f < 0 || f >= 100 {
			return Headroom{}, bad
		}
		return Headroom{Percent: f, Set: true}, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToUpper(raw), "GB"), 64)
	if err != nil || f < 0 || f > 1024 {
		return Headroom{}, bad
	}
	return Headroom{GB: f, Set: true}, nil
}

func secretVar(name, help string, field func(*Config) *Secret) variable {
	return variable{
		name: name, help: help, def: constant(""),
		secret: func(c *Config) Secret { return *field(c) },
		set:    func(c *Config, raw string) error { *field(c) = Secret(raw); return nil },
	}
}

func stringVar(name, help, def string, field func(*Config) *string) variable {
	return variable{
		name: name, help: help, defDoc: def, def: constant(def),
		set: func(c *Config, raw string) error {
			if strings.ContainsAny(raw, " \t\n") {
				return fmt.Errorf("expected a name without spaces")
			}
			*field(c) = raw
			return nil
		},
		show: func(c *Config) string { return *field(c) },
	}
}
