package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// pushEvent is the part of GitHub's push event payload that the notification
// uses. GitHub lists at most 2048 commits here, oldest first.
type pushEvent struct {
	Ref        string     `json:"ref"`
	Compare    string     `json:"compare"`
	Repository repository `json:"repository"`
	Commits    []commit   `json:"commits"`
}

type repository struct {
	FullName string `json:"full_name"`
	HTMLURL  string `json:"html_url"`
}

type commit struct {
	ID        string       `json:"id"`
	Message   string       `json:"message"`
	Timestamp string       `json:"timestamp"`
	URL       string       `json:"url"`
	Author    commitAuthor `json:"author"`
}

type commitAuthor struct {
	Name     string `json:"name"`
	Username string `json:"username"`
}

// readEvent reads and decodes the push event at path.
func readEvent(path string) (pushEvent, error) {
	var ev pushEvent
	data, err := os.ReadFile(path)
	if err != nil {
		return ev, fmt.Errorf("read push event: %w", err)
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("decode push event %s: %w", path, err)
	}
	return ev, nil
}

// refName turns a git ref into what a reader calls it: "main" for
// refs/heads/main, "tag v1.2.0" for refs/tags/v1.2.0.
func refName(ref string) string {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return b
	}
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return "tag " + t
	}
	return ref
}
