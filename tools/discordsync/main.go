// Command discordsync posts the commits of a GitHub push to a Discord webhook,
// one embed per commit, within Discord's message limits. The workflow
// .github/workflows/discord_sync.yml runs it on every push.
//
// It reads the push event from $GITHUB_EVENT_PATH (or -event FILE) and the
// webhook URL from $WEBHOOK. Without WEBHOOK it only prints a notice and
// succeeds, so forks and repositories without the secret stay green.
//
// Usage:
//
//	discordsync [-event FILE] [-dry-run] [-max-commits N]
//
// Examples:
//
//	WEBHOOK=https://… go run ./tools/discordsync -event push.json
//	go run ./tools/discordsync -event tools/discordsync/testdata/push_12.json -dry-run
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second}
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, client)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		// ::error:: makes the message the job's annotation on GitHub.
		fmt.Fprintf(os.Stderr, "::error::discordsync: %s\n", err)
		os.Exit(1)
	}
}

// options bound the retries on Discord's 429 answers.
const (
	postAttempts = 5
	maxRetryWait = 30 * time.Second
)

// run is the whole program; main only supplies the process's environment.
// Every error it returns is free of the webhook URL.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, client *http.Client) error {
	fs := flag.NewFlagSet("discordsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	eventPath := fs.String("event", "", "read the push event from `file` instead of $GITHUB_EVENT_PATH")
	dryRun := fs.Bool("dry-run", false, "print the JSON payloads, one per line, instead of posting them")
	maxCommits := fs.Int("max-commits", 50, "show at most `n` commits; the rest are summed up in one embed linking the compare view")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see -h", fs.Arg(0))
	}
	webhook := getenv("WEBHOOK")
	if !*dryRun && webhook == "" {
		fmt.Fprintln(stdout, "::notice::The WEBHOOK secret is not set, so no Discord notification was sent. Add a Discord webhook URL as repository secret WEBHOOK to enable it.")
		return nil
	}
	if !*dryRun {
		if err := checkWebhook(webhook); err != nil {
			return err
		}
	}

	path := *eventPath
	if path == "" {
		path = getenv("GITHUB_EVENT_PATH")
	}
	if path == "" {
		return errors.New("no push event to read; pass -event FILE or set GITHUB_EVENT_PATH")
	}
	ev, err := readEvent(path)
	if err != nil {
		return err
	}
	payloads := buildPayloads(ev, *maxCommits)
	if len(payloads) == 0 {
		fmt.Fprintln(stdout, "The push has no commits (a deleted branch or tag); nothing to send.")
		return nil
	}
	if *dryRun {
		return printPayloads(stdout, payloads)
	}

	s := sender{client: client, webhook: webhook, attempts: postAttempts, maxWait: maxRetryWait, log: stderr}
	for i, p := range payloads {
		if err := s.send(ctx, p); err != nil {
			err = fmt.Errorf("send message %d of %d: %w", i+1, len(payloads), err)
			return errors.New(redact(err.Error(), webhook))
		}
	}
	fmt.Fprintf(stdout, "Posted %d commits of %s to Discord in %d messages.\n", len(ev.Commits), footerText(ev), len(payloads))
	return nil
}

// checkWebhook rejects a WEBHOOK that cannot be a webhook URL, without
// repeating it.
func checkWebhook(webhook string) error {
	u, err := url.Parse(webhook)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("the WEBHOOK secret is not an http(s) URL; set it to the webhook URL from the Discord channel's Integrations settings")
	}
	return nil
}

func printPayloads(w io.Writer, payloads []payload) error {
	for _, p := range payloads {
		b, err := encodePayload(p)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return fmt.Errorf("print payload: %w", err)
		}
	}
	return nil
}
