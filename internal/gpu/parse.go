package gpu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const mib = 1 << 20

// ParseNvidiaSMI parses the output of
// `nvidia-smi --query-gpu=name,memory.total,memory.used,memory.free --format=csv,noheader,nounits`:
// one line per GPU, memory in MiB. Fields reported as "[N/A]" or
// "[Not Supported]" become Unknown, and a missing free or used figure is
// derived from the other two when they are known.
func ParseNvidiaSMI(out []byte) ([]Device, error) {
	var devs []Device
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		fields := strings.Split(line, ",")
		if len(fields) < 4 {
			return nil, fmt.Errorf("line %d: want name, total, used, free; got %q", i+1, line)
		}
		n := len(fields)
		// A name may itself contain a comma; the three numbers are always last.
		d := Device{Index: len(devs), Name: strings.TrimSpace(strings.Join(fields[:n-3], ","))}
		if d.Name == "" {
			return nil, fmt.Errorf("line %d: empty GPU name in %q", i+1, line)
		}
		var err error
		for j, dst := range []*int64{&d.Total, &d.Used, &d.Free} {
			if *dst, err = parseMiB(fields[n-3+j]); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
		}
		fillMissing(&d)
		devs = append(devs, d)
	}
	if len(devs) == 0 {
		return nil, errors.New("no GPU listed")
	}
	return devs, nil
}

func parseMiB(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "[") || strings.EqualFold(s, "N/A") {
		return Unknown, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1<<40 {
		return 0, fmt.Errorf("memory figure %q is not a number of MiB", s)
	}
	return int64(v * mib), nil
}

func fillMissing(d *Device) {
	switch {
	case d.Free == Unknown && d.Total != Unknown && d.Used != Unknown:
		d.Free = max(d.Total-d.Used, 0)
	case d.Used == Unknown && d.Total != Unknown && d.Free != Unknown:
		d.Used = max(d.Total-d.Free, 0)
	}
}

// ReadAMD reads the VRAM counters the amdgpu driver exposes under
// root/class/drm/cardN/device/mem_info_vram_{total,used} (bytes). Cards
// without the counters (other drivers, display connectors) are skipped; no
// card at all is not an error.
func ReadAMD(root string) ([]Device, error) {
	cards, err := filepath.Glob(filepath.Join(root, "class", "drm", "card*"))
	if err != nil {
		return nil, fmt.Errorf("amd sysfs: %w", err)
	}
	var devs []Device
	for _, card := range cards {
		base := filepath.Base(card)
		idx, err := strconv.Atoi(strings.TrimPrefix(base, "card"))
		if err != nil {
			continue // card0-DP-1 and other connectors
		}
		dir := filepath.Join(card, "device")
		total, err := readBytes(filepath.Join(dir, "mem_info_vram_total"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("amd sysfs %s: %w", base, err)
		}
		used, err := readBytes(filepath.Join(dir, "mem_info_vram_used"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			used = Unknown
		case err != nil:
			return nil, fmt.Errorf("amd sysfs %s: %w", base, err)
		}
		d := Device{Index: idx, Name: amdName(dir, base), Total: total, Used: used, Free: Unknown}
		fillMissing(&d)
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Index < devs[j].Index })
	return devs, nil
}

func readBytes(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s holds %q, not a number of bytes", filepath.Base(path), s)
	}
	return v, nil
}

// amdName is the marketing name where the driver offers one, else the card.
func amdName(dir, card string) string {
	if b, err := os.ReadFile(filepath.Join(dir, "product_name")); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	return "AMD GPU " + card
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}
