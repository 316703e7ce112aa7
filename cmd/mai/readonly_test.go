package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/maicompanion/mai/internal/lockfile"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/migrations"
)

// offline is an environment with no backend to reach.
func offline(data string) map[string]string {
	return map[string]string{"MAI_DATA_DIR": data, "OLLAMA_ENDPOINT": "http://127.0.0.1:9", "LMSTUDIO_ENDPOINT": "http://127.0.0.1:9", "GPU_VRAM_AVAILABLE": "8"}
}

// readCommands are the commands that must only read.
var readCommands = [][]string{
	{"status", "--json"},
	{"models", "status", "--json"},
	{"memory", "stats", "--json"},
	{"memory", "search", "passport", "--user", alice},
	{"memory", "facts", "--user", alice},
	{"memory", "export"},
	{"audit", "verify", "--json"},
	{"audit", "list", "--json"},
	{"approvals", "list", "--json"},
}

// files lists every file under dir with its content.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[strings.TrimPrefix(p, dir)] = string(b)
		}
		return nil
	})
	return out
}

// TestReadCommandsCreateNothing: on a machine with no database yet the read
// commands create neither the database nor the log file; status still
// reports, the memory commands say there is no memory yet.
func TestReadCommandsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, args := range readCommands {
		r := runMai(t, dir, offline(data), args...)
		switch {
		case args[0] != "memory" && r.code != 0:
			t.Errorf("%v: %+v", args, r)
		case args[0] == "memory" && (r.code != 1 || !strings.Contains(r.stderr, "no memory yet")):
			t.Errorf("%v without a database: %+v", args, r)
		}
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("read commands created %v", slices.Sorted(mapsKeys(got)))
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestReadCommandsWhileTheDaemonHoldsTheLock: with the daemon's lock held
// the read commands answer and leave every file as it was.
func TestReadCommandsWhileTheDaemonHoldsTheLock(t *testing.T) {
	dir := t.TempDir()
	seedMemory(t, dir)
	data := filepath.Join(dir, "data")
	lock, err := lockfile.Acquire(filepath.Join(data, "mai.pid"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	before := files(t, dir)
	for _, args := range readCommands {
		if r := runMai(t, dir, offline(data), args...); r.code != 0 {
			t.Errorf("%v: %+v", args, r)
		}
	}
	after := files(t, dir)
	for name, content := range after {
		if strings.HasSuffix(name, "-wal") || strings.HasSuffix(name, "-shm") {
			continue // SQLite's own files for reading a WAL database
		}
		if old, ok := before[name]; !ok {
			t.Errorf("read commands created %s", name)
		} else if old != content {
			t.Errorf("read commands changed %s", name)
		}
	}
}

// TestReadCommandsDoNotMigrate: an older database is reported, not
// upgraded (and not backed up for an upgrade); a newer one is reported.
func TestReadCommandsDoNotMigrate(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path := filepath.Join(data, "mai.db")
	older := fstest.MapFS{}
	for _, name := range []string{"0001_meta.sql", "0002_memory.sql"} {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		older[name] = &fstest.MapFile{Data: b}
	}
	db, err := store.Open(context.Background(), path, store.Options{Migrations: older})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, args := range readCommands {
		r := runMai(t, dir, offline(data), args...)
		if r.code != 1 || !strings.Contains(r.stderr, "start 'mai serve' once to upgrade it") {
			t.Errorf("%v on an older database: %+v", args, r)
		}
	}
	db, err = store.OpenReadOnly(context.Background(), path, store.Options{Migrations: older})
	if err != nil {
		t.Fatalf("the database was changed: %v", err)
	}
	db.Close()
	if baks, _ := filepath.Glob(path + ".bak-*"); len(baks) != 0 {
		t.Errorf("backups for an upgrade: %v", baks)
	}

	db, err = store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, '9999_future.sql', 'x', 'now')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, args := range readCommands[:3] {
		if r := runMai(t, dir, offline(data), args...); r.code != 1 || !strings.Contains(r.stderr, "newer Mai") {
			t.Errorf("%v on a newer database: %+v", args, r)
		}
	}
}

// TestReadCommandsBesideRunningServe: a real `mai serve` process runs; the
// read commands answer, see it running, and add nothing to its log.
func TestReadCommandsBesideRunningServe(t *testing.T) {
	dir := t.TempDir()
	seedMemory(t, dir)
	data := filepath.Join(dir, "data")
	env := offline(data)
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	cmd, out := maiProcess(t, dir, envList, "serve")
	logPath := filepath.Join(data, ".logs", "mai.log")
	waitFor(t, func() bool {
		b, _ := os.ReadFile(logPath)
		return bytes.Contains(b, []byte("memory compression pass")) && bytes.Contains(b, []byte("control socket listening"))
	})
	logBefore, _ := os.ReadFile(logPath)
	for _, args := range readCommands {
		r := runMai(t, dir, env, args...)
		if r.code != 0 {
			t.Errorf("%v beside the daemon: %+v", args, r)
		}
		if args[0] == "status" {
			var rep statusReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.Daemon.Running || rep.Daemon.PID != cmd.Process.Pid {
				t.Errorf("status beside the daemon (pid %d): %+v %v", cmd.Process.Pid, rep.Daemon, err)
			}
		}
		if args[1] == "search" && !strings.Contains(r.stdout, "alice keeps the passport") {
			t.Errorf("search beside the daemon: %+v", r)
		}
	}
	if logAfter, _ := os.ReadFile(logPath); !bytes.Equal(logBefore, logAfter) {
		t.Errorf("the read commands wrote to the daemon's log:\n%s", bytes.TrimPrefix(logAfter, logBefore))
	}
	if cmd.ProcessState != nil {
		t.Fatalf("serve exited: %s", out)
	}
}
