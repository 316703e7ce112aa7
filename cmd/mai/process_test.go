package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the real mai process, so the tests
// below can run it as a child and send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("MAI_TEST_AS_MAI") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// maiProcess starts this test binary as `mai args…` with a minimal environment.
func maiProcess(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	return startMai(t, os.Args[0], dir, env, args...)
}

// startMai starts bin (this test binary, or a mai binary built from this
// package) as `mai args…` in dir with a minimal environment plus env.
func startMai(t *testing.T, bin, dir string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"MAI_TEST_AS_MAI=1", "HOME=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, &out
}

// interrupt sends the process SIGINT (Ctrl-C) and waits up to within for
// it to exit cleanly.
func interrupt(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, within time.Duration) {
	t.Helper()
	stopWith(t, cmd, out, syscall.SIGINT, within)
}

// stopWith sends the process sig and waits up to within for it to exit
// cleanly.
func stopWith(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, sig syscall.Signal, within time.Duration) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out)
		}
	case <-time.After(within):
		t.Fatalf("serve did not stop on %v", sig)
	}
}

// With no .env and nothing configured, serve starts, says what is missing
// and how to configure it, and stops cleanly on Ctrl-C (SIGINT).
func TestServeProcessStopsOnCtrlC(t *testing.T) {
	dir := t.TempDir()
	cmd, out := maiProcess(t, dir, []string{"OLLAMA_ENDPOINT=http://127.0.0.1:9", "LMSTUDIO_ENDPOINT=http://127.0.0.1:9"}, "serve")
	logPath := filepath.Join(dir, ".local", "share", "mai", ".logs", "mai.log")
	waitFor(t, func() bool { b, _ := os.ReadFile(logPath); return bytes.Contains(b, []byte("mai is running")) })
	interrupt(t, cmd, out, 15*time.Second)
	log, _ := os.ReadFile(logPath)
	for _, want := range []string{"Discord is off: put DISCORD_BOT_TOKEN", "Ollama is not reachable", "stopped cleanly"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if !strings.Contains(out.String(), "press Ctrl-C to stop") {
		t.Errorf("stderr: %s", out)
	}
}

func TestBadConfigProcessExitStatus(t *testing.T) {
	dir := t.TempDir()
	cmd, out := maiProcess(t, dir, []string{"GPU_VRAM_AVAILABLE=lots"}, "serve")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2", err)
	}
	if strings.Count(strings.TrimSpace(out.String()), "\n") != 0 || !strings.Contains(out.String(), "GPU_VRAM_AVAILABLE") {
		t.Errorf("want one line naming the variable, got %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".local")); err == nil {
		t.Error("a bad value must stop Mai before it creates anything")
	}
}
