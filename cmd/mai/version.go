package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are stamped by the Makefile (-ldflags "-X main.version=…
// -X main.commit=…"); they are written once at link time, never at run time.
var (
	version = ""
	commit  = ""
)

// buildInfo is what `mai version` reports.
type buildInfo struct {
	Version   string   `json:"version"`
	Commit    string   `json:"commit"`
	Modified  bool     `json:"modified"`
	GoVersion string   `json:"go_version"`
	Platform  string   `json:"platform"`
	Tags      []string `json:"build_tags"`
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Tags: []string{}}
	if info, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Commit = s.Value
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			case "-tags":
				bi.Tags = strings.Split(s.Value, ",")
			}
		}
	}
	if bi.Version == "" || bi.Version == "(devel)" {
		bi.Version = "dev"
	}
	if bi.Commit == "" {
		bi.Commit = commit
	}
	if bi.Commit == "" {
		bi.Commit = "unknown"
	}
	return bi
}

func (m *Main) runVersion(ctx context.Context, args []string) error {
	fs := m.newFlagSet("version", "version [--json]", "  mai version\n  mai version --json")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	bi := readBuildInfo()
	if *asJSON {
		return m.writeJSON(bi)
	}
	commit := bi.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if bi.Modified {
		commit += "+dirty"
	}
	tags := strings.Join(bi.Tags, ",")
	if tags == "" {
		tags = "none (FTS5 needs -tags sqlite_fts5)"
	}
	fmt.Fprintf(m.Stdout, "mai %s\ncommit:     %s\ngo:         %s %s\nbuild tags: %s\n", bi.Version, commit, bi.GoVersion, bi.Platform, tags)
	return nil
}
