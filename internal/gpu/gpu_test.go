package gpu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/testenv"
)

func TestParseNvidiaSMI(t *testing.T) {
	tests := []struct {
		file    string
		want    []Device
		wantErr string
	}{
		{file: "single.txt", want: []Device{
			{0, "NVIDIA GeForce RTX 4090", 24564 * mib, 1187 * mib, 23010 * mib},
		}},
		{file: "two-gpus.txt", want: []Device{
			{0, "NVIDIA GeForce RTX 3090", 24576 * mib, 20480 * mib, 3812 * mib},
			{1, "NVIDIA GeForce RTX 3060", 12288 * mib, 312 * mib, 11696 * mib},
		}},
		{file: "not-available.txt", want: []Device{
			{0, "NVIDIA GH200 480GB", Unknown, Unknown, Unknown},
			{1, "Tesla T4", 15360 * mib, (15360 - 14911) * mib, 14911 * mib},
			{2, "NVIDIA A100-SXM4-40GB", 40960 * mib, 3 * mib, (40960 - 3) * mib},
		}},
		{file: "comma-in-name.txt", want: []Device{
			{0, "NVIDIA RTX A6000, Ada", 49140 * mib, 0, 48675 * mib},
		}},
		{file: "driver-failed.txt", wantErr: "line 1: want name, total, used, free"},
		{file: "with-units.txt", wantErr: `"8192 MiB" is not a number`},
		{file: "too-few-fields.txt", wantErr: "want name, total, used, free"},
		{file: "negative.txt", wantErr: `"-5" is not a number`},
		{file: "empty.txt", wantErr: "no GPU listed"},
		{file: "no-name.txt", wantErr: "empty GPU name"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", "nvidia-smi", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseNvidiaSMI(out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q (devices %+v)", err, tt.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d devices %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("device %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// sysfsCard describes one /sys/class/drm entry for a fake sysfs tree.
type sysfsCard struct {
	name        string
	total, used string // "" = file absent
	product     string
}

func writeSysfs(t *testing.T, cards []sysfsCard) string {
	t.Helper()
	root := t.TempDir()
	for _, c := range cards {
		dir := filepath.Join(root, "class", "drm", c.name, "device")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, v := range map[string]string{"mem_info_vram_total": c.total, "mem_info_vram_used": c.used, "product_name": c.product} {
			if v == "" {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, file), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestReadAMD(t *testing.T) {
	const g = 1 << 30
	tests := []struct {
		name    string
		cards   []sysfsCard
		want    []Device
		wantErr string
	}{
		{name: "no drm at all"},
		{name: "intel only", cards: []sysfsCard{{name: "card0"}, {name: "card0-eDP-1"}}},
		{name: "one amd card with a connector", cards: []sysfsCard{
			{name: "card0-DP-1", total: "1"},
			{name: "card0", total: "17163091968", used: "1073741824", product: "AMD Radeon RX 7800 XT"},
		}, want: []Device{{0, "AMD Radeon RX 7800 XT", 17163091968, g, 17163091968 - g}}},
		{name: "two cards sorted by number, used missing", cards: []sysfsCard{
			{name: "card10", total: "8589934592", used: "0"},
			{name: "card2", total: "4294967296"},
		}, want: []Device{
			{2, "AMD GPU card2", 4 * g, Unknown, Unknown},
			{10, "AMD GPU card10", 8 * g, 0, 8 * g},
		}},
		{name: "garbage total", cards: []sysfsCard{{name: "card0", total: "lots"}}, wantErr: `mem_info_vram_total holds "lots"`},
		{name: "garbage used", cards: []sysfsCard{{name: "card1", total: "1024", used: "-1"}}, wantErr: `mem_info_vram_used holds "-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeSysfs(t, tt.cards)
			got, err := ReadAMD(root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("device %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// fakeSMI writes an executable standing in for nvidia-smi: it checks that it
// was asked the documented query and runs body.
func fakeSMI(t *testing.T, body string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		testenv.Missing(t, "sh", "no shell to run a stand-in nvidia-smi", "install dash or bash")
	}
	p := filepath.Join(t.TempDir(), "nvidia-smi")
	script := "#!/bin/sh\n" +
		`[ "$1" = "--query-gpu=name,memory.total,memory.used,memory.free" ] && [ "$2" = "--format=csv,noheader,nounits" ] || { echo "unexpected arguments: $*" >&2; exit 64; }` + "\n" +
		body + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProbe(t *testing.T) {
	recorded := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata", "nvidia-smi", name))
		if err != nil {
			t.Fatal(err)
		}
		return "cat '" + p + "'"
	}
	amd := []sysfsCard{{name: "card0", total: "8589934592", used: "4294967296"}}
	tests := []struct {
		name       string
		opts       Options
		smi        string // body of a stand-in nvidia-smi; "" = none installed
		amd        []sysfsCard
		wantSource string
		wantFree   int64
		wantNote   string
		wantNotes  int // when > 0, the exact number of notes
	}{
		{name: "override wins over everything", opts: Options{OverrideGB: 7.5}, smi: recorded("single.txt"), amd: amd,
			wantSource: SourceOverride, wantFree: 7.5 * (1 << 30)},
		{name: "nvidia, two gpus", smi: recorded("two-gpus.txt"), amd: amd,
			wantSource: SourceNvidia, wantFree: (3812 + 11696) * mib},
		{name: "nvidia driver failed falls to amd", smi: recorded("driver-failed.txt") + "; exit 9", amd: amd,
			wantSource: SourceAMD, wantFree: 4 << 30, wantNote: "nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate"},
		{name: "nvidia error on stderr", smi: "echo 'Unable to determine the device handle for GPU0000:01:00.0: Unknown Error' >&2; exit 15",
			wantSource: SourceNone, wantNote: "nvidia-smi failed: Unable to determine the device handle"},
		{name: "nvidia garbage falls through", smi: recorded("with-units.txt"),
			wantSource: SourceNone, wantNote: "nvidia-smi: line 1:"},
		{name: "nvidia without sizes falls through", smi: "echo 'NVIDIA GH200 480GB, [N/A], [N/A], [N/A]'", amd: amd,
			wantSource: SourceAMD, wantFree: 4 << 30, wantNote: "listed 1 GPU(s) without memory sizes"},
		{name: "nvidia hangs", opts: Options{Timeout: 300 * time.Millisecond}, smi: "sleep 20", amd: amd,
			wantSource: SourceAMD, wantFree: 4 << 30, wantNote: "did not answer within 300ms"},
		{name: "nothing", wantSource: SourceNone, wantNote: "models will run on the CPU"},
		{name: "nothing warns exactly once", wantSource: SourceNone, wantNote: "no GPU found", wantNotes: 1},
		{name: "broken amd counters", amd: []sysfsCard{{name: "card0", total: "x"}},
			wantSource: SourceNone, wantNote: "amd sysfs card0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.SysfsRoot = writeSysfs(t, tt.amd)
			opts.NvidiaSMI = filepath.Join(t.TempDir(), "absent-nvidia-smi")
			if tt.smi != "" {
				opts.NvidiaSMI = fakeSMI(t, tt.smi)
			}
			start := time.Now()
			r, err := Probe(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != tt.wantSource || r.Free() != tt.wantFree {
				t.Fatalf("got source %s free %d (%+v), want %s free %d", r.Source, r.Free(), r, tt.wantSource, tt.wantFree)
			}
			if r.CPUOnly() != (tt.wantSource == SourceNone) {
				t.Errorf("CPUOnly() = %v for source %s", r.CPUOnly(), r.Source)
			}
			notes := strings.Join(r.Notes, " | ")
			if tt.wantNote == "" && notes != "" {
				t.Errorf("unexpected notes %q", notes)
			}
			if !strings.Contains(notes, tt.wantNote) {
				t.Errorf("notes %q do not contain %q", notes, tt.wantNote)
			}
			if tt.wantNotes > 0 && len(r.Notes) != tt.wantNotes {
				t.Errorf("got %d notes %q, want %d", len(r.Notes), r.Notes, tt.wantNotes)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("probe took %s: the timeout did not stop nvidia-smi", d)
			}
		})
	}
}

func TestProbeErrors(t *testing.T) {
	if _, err := Probe(context.Background(), Options{OverrideGB: -1}); err == nil {
		t.Error("negative override accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	smi := fakeSMI(t, "sleep 20")
	if _, err := Probe(ctx, Options{NvidiaSMI: smi, SysfsRoot: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled probe: err = %v, want context canceled", err)
	}
}

// TestProbeThisMachine runs the real probe: where nvidia-smi is installed and
// works, its answer must be the source.
func TestProbeThisMachine(t *testing.T) {
	r, err := Probe(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("source %s, total %d MiB, free %d MiB, devices %+v, notes %q", r.Source, r.Total()/mib, r.Free()/mib, r.Devices, r.Notes)
	if p, err := exec.LookPath("nvidia-smi"); err == nil {
		out, err := exec.Command(p, "--query-gpu=name,memory.total,memory.used,memory.free", "--format=csv,noheader,nounits").Output()
		if err == nil && strings.TrimSpace(string(out)) != "" && r.Source != SourceNvidia {
			t.Errorf("nvidia-smi answers %q but the probe chose %s", out, r.Source)
		}
	}
	if r.Source == SourceNone && len(r.Notes) == 0 {
		t.Error("CPU-only result without a warning")
	}
}
