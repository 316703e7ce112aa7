package ollamatest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

var shared = &Shared{}

func TestMain(m *testing.M) { os.Exit(Main(m, shared)) }

func getJSON(t *testing.T, method, url, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestSharedServerHasTheModels(t *testing.T) {
	srv := shared.Server(t)
	var version struct{ Version string }
	getJSON(t, "GET", srv.URL()+"/api/version", "", &version)
	if "v"+version.Version != Version {
		t.Errorf("version %q, want %s", version.Version, Version)
	}
	var tags struct{ Models []struct{ Name string } }
	getJSON(t, "GET", srv.URL()+"/api/tags", "", &tags)
	var names []string
	for _, m := range tags.Models {
		names = append(names, m.Name)
	}
	for _, want := range srv.Models() {
		if !slices.Contains(names, want) {
			t.Errorf("/api/tags lists %v, missing %s", names, want)
		}
	}
	caps := map[string][]string{
		ChatModel:  {"completion", "tools"},
		EmbedModel: {"embedding"},
	}
	for model, want := range caps {
		var show struct{ Capabilities []string }
		getJSON(t, "POST", srv.URL()+"/api/show", `{"model":"`+model+`"}`, &show)
		for _, c := range want {
			if !slices.Contains(show.Capabilities, c) {
				t.Errorf("%s capabilities %v lack %s", model, show.Capabilities, c)
			}
		}
	}
	if again := shared.Server(t); again != srv {
		t.Error("Shared started a second server")
	}
}

func TestStartAndKill(t *testing.T) {
	srv := Start(t)
	out, err := srv.Run(context.Background(), "list")
	if err != nil || !strings.Contains(string(out), "mai-tiny-chat") {
		t.Fatalf("ollama list: %v\n%s", err, out)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if !srv.Exited() {
		t.Fatal("server still running after Kill")
	}
	c := http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(srv.URL() + "/api/version"); err == nil {
		resp.Body.Close()
		t.Fatal("killed server still answers")
	}
}
