package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/benchpair"
	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/testenv"
)

// benchBinary returns the mai binary to measure or run as the product:
// $MAI_BENCH_BIN (make bench sets it to the bin/mai it has just built),
// else one built here with the same tags. The test binary itself would
// carry the testing package and the tests along.
func benchBinary(b testing.TB) string {
	b.Helper()
	if p := os.Getenv("MAI_BENCH_BIN"); p != "" {
		return p
	}
	out := filepath.Join(b.TempDir(), "mai")
	build := exec.Command("go", "build", "-tags", "sqlite_fts5", "-o", out, ".")
	if msg, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build mai: %v\n%s", err, msg)
	}
	return out
}

// daemon is one `mai serve` started by the benchmark.
type daemon struct {
	cmd *exec.Cmd
	log string
}

// benchEnv is a home with nothing configured and both model servers
// pointed at a closed port: start-up without pulls or model loads.
func benchEnv(home string) []string {
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"OLLAMA_ENDPOINT=http://127.0.0.1:9", "LMSTUDIO_ENDPOINT=http://127.0.0.1:9", "XDG_RUNTIME_DIR=" + home}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = append(env, "DOCKER_HOST="+h)
	}
	return env
}

// startServe starts the daemon and returns once its control socket
// answers a ping (what `mai send` and every other command wait for),
// polling every half millisecond.
func startServe(bin, home string) (*daemon, error) {
	d := &daemon{cmd: exec.Command(bin, "serve"), log: filepath.Join(home, ".local", "share", "mai", ".logs", "mai.log")}
	d.cmd.Env, d.cmd.Dir = benchEnv(home), home
	_ = os.Remove(d.log)
	var out bytes.Buffer
	d.cmd.Stdout, d.cmd.Stderr = &out, &out
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	cl := control.NewClient(control.SocketPath(filepath.Join(home, ".local", "share", "mai"), home))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Microsecond) {
		if cl.Ping(context.Background(), time.Second) == nil {
			return d, nil
		}
	}
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	return nil, fmt.Errorf("mai serve was not running after 30 s: %s", out.String())
}

// rssMB reads the resident set of a live process from /proc, in MB.
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// stop ends the daemon as Ctrl-C would and waits for it.
func (d *daemon) stop() error {
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	return d.cmd.Wait()
}

// BenchmarkServe starts `mai serve` on an existing (migrated) data
// directory until its control socket answers (mai), against the same
// binary's `mai version` run to its exit (floor): process start, Go
// runtime and package initialisation, the cost no daemon of this binary
// can go below. After each start the daemon idles a second and its
// resident memory is read (mai-MB), against the peak resident memory of
// `mai version` (floor-MB). No model server, Discord or pull is involved.
func BenchmarkServe(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		testenv.Missing(b, "/proc", err.Error(), "run the benchmark on Linux, where resident memory is read from /proc")
	}
	bin := benchBinary(b)
	home := b.TempDir()
	// The first start creates and migrates the database; a daemon restarts
	// far more often than it is installed.
	if d, err := startServe(bin, home); err != nil {
		b.Fatal(err)
	} else if err := d.stop(); err != nil {
		b.Fatal(err)
	}
	var current *daemon
	var rss, floorRSS []float64
	serve := benchpair.Side{Name: "mai",
		Call: func() (err error) { current, err = startServe(bin, home); return err },
		Settle: func() error {
			time.Sleep(time.Second)
			mb, err := rssMB(current.cmd.Process.Pid)
			rss = append(rss, mb)
			return errors.Join(err, current.stop())
		}}
	var lastVersion *os.ProcessState
	floor := benchpair.Side{Name: "floor",
		Call: func() error {
			cmd := exec.Command(bin, "version")
			cmd.Env, cmd.Dir = benchEnv(home), home
			err := cmd.Run()
			lastVersion = cmd.ProcessState
			return err
		},
		Settle: func() error {
			if ru, ok := lastVersion.SysUsage().(*syscall.Rusage); ok {
				floorRSS = append(floorRSS, float64(ru.Maxrss)/1024) // kB on Linux
			}
			return nil
		}}
	benchpair.Run(b, 3, serve, floor)
	slices.Sort(rss)
	slices.Sort(floorRSS)
	if len(rss) == 0 || len(floorRSS) == 0 {
		b.Fatal("no resident memory measured")
	}
	b.ReportMetric(rss[len(rss)/2], "mai-MB")
	b.ReportMetric(floorRSS[len(floorRSS)/2], "floor-MB")
	b.ReportMetric(rss[len(rss)/2]/floorRSS[len(floorRSS)/2], "rss/floor")
}
