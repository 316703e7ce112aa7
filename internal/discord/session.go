package discord

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
)

// Intents are the only gateway intents Mai asks for: DMs and reactions in
// DMs. DM content arrives without the privileged MESSAGE_CONTENT intent, and
// asking for it while the portal switch is off gets close code 4014.
const Intents = discordgo.IntentsDirectMessages | discordgo.IntentsDirectMessageReactions

// NewSession returns a discordgo session for token whose REST calls go to
// apiURL (Discord's own, or any server speaking its API). discordgo builds
// its endpoint URLs once from package variables, so instead of changing
// them this gives the session an HTTP client that rewrites the API root;
// the gateway URL then comes from that server's GET /gateway.
func NewSession(token, apiURL string) (*discordgo.Session, error) {
	target, err := url.Parse(strings.TrimRight(apiURL, "/") + "/")
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("discord api url %q: not an absolute URL", apiURL)
	}
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		return nil, fmt.Errorf("discord session: %w", err)
	}
	s.Identify.Intents = Intents
	s.Client = &http.Client{
		Timeout:   20 * time.Second,
		Transport: &rewrite{from: discordgo.EndpointAPI, to: target, next: http.DefaultTransport},
	}
	return s, nil
}

// rewrite sends requests for URLs under from to the same path under to.
type rewrite struct {
	from string
	to   *url.URL
	next http.RoundTripper
}

func (rw *rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	u := r.URL.String()
	if !strings.HasPrefix(u, rw.from) {
		return rw.next.RoundTrip(r)
	}
	nu, err := rw.to.Parse(strings.TrimPrefix(u, rw.from))
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", u, err)
	}
	r2 := r.Clone(r.Context())
	r2.URL = nu
	r2.Host = nu.Host
	return rw.next.RoundTrip(r2)
}
