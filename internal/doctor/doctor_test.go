package doctor

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/testenv"
)

func server(t *testing.T, routes map[string]func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s.URL
}

func reply(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }
}

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func TestOllama(t *testing.T) {
	ctx := context.Background()
	up := server(t, map[string]func(http.ResponseWriter, *http.Request){
		"/api/version": reply(`{"version":"0.17.4"}`),
		"/api/tags":    reply(`{"models":[{"name":"a"},{"name":"b"}]}`),
	})
	empty := server(t, map[string]func(http.ResponseWriter, *http.Request){
		"/api/version": reply(`{"version":"0.17.4"}`),
		"/api/tags":    reply(`{"models":[]}`),
	})
	html := server(t, map[string]func(http.ResponseWriter, *http.Request){
		"/api/version": reply(`<html>proxy login</html>`),
	})
	cases := []struct {
		name, url string
		want      Status
		detail    string
	}{
		{"up", up, OK, "Ollama 0.17.4 at " + up + ", 2 models"},
		{"no models", empty, Warn, "has no models"},
		{"not ollama", html, Warn, "HTML page"},
		{"refused", "http://127.0.0.1:9", Warn, "not reachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := checkOllama(ctx, http.DefaultClient, tc.url)
			if r.Status != tc.want || !strings.Contains(r.Detail, tc.detail) || (r.Status != OK && r.Fix == "") {
				t.Errorf("%+v", r)
			}
		})
	}
}

func TestLMStudio(t *testing.T) {
	ctx := context.Background()
	native := server(t, map[string]func(http.ResponseWriter, *http.Request){
		"/api/v1/models": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer sk-lm" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"models":[{"key":"qwen/qwen3-8b"}]}`))
		},
	})
	old := server(t, map[string]func(http.ResponseWriter, *http.Request){
		"/api/v1/models": status(http.StatusNotFound),
		"/api/v0/models": reply(`{"object":"list","data":[{"id":"a"},{"id":"b"},{"id":"c"}]}`),
	})
	if r := checkLMStudio(ctx, http.DefaultClient, native, "sk-lm"); r.Status != OK || !strings.Contains(r.Detail, "1 models") {
		t.Errorf("native: %+v", r)
	}
	if r := checkLMStudio(ctx, http.DefaultClient, native, "wrong"); r.Status != Fail || !strings.Contains(r.Fix, "LMSTUDIO_API_TOKEN") {
		t.Errorf("bad token: %+v", r)
	}
	if r := checkLMStudio(ctx, http.DefaultClient, old, ""); r.Status != OK || !strings.Contains(r.Detail, "v0 API") {
		t.Errorf("v0: %+v", r)
	}
}

func TestDiscord(t *testing.T) {
	ctx := context.Background()
	api := server(t, map[string]func(http.ResponseWriter, *http.Request){
		"/api/v9/users/@me": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bot good-token" {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"message": "401: Unauthorized", "code": 0}`))
				return
			}
			w.Write([]byte(`{"id":"111","username":"mai","bot":true}`))
		},
	}) + "/api/v9"
	cfg := func(token, owner, url string) *config.Config {
		return &config.Config{DiscordBotToken: config.Secret(token), DiscordUserID: owner, DiscordAPIURL: url}
	}
	cases := []struct {
		name string
		cfg  *config.Config
		want Status
	}{
		{"no token", cfg("", "", api), Warn},
		{"valid", cfg("good-token", "222", api), OK},
		{"valid, no owner", cfg("good-token", "", api), Warn},
		{"rejected", cfg("bad-token", "222", api), Fail},
		{"offline", cfg("good-token", "222", "http://127.0.0.1:9/api/v9"), Warn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := checkDiscord(ctx, http.DefaultClient, tc.cfg)
			if r.Status != tc.want {
				t.Errorf("%+v", r)
			}
			if strings.Contains(r.Detail+r.Fix, "good-token") || strings.Contains(r.Detail+r.Fix, "bad-token") {
				t.Errorf("token in result: %+v", r)
			}
		})
	}
}

func TestGit(t *testing.T) {
	ctx := context.Background()
	missing := func(string) (string, error) { return "", errors.New("not found") }
	if r := checkGit(ctx, missing); r.Status != Fail || r.Fix == "" {
		t.Errorf("%+v", r)
	}
}

func TestDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mai.db")
	if r := checkDatabase(ctx, path); r.Status != OK || !strings.Contains(r.Detail, "not created yet") {
		t.Errorf("%+v", r)
	}
}

func TestDataDirNotWritable(t *testing.T) {
	if r := checkDataDir("/proc/mai-cannot-exist"); r.Status != Fail || r.Fix == "" {
		t.Errorf("%+v", r)
	}
}

func TestRunBoundsSlowChecks(t *testing.T) {
	slow := Check{Name: "slow", Run: func(ctx context.Context) Result {
		time.Sleep(5 * time.Second) // ignores ctx, like a stuck library call
		return Result{Status: OK}
	}}
	fast := Check{Name: "fast", Run: func(context.Context) Result { return Result{Status: OK, Detail: "fine"} }}
	start := time.Now()
	rs := Run(context.Background(), []Check{slow, fast}, 50*time.Millisecond)
	if time.Since(start) > 2*time.Second {
		t.Errorf("Run waited for the stuck check")
	}
	if rs[0].Name != "slow" || rs[0].Status != Fail || rs[1].Name != "fast" || rs[1].Status != OK {
		t.Errorf("%+v", rs)
	}
	if !Failed(rs) {
		t.Error("Failed = false")
	}
}

func TestSummarize(t *testing.T) {
	rs := Summarize([]Result{{Name: "ollama", Status: Warn}, {Name: "lmstudio", Status: OK}})
	if last := rs[len(rs)-1]; last.Name != "models" || last.Status != OK {
		t.Errorf("%+v", rs)
	}
	rs = Summarize([]Result{{Name: "ollama", Status: Warn}, {Name: "lmstudio", Status: Warn}})
	if last := rs[len(rs)-1]; last.Status != Fail {
		t.Errorf("%+v", rs)
	}
}

func TestDockerUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	r := checkDocker(context.Background(), func() (*client.Client, error) { return client.New(client.FromEnv) }, "python:3.12-slim")
	if r.Status != Warn || !strings.Contains(r.Detail, "not reachable") || r.Fix == "" {
		t.Errorf("%+v", r)
	}
}

func TestDockerReal(t *testing.T) {
	newClient := func() (*client.Client, error) { return client.New(client.FromEnv) }
	cli, _ := newClient()
	if _, err := cli.Ping(context.Background(), client.PingOptions{}); err != nil {
		testenv.Missing(t, "dockerd", err.Error(), "run .ci/docker.sh (as root) or start Docker")
	}
	r := checkDocker(context.Background(), newClient, "mai-test/none:absent")
	if r.Status != Warn || !strings.Contains(r.Detail, "engine ") || !strings.Contains(r.Detail, "is missing") {
		t.Errorf("%+v", r)
	}
}
