package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Endpoint is one model server: its base URL and, for a server on another
// machine, the VRAM budget the owner gave it (Mai cannot probe that memory).
type Endpoint struct {
	URL string
	// BudgetGB is the memory, in GiB, models may use there; 0 when not given.
	BudgetGB float64
}

// Host returns the endpoint's host name or address.
func (e Endpoint) Host() string {
	u, err := url.Parse(e.URL)
	if err != nil || u.Hostname() == "" {
		return e.URL
	}
	return u.Hostname()
}

// OnThisMachine reports whether the endpoint is on this machine: a
// loopback name or address. Its models then share this machine's memory.
func (e Endpoint) OnThisMachine() bool {
	host := e.Host()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseEndpoints reads a comma-separated list of URLs, each optionally
// followed by "=GB", e.g. "http://localhost:11434,http://gpu-box:11434=24".
func ParseEndpoints(raw string) ([]Endpoint, error) {
	var out []Endpoint
	for _, item := range strings.Split(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		e := Endpoint{URL: item}
		if u, budget, ok := strings.Cut(item, "="); ok {
			f, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(budget)), "GB"), 64)
			if err != nil || f <= 0 || f > 4096 {
				return nil, fmt.Errorf("%q: the budget after = must be a number of GB", item)
			}
			e = Endpoint{URL: strings.TrimSpace(u), BudgetGB: f}
		}
		p, err := url.Parse(e.URL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("%q is not an http:// or https:// URL", item)
		}
		if e.BudgetGB > 0 && e.OnThisMachine() {
			return nil, fmt.Errorf("%q: a budget is for a server on another machine; this machine's memory is probed (GPU_VRAM_AVAILABLE overrides it)", item)
		}
		e.URL = strings.TrimRight(e.URL, "/")
		for _, seen := range out {
			if seen.URL == e.URL {
				return nil, fmt.Errorf("%s is listed twice", e.URL)
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, errors.New("no URL given")
	}
	return out, nil
}

// FormatEndpoints writes endpoints as ParseEndpoints reads them.
func FormatEndpoints(eps []Endpoint) string {
	parts := make([]string, len(eps))
	for i, e := range eps {
		parts[i] = e.URL
		if e.BudgetGB > 0 {
			parts[i] += "=" + strconv.FormatFloat(e.BudgetGB, 'f', -1, 64)
		}
	}
	return strings.Join(parts, ",")
}

// URLs returns the endpoints' URLs.
func URLs(eps []Endpoint) []string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e.URL
	}
	return out
}

// Headroom is the VRAM kept free on each GPU beside the models: a
// percentage of the GPU's memory or a fixed amount. The zero value is the
// default, DefaultHeadroomPercent or DefaultHeadroomGB, whichever is larger.
type Headroom struct {
	Percent float64
	GB      float64
	Set     bool // given by the owner
}

// The default headroom: room for the compute buffers and what the desktop
// starts meanwhile.
const (
	DefaultHeadroomPercent = 5
	DefaultHeadroomGB      = 0.5
)

// Bytes returns the headroom on a GPU of total bytes.
func (h Headroom) Bytes(total int64) int64 {
	const gib = 1 << 30
	if !h.Set {
		return max(int64(float64(total)*DefaultHeadroomPercent/100), int64(DefaultHeadroomGB*gib))
	}
	if h.Percent > 0 {
		return int64(float64(total) * h.Percent / 100)
	}
	return int64(h.GB * gib)
}

// String writes the headroom as GPU_VRAM_HEADROOM takes it; "" for the default.
func (h Headroom) String() string {
	switch {
	case !h.Set:
		return ""
	case h.Percent > 0:
		return strconv.FormatFloat(h.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(h.GB, 'f', -1, 64)
}
