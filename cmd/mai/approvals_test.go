package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/store"
)

// createRequest stores a pending code_run request in dataDir, as a waiting
// 'mai sandbox run' would, and returns it.
func createRequest(t *testing.T, dataDir, payload string) approval.Request {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dataDir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log, err := audit.Open(ctx, db.DB, audit.Options{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	r, err := approval.New(db.DB, approval.Options{Audit: log}).Create(ctx, approval.NewRequest{Kind: approval.KindCodeRun,
		Summary: "run python job j1 (main.py): HIGH — process.spawn", Payload: []byte(payload), Requester: approval.LocalOwner,
		Verdict: &risk.Verdict{Level: risk.High, Lang: risk.Python, Findings: []risk.Finding{{Rule: "process.spawn", Level: risk.High, Line: 1, Reason: "runs another program"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// maiExec runs this test binary as `mai args…` with stdin and waits.
func maiExec(t *testing.T, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	return execMai(t, os.Args[0], dir, env, stdin, args...)
}

// execMai runs bin (this test binary, or a mai binary built from this
// package) as `mai args…` with stdin and waits.
func execMai(t *testing.T, bin, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"MAI_TEST_AS_MAI=1", "HOME=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// The PIN path through the real binary: set, refused without it, right,
// wrong, and five wrong in a row locking even the right one out — each
// wrong PIN and the lock in the audit log.
func TestPINThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := []string{"MAI_DATA_DIR=" + data}
	if r := maiExec(t, dir, env, "2468\n", "pin", "set"); r.code != 0 {
		t.Fatalf("pin set: %+v", r)
	}
	first := createRequest(t, data, "import os\nos.system('true')\n")
	if r := maiExec(t, dir, env, "", "approvals", "approve", first.ID); r.code != 1 || !strings.Contains(r.stderr, "--pin-stdin") {
		t.Fatalf("approve without the PIN: %+v", r)
	}
	if r := maiExec(t, dir, env, "2468\n", "approvals", "approve", first.ID, "--pin-stdin"); r.code != 0 || !strings.Contains(r.stdout, "approved "+first.ID) {
		t.Fatalf("approve with the right PIN: %+v", r)
	}
	// The old PIN is needed to set a new one.
	if r := maiExec(t, dir, env, "1111\n1357\n", "pin", "set", "--pin-stdin"); r.code != 1 || !strings.Contains(r.stderr, "wrong PIN; 4 more") {
		t.Fatalf("pin set with a wrong old PIN: %+v", r)
	}
	if r := maiExec(t, dir, env, "2468\n1357\n", "pin", "set", "--pin-stdin"); r.code != 0 {
		t.Fatalf("pin set with the old PIN: %+v", r)
	}
	second := createRequest(t, data, "print('second')\n")
	for i := 1; i <= 5; i++ {
		r := maiExec(t, dir, append(env, "MAI_PIN=9999"), "", "approvals", "deny", second.ID)
		if r.code != 1 || !strings.Contains(r.stderr, "wrong PIN") {
			t.Fatalf("wrong PIN %d: %+v", i, r)
		}
		if i == 5 && !strings.Contains(r.stderr, "locked until") {
			t.Fatalf("the fifth wrong PIN does not lock: %+v", r)
		}
	}
	r := maiExec(t, dir, append(env, "MAI_PIN=1357"), "", "approvals", "approve", second.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "locked until") {
		t.Fatalf("the right PIN during the lock-out: %+v", r)
	}
	r = maiExec(t, dir, env, "", "approvals", "show", second.ID, "--json")
	var shown struct {
		State   string `json:"state"`
		Payload string `json:"payload"`
		SHA256  string `json:"payload_sha256"`
	}
	// The hash as sha256sum prints it for the same bytes.
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.State != "pending" || shown.Payload != "print('second')\n" ||
		shown.SHA256 != "7fdcf481b888e63dd363ac6b56d613a1c9282d303242514b9025c918a43fbf44" {
		t.Fatalf("show: %+v %v %s", shown, err, r.stderr)
	}
	r = maiExec(t, dir, env, "", "audit", "list", "--action", "pin", "--json")
	var entries []audit.Entry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("%v: %+v", err, r)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	want := "pin.set pin.wrong pin.set pin.wrong pin.wrong pin.wrong pin.wrong pin.wrong pin.lock"
	if strings.Join(actions, " ") != want {
		t.Errorf("audited PIN events:\n got %s\nwant %s", strings.Join(actions, " "), want)
	}
	if r := maiExec(t, dir, env, "", "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Errorf("audit verify: %+v", r)
	}
}

func TestAuditVerifyCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{"MAI_DATA_DIR": data}
	if r := runMai(t, dir, env, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "OK: 0 entries") {
		t.Fatalf("fresh data directory: %+v", r)
	}
	if _, err := os.Stat(data); err == nil {
		t.Fatal("a read command created the data directory")
	}
	for range 3 {
		createRequest(t, data, "x")
	}
	r := runMai(t, dir, env, "audit", "verify", "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || !rep.OK || rep.Entries != 3 {
		t.Fatalf("%+v %v", r, err)
	}
	db, err := store.Open(context.Background(), filepath.Join(data, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`UPDATE audit_log SET actor = 'someone else' WHERE seq = 2`)
	db.Close()
	r = runMai(t, dir, env, "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stdout, "first bad entry: 2") {
		t.Fatalf("after an edit: %+v", r)
	}
	os.Rename(filepath.Join(data, audit.KeyFile), filepath.Join(data, "key.aside"))
	r = runMai(t, dir, env, "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stderr, "missing key, not tampering") || !strings.Contains(r.stderr, "from a backup") {
		t.Fatalf("without the key: %+v", r)
	}
	if r := runMai(t, dir, env, "audit", "list", "--limit", "2"); r.code != 0 || strings.Count(r.stdout, "approval.request") != 2 {
		t.Fatalf("list without the key: %+v", r)
	}
	for _, args := range [][]string{{"audit", "verify", "extra"}, {"audit", "list", "--since", "yesterday"}, {"audit", "frob"}, {"approvals", "list", "--state", "maybe"}, {"approvals", "show"}, {"pin", "reset"}} {
		if r := runMai(t, dir, env, args...); r.code != 2 {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// pendingRequest waits for the one pending approval request and returns
// its id; ended says the run that should be waiting has ended instead.
func pendingRequest(t *testing.T, dir string, env map[string]string, ended func() bool) string {
	t.Helper()
	var id string
	waitFor(t, func() bool {
		if ended() {
			t.Fatal("the run ended before a decision")
		}
		r := runMai(t, dir, env, "approvals", "list", "--state", "pending", "--json")
		var reqs []approval.Request
		json.Unmarshal([]byte(r.stdout), &reqs)
		if len(reqs) == 1 {
			id = reqs[0].ID
		}
		return id != ""
	})
	return id
}

// The whole path: a HIGH 'mai sandbox run' without --yes waits on
// a pending request, 'mai approvals approve ID' (another command) releases
// it, the job runs, and every step is in the audit log, which verifies.
func TestHighRunWaitsForApproval(t *testing.T) {
	env, _ := sandboxEnv(t)
	dir := t.TempDir()
	env["MAI_DATA_DIR"] = filepath.Join(dir, "data")
	writeFile(t, dir, "high.py", "import subprocess\nsubprocess.run(['echo', 'approved'])\n")
	writeFile(t, dir, "denied.py", "import subprocess\nsubprocess.run(['echo', 'denied'])\n")

	for _, tt := range []struct {
		file, decide string
		code         int
		stdout       string
	}{{"high.py", "approve", 0, "approved\n"}, {"denied.py", "deny", 1, ""}} {
		t.Run(tt.decide, func(t *testing.T) {
			done := make(chan result, 1)
			go func() { done <- runMai(t, dir, env, "sandbox", "run", "--json", tt.file) }()
			id := pendingRequest(t, dir, env, func() bool { return len(done) > 0 })
			if r := runMai(t, dir, env, "approvals", tt.decide, id); r.code != 0 {
				t.Fatalf("%s: %+v", tt.decide, r)
			}
			r := <-done
			out := decodeRun(t, r)
			if r.code != tt.code || out.Stdout != tt.stdout {
				t.Fatalf("run: exit %d, %+v\nstderr %s", r.code, out, r.stderr)
			}
			list := runMai(t, dir, env, "audit", "list", "--json")
			var entries []audit.Entry
			json.Unmarshal([]byte(list.stdout), &entries)
			var steps []string
			for _, e := range entries {
				var d struct {
					ApprovalID string `json:"approval_id"`
				}
				json.Unmarshal(e.Details, &d)
				if e.Subject == id || d.ApprovalID == id {
					steps = append(steps, e.Action)
				}
			}
			want := "approval.request approval.approve sandbox.run"
			if tt.decide == "deny" {
				want = "approval.request approval.deny sandbox.refuse"
			}
			if strings.Join(steps, " ") != want {
				t.Errorf("audit steps %v, want %s", steps, want)
			}
		})
	}
	if r := runMai(t, dir, env, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: %+v", r)
	}
}

// A restored backup holds an older audit log than the anchor vouches for;
// the restore records that, anchors again, and the log verifies. With a
// PIN stored, restoring needs it.
func TestRestoreIsAuditedAndReanchored(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{"MAI_DATA_DIR": data}
	for range 3 {
		createRequest(t, data, "x")
	}
	backup := filepath.Join(dir, "before.db")
	if r := runMai(t, dir, env, "memory", "backup", backup); r.code != 0 {
		t.Fatalf("backup: %+v", r)
	}
	for range 2 {
		createRequest(t, data, "y")
	}
	if r := runMai(t, dir, env, "memory", "restore", backup); r.code != 0 {
		t.Fatalf("restore: %+v", r)
	}
	r := runMai(t, dir, env, "audit", "verify", "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || !rep.OK {
		t.Fatalf("verify after restore: %+v", r)
	}
	r = runMai(t, dir, env, "audit", "list", "--json")
	var entries []audit.Entry
	json.Unmarshal([]byte(r.stdout), &entries)
	if len(entries) != 5 || entries[3].Action != "audit.reanchor" || !strings.Contains(string(entries[3].Details), `"previous_anchor_seq": 5`) ||
		entries[4].Action != "database.restore" {
		t.Fatalf("entries after restore: %s", r.stdout)
	}
	if r := maiExec(t, dir, []string{"MAI_DATA_DIR=" + data}, "2468\n", "pin", "set"); r.code != 0 {
		t.Fatalf("pin set: %+v", r)
	}
	if r := runMai(t, dir, env, "memory", "restore", backup); r.code != 1 || !strings.Contains(r.stderr, "PIN") {
		t.Fatalf("restore without the PIN: %+v", r)
	}
}

// A change of the workspace's risk policy, however it was made, is
// audited once, when Mai next loads it.
func TestPolicyChangeIsAudited(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{"MAI_DATA_DIR": data}
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	var err error
	if m.cfg, err = config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, dir); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(m.cfg.Workspace, filepath.FromSlash(risk.PolicyFile))
	os.MkdirAll(filepath.Dir(policy), 0o700)
	steps := []string{`{"rules": {"import.third-party": {"level": "LOW"}}}`, "", `{"rules": {}}`}
	for _, content := range steps {
		if content != "" {
			os.WriteFile(policy, []byte(content), 0o600)
		}
		for range 2 { // the second look finds nothing new
			l, err := m.openLedger(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := m.recordPolicy(context.Background(), l); err != nil {
				t.Fatal(err)
			}
			l.close()
		}
	}
	r := runMai(t, dir, env, "audit", "list", "--action", "risk.policy", "--json")
	var entries []audit.Entry
	json.Unmarshal([]byte(r.stdout), &entries)
	if len(entries) != 2 {
		t.Fatalf("want 2 policy entries (first seen, changed), got %s", r.stdout)
	}
}

// Ctrl-C while a HIGH run waits withdraws its request: exit 1, and the
// request is withdrawn, not left pending.
func TestCtrlCWithdrawsTheRequest(t *testing.T) {
	env, _ := sandboxEnv(t)
	dir := t.TempDir()
	env["MAI_DATA_DIR"] = filepath.Join(dir, "data")
	writeFile(t, dir, "high.py", "import subprocess\nsubprocess.run(['echo', 'approved'])\n")
	var penv []string
	for k, v := range env {
		penv = append(penv, k+"="+v)
	}
	cmd, out := maiProcess(t, dir, penv, "sandbox", "run", "high.py")
	id := pendingRequest(t, dir, env, func() bool { return cmd.ProcessState != nil })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1\n%s", err, out)
	}
	r := runMai(t, dir, env, "approvals", "show", id, "--json")
	var shown approval.Request
	if json.Unmarshal([]byte(r.stdout), &shown); shown.State != approval.Withdrawn {
		t.Fatalf("after Ctrl-C the request is %q\n%s", shown.State, out)
	}
	if !strings.Contains(out.String(), "mai approvals approve "+id) {
		t.Errorf("the waiting run did not say how to decide:\n%s", out)
	}
}
