package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"github.com/moby/moby/client"

	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/ollama"
	"github.com/maicompanion/mai/internal/store"
)

// Env is what the checks need from outside the configuration.
type Env struct {
	// HTTP is used for Ollama, LM Studio and Discord.
	HTTP *http.Client
	// LookPath finds executables (exec.LookPath in production).
	LookPath func(string) (string, error)
	// Docker makes a Docker client; nil means client.New(client.FromEnv).
	Docker func() (*client.Client, error)
}

// Checks returns every check of Mai's set-up, in report order.
func Checks(cfg *config.Config, env Env) []Check {
	if env.HTTP == nil {
		env.HTTP = &http.Client{}
	}
	if env.LookPath == nil {
		env.LookPath = exec.LookPath
	}
	if env.Docker == nil {
		env.Docker = func() (*client.Client, error) { return client.New(client.FromEnv) }
	}
	checks := []Check{
		{"config", func(context.Context) Result { return checkConfig(cfg) }},
		{"data dir", func(context.Context) Result { return checkDataDir(cfg.DataDir) }},
		{"database", func(ctx context.Context) Result { return checkDatabase(ctx, cfg.MemoryDBPath) }},
		{"docker", func(ctx context.Context) Result { return checkDocker(ctx, env.Docker, cfg.SandboxImage) }},
	}
	// One check per endpoint: OLLAMA_ENDPOINT and LMSTUDIO_ENDPOINT are lists.
	for _, e := range cfg.OllamaEndpoints {
		checks = append(checks, Check{"ollama", func(ctx context.Context) Result { return checkOllama(ctx, env.HTTP, e.URL) }})
	}
	for _, e := range cfg.LMStudioEndpoints {
		checks = append(checks, Check{"lmstudio", func(ctx context.Context) Result {
			return checkLMStudio(ctx, env.HTTP, e.URL, cfg.LMStudioAPIToken.Reveal())
		}})
	}
	return append(checks,
		Check{"gpu", func(ctx context.Context) Result { return checkGPU(ctx, cfg.GPUVRAMGB) }},
		Check{"discord", func(ctx context.Context) Result { return checkDiscord(ctx, env.HTTP, cfg) }},
		Check{"git", func(ctx context.Context) Result { return checkGit(ctx, env.LookPath) }},
	)
}

// Summarize adds a "models" line that fails when no model backend answered:
// Mai can do nothing useful without one, though either alone is enough.
func Summarize(rs []Result) []Result {
	reachable, backends := 0, 0
	for _, r := range rs {
		if r.Name == "ollama" || r.Name == "lmstudio" {
			backends++
			if r.Status == OK {
				reachable++
			}
		}
	}
	if backends == 0 {
		return rs
	}
	if reachable == 0 {
		return append(rs, Result{Name: "models", Status: Fail, Detail: "no model backend is reachable",
			Fix: "start Ollama (`ollama serve`) or LM Studio's server (`lms server start`), or set OLLAMA_ENDPOINT / LMSTUDIO_ENDPOINT"})
	}
	return append(rs, Result{Name: "models", Status: OK, Detail: fmt.Sprintf("%d of %d backends reachable", reachable, backends)})
}

func checkConfig(cfg *config.Config) Result {
	counts := map[config.Source]int{}
	for _, e := range cfg.Entries {
		counts[e.Source]++
	}
	return Result{Status: OK, Detail: fmt.Sprintf("valid: %d from environment, %d from .env, %d defaults",
		counts[config.SourceEnv], counts[config.SourceDotenv], counts[config.SourceDefault])}
}

func checkDataDir(dir string) Result {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Result{Status: Fail, Detail: err.Error(), Fix: "set MAI_DATA_DIR to a directory you can write, or fix its permissions"}
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return Result{Status: Fail, Detail: fmt.Sprintf("%s is not writable: %v", dir, err), Fix: "fix the directory's permissions or set MAI_DATA_DIR"}
	}
	f.Close()
	os.Remove(f.Name())
	return Result{Status: OK, Detail: dir + " is writable"}
}

func checkDatabase(ctx context.Context, path string) Result {
	if err := store.FTS5Available(ctx); err != nil {
		return Result{Status: Fail, Detail: err.Error(), Fix: "rebuild with `make build` (it sets -tags sqlite_fts5)"}
	}
	r, err := store.Inspect(ctx, path)
	switch {
	case errors.Is(err, store.ErrNewerDatabase):
		return Result{Status: Fail, Detail: err.Error(), Fix: "install the newer Mai that wrote it, or restore an older backup"}
	case err != nil:
		return Result{Status: Fail, Detail: err.Error(), Fix: "restore a backup (`mai memory restore FILE`) or move the file away to start afresh"}
	case !r.Exists:
		return Result{Status: OK, Detail: fmt.Sprintf("%s not created yet; FTS5 present", path), Fix: "`mai serve` creates it"}
	case len(r.Status.Pending) > 0:
		return Result{Status: Warn, Detail: fmt.Sprintf("%d migrations pending (at %d of %d); FTS5 present", len(r.Status.Pending), len(r.Status.Applied), r.Status.Latest),
			Fix: "`mai serve` applies them after backing the database up"}
	}
	return Result{Status: OK, Detail: fmt.Sprintf("%s: migrations current (%d), FTS5 present", path, r.Status.Latest)}
}

func checkDocker(ctx context.Context, newClient func() (*client.Client, error), image string) Result {
	cli, err := newClient()
	if err != nil {
		return Result{Status: Warn, Detail: err.Error(), Fix: "check DOCKER_HOST; code execution is off until Docker answers"}
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return Result{Status: Warn, Detail: "Docker is not reachable: " + oneLine(err),
			Fix: "start Docker (`sudo systemctl start docker`) and make sure you may use it (`docker info`); code execution is off until then"}
	}
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return Result{Status: Warn, Detail: "Docker answered ping but not version: " + oneLine(err), Fix: "check `docker version`"}
	}
	detail := fmt.Sprintf("engine %s, API %s (client uses %s)", v.Version, v.APIVersion, cli.ClientVersion())
	if _, err := cli.ImageInspect(ctx, image); err != nil {
		return Result{Status: Warn, Detail: detail + fmt.Sprintf("; sandbox image %s is missing", image),
			Fix: "run `mai sandbox image pull`, or load an image with `docker load` and set SANDBOX_DOCKER_IMAGE"}
	}
	return Result{Status: OK, Detail: detail + fmt.Sprintf("; sandbox image %s present", image)}
}

// checkOllama asks Ollama through Mai's own client, so the check sees what
// the router will.
func checkOllama(ctx context.Context, hc *http.Client, endpoint string) Result {
	fix := "start it with `ollama serve`, or set OLLAMA_ENDPOINT (now " + endpoint + ")"
	c, err := ollama.New(endpoint, ollama.Options{HTTPClient: hc})
	if err != nil {
		return Result{Status: Fail, Detail: err.Error(), Fix: "set OLLAMA_ENDPOINT to Ollama's URL, e.g. http://localhost:11434"}
	}
	v, err := c.Version(ctx)
	if err != nil {
		return Result{Status: Warn, Detail: oneLine(err), Fix: backendFix(err, fix)}
	}
	models, err := c.Models(ctx)
	if err != nil {
		return Result{Status: Warn, Detail: "Ollama " + v + " answered but listing models failed: " + oneLine(err), Fix: "check Ollama's log"}
	}
	if len(models) == 0 {
		return Result{Status: Warn, Detail: fmt.Sprintf("Ollama %s at %s has no models", v, endpoint), Fix: "pull one, e.g. `ollama pull llama3.2:3b`"}
	}
	return Result{Status: OK, Detail: fmt.Sprintf("Ollama %s at %s, %d models", v, endpoint, len(models))}
}

// checkLMStudio asks LM Studio through Mai's own client (native API, or
// the v0 API of servers before 0.4).
func checkLMStudio(ctx context.Context, hc *http.Client, endpoint, token string) Result {
	fix := "start LM Studio's server (Developer tab, or `lms server start`), or set LMSTUDIO_ENDPOINT (now " + endpoint + ")"
	c := lmstudio.New(lmstudio.Config{Endpoint: endpoint, Token: token, HTTPClient: hc})
	models, err := c.Models(ctx)
	switch {
	case errors.Is(err, llm.ErrUnauthorized):
		return Result{Status: Fail, Detail: "LM Studio at " + endpoint + " refused the API token", Fix: "set LMSTUDIO_API_TOKEN to a token from LM Studio's server settings"}
	case err != nil:
		return Result{Status: Warn, Detail: oneLine(err), Fix: backendFix(err, fix)}
	case c.LegacyAPI():
		return Result{Status: OK, Detail: fmt.Sprintf("LM Studio (v0 API) at %s, %d models", endpoint, len(models)), Fix: "update LM Studio to 0.4 or later for model management"}
	}
	return Result{Status: OK, Detail: fmt.Sprintf("LM Studio at %s, %d models", endpoint, len(models))}
}

// backendFix is the fix for a model server that failed: how to start it
// when nothing answered, else a look at what answers at that address.
func backendFix(err error, start string) string {
	if errors.Is(err, llm.ErrUnreachable) {
		return start
	}
	return "check that the address is the server's API, not a proxy or web page, and read the server's log"
}

func checkGPU(ctx context.Context, overrideGB float64) Result {
	r, err := gpu.Probe(ctx, gpu.Options{OverrideGB: overrideGB})
	if err != nil {
		return Result{Status: Warn, Detail: "VRAM probe failed: " + oneLine(err), Fix: "set GPU_VRAM_AVAILABLE to your GPU's memory in GB"}
	}
	const gb = 1 << 30
	switch {
	case r.Source == gpu.SourceOverride:
		return Result{Status: OK, Detail: fmt.Sprintf("GPU_VRAM_AVAILABLE override in force: %.1f GB", float64(r.Total())/gb)}
	case r.CPUOnly():
		return Result{Status: Warn, Detail: "no GPU found (nvidia-smi, AMD sysfs): models will run on the CPU",
			Fix: "install the GPU driver tools, or set GPU_VRAM_AVAILABLE if the probe is wrong"}
	}
	names := make([]string, 0, len(r.Devices))
	for _, d := range r.Devices {
		names = append(names, d.Name)
	}
	return Result{Status: OK, Detail: fmt.Sprintf("%s: %s, %.1f GB free of %.1f GB", r.Source, strings.Join(names, ", "), float64(r.Free())/gb, float64(r.Total())/gb)}
}

func checkDiscord(ctx context.Context, hc *http.Client, cfg *config.Config) Result {
	if cfg.DiscordBotToken == "" {
		return Result{Status: Warn, Detail: "DISCORD_BOT_TOKEN is not set: Mai runs without Discord",
			Fix: "create a bot in the Discord developer portal and put its token in .env as DISCORD_BOT_TOKEN, with your id as DISCORD_USER_ID"}
	}
	var me struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Bot      bool   `json:"bot"`
	}
	err := getJSON(ctx, hc, cfg.DiscordAPIURL+"/users/@me", "Bot "+cfg.DiscordBotToken.Reveal(), &me)
	var he httpError
	switch {
	case errors.As(err, &he) && he.code == http.StatusUnauthorized:
		return Result{Status: Fail, Detail: "Discord rejected the bot token", Fix: "reset the token in the developer portal (Bot → Reset Token) and update DISCORD_BOT_TOKEN"}
	case err != nil:
		return Result{Status: Warn, Detail: "token not verified, Discord is unreachable: " + err.Error(), Fix: "check the network; Mai retries when it starts"}
	case cfg.DiscordUserID == "":
		return Result{Status: Warn, Detail: fmt.Sprintf("token valid for bot %s, but DISCORD_USER_ID is not set: nobody would be obeyed", me.Username),
			Fix: "set DISCORD_USER_ID to your own Discord user id"}
	}
	return Result{Status: OK, Detail: fmt.Sprintf("token valid for bot %s (%s); owner %s", me.Username, me.ID, cfg.DiscordUserID)}
}

func checkGit(ctx context.Context, lookPath func(string) (string, error)) Result {
	path, err := lookPath("git")
	if err != nil {
		return Result{Status: Fail, Detail: "git is not installed", Fix: "install git (`sudo apt-get install git`): Mai commits every change it makes"}
	}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return Result{Status: Fail, Detail: "git --version failed: " + oneLine(err), Fix: "reinstall git"}
	}
	return Result{Status: OK, Detail: strings.TrimSpace(string(out))}
}

// httpError is a non-2xx answer.
type httpError struct {
	code int
	body string
}

func (e httpError) Error() string {
	if e.body != "" {
		return fmt.Sprintf("HTTP %d: %s", e.code, e.body)
	}
	return fmt.Sprintf("HTTP %d", e.code)
}

// getJSON GETs url and decodes a JSON answer into v. auth, when set, is the
// whole Authorization header value (a bearer token is prefixed here).
func getJSON(ctx context.Context, hc *http.Client, url, auth string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if auth != "" {
		if !strings.HasPrefix(auth, "Bot ") {
			auth = "Bearer " + auth
		}
		req.Header.Set("Authorization", auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return netError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return httpError{code: resp.StatusCode, body: snippet(body)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("answer is not the expected JSON (%s): %v", snippet(body), err)
	}
	return nil
}

func netError(err error) error {
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer in time")
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("connection refused or host unknown (%v)", op.Err)
	}
	return errors.New(oneLine(err))
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
