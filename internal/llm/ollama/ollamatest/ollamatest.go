// Package ollamatest runs a real Ollama for tests: it finds the ollama binary
// (.ci/ollama.sh builds it), starts `ollama serve` on a free loopback port with
// its own scratch HOME and model store, writes tiny random-weight GGUF models
// and registers them with `ollama create`. No weights are downloaded and no
// registry is contacted.
//
// A test that needs its own server (to kill it) calls Start; tests that only
// read share one server per test binary through a Shared held by TestMain:
//
//	var ollama = &ollamatest.Shared{}
//
//	func TestMain(m *testing.M) { os.Exit(ollamatest.Main(m, ollama)) }
//
//	func TestX(t *testing.T) { srv := ollama.Server(t); … srv.URL() … }
package ollamatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/gguf"
	"github.com/maicompanion/mai/internal/testenv"
)

// Version is the Ollama release .ci/ollama.sh builds.
const Version = "v0.17.4"

// The models every server has. Their output is random text that never ends
// by itself (except StopModel's): pass a token limit (num_predict).
const (
	// ChatModel is a tiny llama (about 270 KB) with chat and tools capabilities.
	ChatModel = "mai-tiny-chat:latest"
	// LargeChatModel is a bigger tiny llama (about 1.6 MB), for tests that
	// need two chat models of different sizes.
	LargeChatModel = "mai-tiny-chat-large:latest"
	// StopModel is ChatModel's shape with a strong end-of-sequence weight, so
	// answers end by themselves ("stop"), often before any text.
	StopModel = "mai-tiny-stop:latest"
	// EmbedModel has mean pooling: Ollama embeds with it and refuses chat.
	EmbedModel = "mai-tiny-embed:latest"
)

// modelSpec is one model to write and register.
type modelSpec struct {
	name     string
	config   gguf.TinyConfig
	template string
}

// chatTemplate mentions .Tools so Ollama lists the tools capability; the
// tool-call parser only runs for requests that pass tools.
const chatTemplate = `{{- if .Tools }}<|tools|>{{ range .Tools }}{{ .Function.Name }} {{ end }}
{{ end }}{{- range .Messages }}<|{{ .Role }}|>{{ .Content }}
{{ end }}<|assistant|>`

func specs() []modelSpec {
	return []modelSpec{
		{ChatModel, gguf.TinyConfig{Name: "mai-tiny-chat", Seed: 1, ContextLength: 4096}, chatTemplate},
		{LargeChatModel, gguf.TinyConfig{Name: "mai-tiny-chat-large", Seed: 2, ContextLength: 4096,
			Embedding: 128, Blocks: 4, Heads: 4, FeedForward: 256}, chatTemplate},
		{StopModel, gguf.TinyConfig{Name: "mai-tiny-stop", Seed: 3, ContextLength: 4096, StopEarly: true}, chatTemplate},
		{EmbedModel, gguf.TinyConfig{Name: "mai-tiny-embed", Seed: 4, ContextLength: 512, Embedder: true}, ""},
	}
}

// Server is a running `ollama serve` with the tiny models registered.
type Server struct {
	bin  string
	dir  string // scratch: HOME, models, logs
	host string // 127.0.0.1:port
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *os.File

	stopOnce sync.Once
	exitErr  error // how the process ended; read after done is closed
}

// URL is the base URL of the server, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.host }

// Host is the server's address as OLLAMA_HOST takes it.
func (s *Server) Host() string { return s.host }

// Bin is the path of the ollama binary.
func (s *Server) Bin() string { return s.bin }

// Models lists the names of the registered models.
func (s *Server) Models() []string {
	var names []string
	for _, m := range specs() {
		names = append(names, m.name)
	}
	return names
}

// Logs returns the end of the server's log, for failure messages.
func (s *Server) Logs() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "serve.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// env is the environment of the server and of CLI commands run against it.
func (s *Server) env() []string {
	env := []string{
		"HOME=" + s.dir,
		"OLLAMA_HOST=" + s.host,
		"OLLAMA_MODELS=" + filepath.Join(s.dir, "models"),
		"OLLAMA_NOPRUNE=1",
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OLLAMA_") || strings.HasPrefix(kv, "HOME=") {
			continue // the developer's own Ollama settings must not leak in
		}
		env = append(env, kv)
	}
	return env
}

// Run runs the ollama CLI against the server (e.g. "ps") and returns its
// combined output.
func (s *Server) Run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env()
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ollama %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Kill ends the server and its model runners at once with SIGKILL, as a crash
// would; requests in flight fail. It waits for the process to exit.
func (s *Server) Kill() error {
	return s.stop(syscall.SIGKILL)
}

// Stop ends the server gracefully, then by force after 5 seconds. It removes
// nothing: the scratch directory belongs to whoever created it.
func (s *Server) Stop() error {
	return s.stop(syscall.SIGTERM)
}

func (s *Server) stop(sig syscall.Signal) error {
	s.stopOnce.Do(func() {
		// The server runs in its own process group, with its runners.
		_ = syscall.Kill(-s.cmd.Process.Pid, sig)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		// Runners left behind by a killed server would hold the port's models.
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.log.Close()
	})
	return nil
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// errNoBinary means no ollama binary was found; tests skip or fail through
// testenv.Missing.
var errNoBinary = errors.New("no ollama binary in OLLAMA_BIN, on PATH, or in the .ci/ollama.sh cache")

// FindBinary returns the ollama binary: $OLLAMA_BIN, then ollama on PATH,
// then the cache of .ci/ollama.sh (${MAI_CACHE_DIR:-/var/cache/mai-ci}/ollama-<version>/bin/ollama).
func FindBinary() (string, error) {
	if p := os.Getenv("OLLAMA_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("OLLAMA_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("ollama"); err == nil {
		return p, nil
	}
	cache := os.Getenv("MAI_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(string(filepath.Separator), "var", "cache", "mai-ci")
	}
	p := filepath.Join(cache, "ollama-"+Version, "bin", "ollama")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", errNoBinary
}

// missing reports err through testenv.Missing when it is a missing binary,
// and fails the test otherwise.
func missing(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNoBinary) {
		testenv.Missing(t, "ollama", err.Error(), "run .ci/ollama.sh (it builds Ollama "+Version+" from source and prints the path) and set OLLAMA_BIN to that path")
		return
	}
	t.Fatalf("ollamatest: %v", err)
}

// Start starts a server for this test alone and stops it in t.Cleanup. Use it
// when the test kills or otherwise disturbs the server.
func Start(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := start(ctx, t.TempDir())
	if err != nil {
		missing(t, err)
		return nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ollama serve log (end):\n%s", s.Logs())
		}
		_ = s.Stop()
	})
	return s
}

// Shared is one server for all the tests of a test binary, started on first
// use. Hold it in the test package and close it from TestMain (see Main).
type Shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Server returns the shared server, starting it on first use; a test that
// cannot have one is skipped or failed through testenv.Missing.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() {
		sh.dir, sh.err = os.MkdirTemp("", "ollamatest-")
		if sh.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sh.srv, sh.err = start(ctx, sh.dir)
	})
	if sh.err != nil {
		missing(t, sh.err)
		return nil
	}
	if sh.srv.Exited() {
		t.Fatalf("ollamatest: the shared ollama serve has exited; log:\n%s", sh.srv.Logs())
	}
	return sh.srv
}

// Close stops the shared server, if it was started, and removes its files.
func (sh *Shared) Close() {
	if sh.srv != nil {
		_ = sh.srv.Stop()
	}
	if sh.dir != "" {
		_ = os.RemoveAll(sh.dir)
	}
}

// Main runs the tests and then closes sh; call it from TestMain.
func Main(m *testing.M, sh *Shared) int {
	defer sh.Close()
	return m.Run()
}

// start runs ollama serve in dir and registers the models.
func start(ctx context.Context, dir string) (*Server, error) {
	bin, err := FindBinary()
	if err != nil {
		return nil, err
	}
	var s *Server
	// The port is free when chosen and taken by ollama a moment later; another
	// process may win it in between, so try a few ports.
	for attempt := 0; ; attempt++ {
		s, err = serve(ctx, bin, dir)
		if err == nil || attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.register(ctx); err != nil {
		logs := s.Logs()
		_ = s.Stop()
		return nil, fmt.Errorf("%w\nollama serve log (end):\n%s", err, logs)
	}
	return s, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func serve(ctx context.Context, bin, dir string) (*Server, error) {
	host, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, host: host, log: log, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.env()
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = procAttr()
	if err := s.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		logs := s.Logs()
		_ = s.Kill()
		return nil, fmt.Errorf("%w\nollama serve log (end):\n%s", err, logs)
	}
	return s, nil
}

// waitReady polls /api/version until the server answers.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/version", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("ollama serve exited before answering: %v", s.exitErr)
		case <-ctx.Done():
			return fmt.Errorf("ollama serve did not answer /api/version at %s: %w", s.URL(), ctx.Err())
		case <-tick.C:
		}
	}
}

// register writes each tiny model and its Modelfile and runs ollama create.
func (s *Server) register(ctx context.Context) error {
	src := filepath.Join(s.dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	for _, m := range specs() {
		base := strings.TrimSuffix(m.name, ":latest")
		f, err := gguf.TinyLlama(m.config)
		if err != nil {
			return fmt.Errorf("generate %s: %w", m.name, err)
		}
		if err := f.WriteFile(filepath.Join(src, base+".gguf")); err != nil {
			return fmt.Errorf("write %s: %w", m.name, err)
		}
		modelfile := "FROM ./" + base + ".gguf\n" +
			// Ollama's default thread count makes a tiny model slower and
			// erratic on two cores.
			"PARAMETER num_thread 1\n"
		if m.template != "" {
			modelfile += "TEMPLATE \"\"\"" + m.template + "\"\"\"\n"
		}
		mf := filepath.Join(src, base+".Modelfile")
		if err := os.WriteFile(mf, []byte(modelfile), 0o644); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, s.bin, "create", m.name, "-f", mf)
		cmd.Env = s.env()
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ollama create %s: %w: %s", m.name, err, lastLine(out))
		}
	}
	return nil
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 {
		s = s[i+1:]
	}
	return s
}
