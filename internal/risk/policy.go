package risk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// PolicyFile is where a workspace keeps its policy, relative to its root.
const PolicyFile = ".mai/risk-policy.json"

// Policy changes the built-in rules for one workspace. It is read here and
// never written: changing it is a self-modification the owner approves.
//
// A policy may lower or raise a rule's level and exempt a rule for paths
// matching a glob. Rules that are BLOCKED by default, and the rules saying
// the code could not be analysed, are never lowered below HIGH: a policy
// that tried would turn "never runs" into "runs without asking", and a
// stolen or mistaken policy file must not be enough to do that. The most a
// policy can do is turn such a rule into one that needs the owner's approval
// on every run.
type Policy struct {
	Rules  map[string]RuleOverride `json:"rules,omitempty"`
	Exempt []Exemption             `json:"exempt,omitempty"`
}

// RuleOverride sets a rule's level.
type RuleOverride struct {
	Level Level `json:"level"`
}

// Exemption drops a rule's findings for files whose path matches Path: a
// slash-separated glob in path.Match syntax where a "**" element matches
// any number of directories. Relative paths are matched as given.
type Exemption struct {
	Rule string `json:"rule"`
	Path string `json:"path"`
}

// LoadPolicy reads and checks a policy file.
func LoadPolicy(file string) (*Policy, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read risk policy: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse risk policy %s: %w", file, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("risk policy %s: %w", file, err)
	}
	return &p, nil
}

// LoadWorkspacePolicy reads <workspace>/.mai/risk-policy.json; a missing
// file means the built-in rules and returns nil without error.
func LoadWorkspacePolicy(workspace string) (*Policy, error) {
	p, err := LoadPolicy(filepath.Join(workspace, filepath.FromSlash(PolicyFile)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return p, err
}

func (p *Policy) check() error {
	known := map[string]bool{}
	for _, r := range builtinRules {
		known[r.ID] = true
	}
	for id := range p.Rules {
		if !known[id] {
			return fmt.Errorf("unknown rule %q", id)
		}
	}
	for _, e := range p.Exempt {
		if !known[e.Rule] {
			return fmt.Errorf("unknown rule %q in exemption", e.Rule)
		}
		if _, err := path.Match(strings.ReplaceAll(e.Path, "**", "x"), ""); err != nil {
			return fmt.Errorf("exemption path %q: %w", e.Path, err)
		}
	}
	return nil
}

// floor is the lowest level a policy may give a rule.
func floor(rule string) Level {
	if integrityRules[rule] || ruleLevel(rule) == Blocked {
		return High
	}
	return Low
}

// apply returns the findings with the policy's levels and exemptions.
func (p *Policy) apply(findings []Finding, name string) []Finding {
	if p == nil {
		return findings
	}
	out := findings[:0]
	for _, f := range findings {
		lvl := f.Level
		if o, ok := p.Rules[f.Rule]; ok {
			lvl = o.Level
		}
		if p.exempt(f.Rule, name) {
			if floor(f.Rule) == Low {
				continue
			}
			lvl = Low
		}
		f.Level = max(lvl, floor(f.Rule))
		out = append(out, f)
	}
	return out
}

func (p *Policy) exempt(rule, name string) bool {
	if name == "" {
		return false
	}
	name = filepath.ToSlash(name)
	for _, e := range p.Exempt {
		if e.Rule == rule && globMatch(e.Path, name) {
			return true
		}
	}
	return false
}

// globMatch matches a slash-separated name against pattern, where each
// element is a path.Match pattern and "**" matches any number of elements.
func globMatch(pattern, name string) bool {
	return matchParts(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchParts(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchParts(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
