// Package gpu finds out how much video memory the model router may plan with:
// a configured override first, then nvidia-smi, then AMD's sysfs counters, and
// otherwise none (the models run on the CPU).
package gpu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"time"
)

// Where a Result came from.
const (
	SourceOverride = "override"   // GPU_VRAM_AVAILABLE
	SourceNvidia   = "nvidia-smi" // NVIDIA driver tool
	SourceAMD      = "amd-sysfs"  // amdgpu counters in /sys/class/drm
	SourceNone     = "none"       // no GPU found: CPU only
)

// Unknown marks a memory figure the source did not report (nvidia-smi prints
// "[N/A]" for some fields on some boards).
const Unknown int64 = -1

// GiB is the unit of the override: GPU_VRAM_AVAILABLE=24 means 24 GiB, the way
// cards are sold and the way nvidia-smi's MiB add up.
const GiB = 1 << 30

// DefaultTimeout bounds one probe; nvidia-smi can hang for seconds when the
// driver is wedged, and the probe runs at start-up and in `mai doctor`.
const DefaultTimeout = 3 * time.Second

// Device is one GPU's memory, in bytes; a figure is Unknown when not reported.
type Device struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Total int64  `json:"total_bytes"`
	Used  int64  `json:"used_bytes"`
	Free  int64  `json:"free_bytes"`
}

// Result is what a probe found.
type Result struct {
	Source  string   `json:"source"`
	Devices []Device `json:"devices"`
	// Notes says why earlier sources were passed over, and warns once when
	// nothing was found; empty when the first applicable source answered.
	Notes []string `json:"notes,omitempty"`
}

// Total is the sum of the known total memory of all devices, in bytes.
func (r Result) Total() int64 { return r.sum(func(d Device) int64 { return d.Total }) }

// Free is the sum of the known free memory of all devices, in bytes.
func (r Result) Free() int64 { return r.sum(func(d Device) int64 { return d.Free }) }

func (r Result) sum(f func(Device) int64) int64 {
	var n int64
	for _, d := range r.Devices {
		if v := f(d); v > 0 {
			n += v
		}
	}
	return n
}

// CPUOnly reports whether no GPU memory is available to plan with.
func (r Result) CPUOnly() bool { return r.Total() == 0 }

// Options steer a probe. The zero value probes this machine.
type Options struct {
	// OverrideGB, when > 0, is taken as the free VRAM in GiB and nothing is
	// probed (config GPU_VRAM_AVAILABLE).
	OverrideGB float64
	// NvidiaSMI is the nvidia-smi command; "" looks it up on PATH.
	NvidiaSMI string
	// SysfsRoot is the root of the sysfs tree; "" means "/sys".
	SysfsRoot string
	// Timeout bounds the whole probe; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Probe reports the GPU memory available, trying the sources in order. A
// source that is absent or fails is passed over with a note; Probe returns an
// error only for an invalid override or when ctx ends.
func Probe(ctx context.Context, opts Options) (Result, error) {
	if opts.OverrideGB < 0 {
		return Result{}, fmt.Errorf("gpu: override of %g GB is negative", opts.OverrideGB)
	}
	if opts.OverrideGB > 0 {
		b := int64(opts.OverrideGB * GiB)
		return Result{Source: SourceOverride, Devices: []Device{{Name: "GPU_VRAM_AVAILABLE", Total: b, Used: 0, Free: b}}}, nil
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var notes []string
	devs, err := probeNvidia(pctx, opts.NvidiaSMI)
	switch {
	case err == nil && (Result{Devices: devs}).Total() > 0:
		return Result{Source: SourceNvidia, Devices: devs}, nil
	case ctx.Err() != nil:
		return Result{}, fmt.Errorf("gpu: probe: %w", ctx.Err())
	case pctx.Err() != nil:
		notes = append(notes, fmt.Sprintf("nvidia-smi did not answer within %s", timeout))
	case err != nil && !errors.Is(err, errNotInstalled):
		notes = append(notes, err.Error())
	case err == nil:
		notes = append(notes, fmt.Sprintf("nvidia-smi listed %d GPU(s) without memory sizes", len(devs)))
	}

	root := opts.SysfsRoot
	if root == "" {
		root = "/sys"
	}
	devs, err = ReadAMD(root)
	if err != nil {
		notes = append(notes, err.Error())
	} else if r := (Result{Source: SourceAMD, Devices: devs, Notes: notes}); r.Total() > 0 {
		return r, nil
	}
	notes = append(notes, "no GPU found (no working nvidia-smi, no amdgpu VRAM counters): models will run on the CPU")
	return Result{Source: SourceNone, Notes: notes}, nil
}

var errNotInstalled = errors.New("nvidia-smi is not installed")

// probeNvidia runs nvidia-smi and parses its CSV; errNotInstalled when the
// tool is absent.
func probeNvidia(ctx context.Context, command string) ([]Device, error) {
	if command == "" {
		p, err := exec.LookPath("nvidia-smi")
		if err != nil {
			return nil, errNotInstalled
		}
		command = p
	}
	cmd := exec.CommandContext(ctx, command,
		"--query-gpu=name,memory.total,memory.used,memory.free",
		"--format=csv,noheader,nounits")
	cmd.WaitDelay = 500 * time.Millisecond
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, errNotInstalled
		}
		msg := firstLine(stderrOf(err))
		if msg == "" {
			msg = firstLine(string(out))
		}
		if msg != "" {
			return nil, fmt.Errorf("nvidia-smi failed: %s", msg)
		}
		return nil, fmt.Errorf("nvidia-smi failed: %w", err)
	}
	devs, err := ParseNvidiaSMI(out)
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi: %w", err)
	}
	return devs, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
