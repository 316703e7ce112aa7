package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/testenv"
)

// sandboxEnv checks that dockerd and the test images from .ci/docker.sh
// are there, and returns an environment whose SANDBOX_DOCKER_IMAGE is the
// Python test image, plus the shell image's name.
func sandboxEnv(t *testing.T) (env map[string]string, shellImage string) {
	t.Helper()
	pyImage := os.Getenv("MAI_TEST_PYTHON_IMAGE")
	if pyImage == "" {
		pyImage = "mai-test/python:3-bookworm"
	}
	shellImage = os.Getenv("MAI_TEST_SHELL_IMAGE")
	if shellImage == "" {
		shellImage = "mai-test/busybox:1"
	}
	fix := "run 'eval \"$(.ci/docker.sh)\"' as root"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := sandbox.New(ctx, sandbox.Options{})
	if err != nil {
		testenv.Missing(t, "dockerd", err.Error(), fix)
	}
	defer s.Close()
	for _, img := range []string{pyImage, shellImage} {
		if st, err := s.ImageStatus(ctx, img); err != nil || !st.Present {
			testenv.Missing(t, "test image "+img, "not built on this engine", fix)
		}
	}
	return map[string]string{"SANDBOX_DOCKER_IMAGE": pyImage}, shellImage
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runOutput is the --json document of 'mai sandbox run'.
type runOutput struct {
	ExitCode   int    `json:"exit_code"`
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	TimedOut   bool   `json:"timed_out"`
	OOMKilled  bool   `json:"oom_killed"`
	Truncated  bool   `json:"truncated"`
	DurationMS *int64 `json:"duration_ms"`
	Refused    bool   `json:"refused"`
	Error      string `json:"error"`
	Risk       *struct {
		Verdict  string `json:"verdict"`
		Findings []struct {
			Rule string `json:"rule"`
		} `json:"findings"`
	} `json:"risk"`
	Approval *struct {
		By string `json:"by"`
	} `json:"approval"`
}

func decodeRun(t *testing.T, r result) runOutput {
	t.Helper()
	var out runOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	for _, key := range []string{`"exit_code"`, `"stdout"`, `"stderr"`, `"timed_out"`, `"oom_killed"`, `"truncated"`, `"duration_ms"`, `"risk"`} {
		if !strings.Contains(r.stdout, key) {
			t.Errorf("--json output lacks %s", key)
		}
	}
	return out
}

func TestSandboxRunJSON(t *testing.T) {
	env, shImage := sandboxEnv(t)
	dir := t.TempDir()
	writeFile(t, dir, "hello.py", "import sys\nprint('hello', sys.stdin.read().strip())\n")
	writeFile(t, dir, "in.txt", "from stdin\n")
	writeFile(t, dir, "hello.sh", "echo from sh; exit 4\n")
	writeFile(t, dir, "slow.sh", "sleep 100\n")
	writeFile(t, dir, "blocked.sh", "rm -rf /\n")
	writeFile(t, dir, "high.py", "import subprocess\nsubprocess.run(['echo', 'approved'])\n")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, out runOutput)
	}{
		{"python with stdin", []string{"--stdin", "in.txt", "hello.py"}, 0, func(t *testing.T, out runOutput) {
			if out.Stdout != "hello from stdin\n" || out.ExitCode != 0 || out.Risk.Verdict != "LOW" || out.DurationMS == nil {
				t.Errorf("%+v", out)
			}
		}},
		{"sh exit code", []string{"--image", shImage, "hello.sh"}, 1, func(t *testing.T, out runOutput) {
			if out.Stdout != "from sh\n" || out.ExitCode != 4 || out.Refused {
				t.Errorf("%+v", out)
			}
		}},
		{"timeout", []string{"--image", shImage, "--timeout", "1s", "slow.sh"}, 1, func(t *testing.T, out runOutput) {
			if !out.TimedOut {
				t.Errorf("timed_out = false: %+v", out)
			}
		}},
		{"BLOCKED refused", []string{"--image", shImage, "--yes", "blocked.sh"}, 1, func(t *testing.T, out runOutput) {
			if !out.Refused || out.Risk.Verdict != "BLOCKED" || len(out.Risk.Findings) == 0 || !strings.Contains(out.Error, "BLOCKED") {
				t.Errorf("%+v", out)
			}
		}},
		{"HIGH without a decision", []string{"--wait", "1s", "high.py"}, 1, func(t *testing.T, out runOutput) {
			if !out.Refused || out.Risk.Verdict != "HIGH" || !strings.Contains(out.Error, "withdrawn") || !strings.Contains(out.Error, "mai approvals approve") {
				t.Errorf("%+v", out)
			}
		}},
		{"HIGH with --yes", []string{"--yes", "high.py"}, 0, func(t *testing.T, out runOutput) {
			if out.Refused || out.Stdout != "approved\n" || out.Approval == nil || out.Approval.By != "--yes" {
				t.Errorf("%+v", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"sandbox", "run", "--json"}, tt.args...)
			r := runMai(t, dir, env, args...)
			if r.code != tt.wantCode {
				t.Errorf("exit status %d, want %d\nstdout %s\nstderr %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			tt.check(t, decodeRun(t, r))
		})
	}
}

func TestSandboxRunText(t *testing.T) {
	env, shImage := sandboxEnv(t)
	dir := t.TempDir()
	writeFile(t, dir, "blocked.sh", "rm -rf /\n")
	writeFile(t, dir, "env.py", "import os\nprint(os.environ.get('HOME'))\n")

	r := runMai(t, dir, env, "sandbox", "run", "env.py")
	if r.code != 0 || r.stdout != "/work\n" || !strings.Contains(r.stderr, "mai: exit 0") || !strings.Contains(r.stderr, "risk MEDIUM") {
		t.Errorf("MEDIUM job: %+v", r)
	}
	r = runMai(t, dir, env, "sandbox", "run", "--image", shImage, "blocked.sh")
	if r.code != 1 || !strings.Contains(r.stderr, "BLOCKED") || r.stdout != "" {
		t.Errorf("BLOCKED job: %+v", r)
	}
}

func TestSandboxImageAndPS(t *testing.T) {
	env, shImage := sandboxEnv(t)
	r := runMai(t, "", env, "sandbox", "image", "--json", "--image", shImage)
	var st sandbox.ImageStatus
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || !st.Present || st.Image != shImage {
		t.Errorf("image status: %+v", r)
	}
	r = runMai(t, "", env, "sandbox", "image", "--image", "127.0.0.1:9/mai/none:latest")
	if r.code != 1 || !strings.Contains(r.stdout, "not on the Docker engine") {
		t.Errorf("missing image status: %+v", r)
	}
	r = runMai(t, "", env, "sandbox", "image", "pull", "--image", "127.0.0.1:9/mai/none:latest")
	if r.code != 1 || !strings.Contains(r.stderr, "docker load") {
		t.Errorf("pull from a closed port: %+v", r)
	}
	r = runMai(t, "", env, "sandbox", "pull", "--image", "127.0.0.1:9/mai/none:latest")
	if r.code != 1 || !strings.Contains(r.stderr, "docker load") {
		t.Errorf("'sandbox pull' is 'sandbox image pull': %+v", r)
	}
	r = runMai(t, "", env, "sandbox", "ps", "--json")
	var jobs []sandbox.JobInfo
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &jobs) != nil {
		t.Errorf("ps --json: %+v", r)
	}
	r = runMai(t, "", env, "sandbox", "ps")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "JOB") {
		t.Errorf("ps: %+v", r)
	}
}

func TestSandboxErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "x.py", "print(1)\n")
	noDocker := map[string]string{"DOCKER_HOST": "unix://" + filepath.Join(dir, "none.sock")}
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string
	}{
		{"no subcommand", nil, []string{"sandbox"}, 2, "run, image, pull, ps"},
		{"unknown subcommand", nil, []string{"sandbox", "frob"}, 2, "unknown subcommand"},
		{"no file", nil, []string{"sandbox", "run"}, 2, "name one FILE"},
		{"bad memory", nil, []string{"sandbox", "run", "--memory", "lots", "x.py"}, 2, "--memory"},
		{"missing file", noDocker, []string{"sandbox", "run", "nope.py"}, 1, "read code"},
		{"stopped daemon", noDocker, []string{"sandbox", "run", "x.py"}, 1, "start Docker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMai(t, dir, tt.env, tt.args...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", r.code, tt.wantCode, r.stderr, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"256m", 256 << 20, true}, {"1G", 1 << 30, true}, {"512k", 512 << 10, true}, {"1048576", 1 << 20, true},
		{"", 0, false}, {"-1m", 0, false}, {"lots", 0, false}, {"99999999999g", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Without --lang, code runs as the language the risk analyser detects (one
// detector for the CLI, the gate and mai risk); python when it cannot tell.
func TestRunLanguage(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"job.py", "print(1)\n", "python"},
		{"job.sh", "echo hi\n", "sh"},
		{"job", "#!/bin/bash\necho hi\n", "sh"},
		{"job", "#!/usr/bin/env python3\nprint(1)\n", "python"},
		{"-", "for f in *.txt; do echo \"$f\"; done\n", "sh"},
		{"job", "import os\nprint(os.getcwd())\n", "python"},
		{"job.SH", "echo hi\n", "sh"},
		{"main.go", "package main\n\nfunc main() {}\n", "go"},
		{"-", "}{ ((\n", "python"}, // neither parser accepts it
	}
	for _, tt := range tests {
		if got := runLanguage(context.Background(), tt.name, []byte(tt.src)); got != tt.want {
			t.Errorf("%s %q runs as %s, want %s", tt.name, tt.src, got, tt.want)
		}
	}
}
