package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
)

// Discord's limits for a webhook message with embeds. A request over any of
// them is rejected with 400, so every text is cut to fit before sending.
const (
	maxEmbedsPerMessage = 10
	maxTitle            = 256
	maxDescription      = 4096
	maxFooter           = 2048
	maxAuthorName       = 256
	// maxMessageText bounds the sum of all titles, descriptions, footers and
	// author names of the embeds in one message.
	maxMessageText = 6000
)

const (
	ellipsis   = "…"
	embedColor = 0x2f81f7
)

// payload is the JSON body of one webhook request.
type payload struct {
	Embeds []embed `json:"embeds"`
	// AllowedMentions is always empty: a commit message that says @everyone
	// or names a user must not ping anyone.
	AllowedMentions allowedMentions `json:"allowed_mentions"`
}

type allowedMentions struct {
	Parse []string `json:"parse"`
}

type embed struct {
	Title       string       `json:"title"`
	URL         string       `json:"url,omitempty"`
	Description string       `json:"description,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Color       int          `json:"color"`
	Author      *embedAuthor `json:"author,omitempty"`
	Footer      *embedFooter `json:"footer,omitempty"`
}

type embedAuthor struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

type embedFooter struct {
	Text string `json:"text"`
}

// textLen is the length Discord's limits apply to. It counts UTF-16 code
// units, which is never less than the number of code points, so a text that
// fits by this count fits whichever of the two Discord counts.
func textLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// truncate cuts s to at most limit units of textLen, ending it with an
// ellipsis when anything was cut.
func truncate(s string, limit int) string {
	if textLen(s) <= limit {
		return s
	}
	budget := limit - textLen(ellipsis)
	n, end := 0, 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if n+w > budget {
			break
		}
		n += w
		end = i + len(string(r))
	}
	return strings.TrimRightFunc(s[:end], unicode.IsSpace) + ellipsis
}

// textLen is the embed's share of maxMessageText.
func (e embed) textLen() int {
	n := textLen(e.Title) + textLen(e.Description)
	if e.Author != nil {
		n += textLen(e.Author.Name)
	}
	if e.Footer != nil {
		n += textLen(e.Footer.Text)
	}
	return n
}

// buildPayloads turns a push into webhook messages: one embed per commit, at
// most maxCommits commits (the rest are summarised by one embed linking the
// compare view), packed into as few messages as Discord's limits allow. A push
// without commits (a deleted branch) gives no message.
func buildPayloads(ev pushEvent, maxCommits int) []payload {
	if len(ev.Commits) == 0 {
		return nil
	}
	footer := footerText(ev)
	commits := ev.Commits
	var embeds []embed
	if maxCommits > 0 && len(commits) > maxCommits {
		commits = commits[:maxCommits]
	}
	for _, c := range commits {
		embeds = append(embeds, commitEmbed(c, footer, profileBase(ev.Repository.HTMLURL)))
	}
	if rest := len(ev.Commits) - len(commits); rest > 0 {
		embeds = append(embeds, embed{
			Title:  fmt.Sprintf("%s %d more commits not shown", ellipsis, rest),
			URL:    ev.Compare,
			Color:  embedColor,
			Footer: &embedFooter{Text: footer},
		})
	}
	return pack(embeds)
}

// pack fills messages in order, starting a new one when the next embed would
// exceed the embed count or the text total of the current one.
func pack(embeds []embed) []payload {
	var out []payload
	var cur []embed
	curLen := 0
	for _, e := range embeds {
		n := e.textLen()
		if len(cur) == maxEmbedsPerMessage || (len(cur) > 0 && curLen+n > maxMessageText) {
			out = append(out, newPayload(cur))
			cur, curLen = nil, 0
		}
		cur = append(cur, e)
		curLen += n
	}
	if len(cur) > 0 {
		out = append(out, newPayload(cur))
	}
	return out
}

func newPayload(embeds []embed) payload {
	return payload{Embeds: embeds, AllowedMentions: allowedMentions{Parse: []string{}}}
}

// commitEmbed shows one commit: the short hash and subject as a title linking
// the commit, the rest of the message as the description, the author, the
// commit time, and the repository and branch in the footer.
func commitEmbed(c commit, footer, profiles string) embed {
	msg := strings.TrimSpace(strings.ReplaceAll(c.Message, "\r\n", "\n"))
	subject, body, _ := strings.Cut(msg, "\n")
	full := shortHash(c.ID) + " " + subject
	e := embed{
		Title:       truncate(full, maxTitle),
		URL:         c.URL,
		Description: strings.TrimSpace(body),
		Timestamp:   normalizeTime(c.Timestamp),
		Color:       embedColor,
		Footer:      &embedFooter{Text: truncate(footer, maxFooter)},
	}
	if e.Title != full {
		// The subject did not fit: keep the whole message readable below.
		e.Description = msg
	}
	e.Description = truncate(e.Description, maxDescription)
	if name := authorName(c.Author); name != "" {
		e.Author = &embedAuthor{Name: truncate(name, maxAuthorName)}
		if profiles != "" && c.Author.Username != "" {
			e.Author.URL = profiles + "/" + url.PathEscape(c.Author.Username)
		}
	}
	// Title, author and footer are at most 2560 units together, so the
	// description alone can always absorb the excess over one message's total.
	if over := e.textLen() - maxMessageText; over > 0 {
		e.Description = truncate(e.Description, textLen(e.Description)-over)
	}
	return e
}

func shortHash(id string) string {
	if len(id) > 7 {
		return id[:7]
	}
	return id
}

func authorName(a commitAuthor) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Username
}

// footerText names where the commits landed: "owner/repo · main".
func footerText(ev pushEvent) string {
	var parts []string
	if ev.Repository.FullName != "" {
		parts = append(parts, ev.Repository.FullName)
	}
	if ev.Ref != "" {
		parts = append(parts, refName(ev.Ref))
	}
	return strings.Join(parts, " · ")
}

// profileBase is the scheme and host of the repository's web address, under
// which each user has a profile page (this also holds for GitHub Enterprise).
func profileBase(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// normalizeTime gives Discord an ISO 8601 time in UTC, or nothing when the
// event's time cannot be read (Discord rejects a malformed timestamp).
func normalizeTime(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
