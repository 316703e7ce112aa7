package discordtest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/discord/discordtest"
)

const owner = "100000000000000001"

// open connects a real discordgo session to fake and returns it with a
// channel of the MESSAGE_CREATE events it receives.
func open(t *testing.T, fake *discordtest.Server) (*discordgo.Session, chan *discordgo.MessageCreate) {
	t.Helper()
	s, err := discord.NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	got := make(chan *discordgo.MessageCreate, 16)
	s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { got <- m })
	if err := s.Open(); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, got
}

func newFake(t *testing.T, o discordtest.Options) *discordtest.Server {
	fake := discordtest.New(o)
	t.Cleanup(fake.Close)
	return fake
}

func receive(t *testing.T, got chan *discordgo.MessageCreate, want string) {
	t.Helper()
	select {
	case m := <-got:
		if m.Content != want {
			t.Fatalf("got message %q, want %q", m.Content, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no MESSAGE_CREATE %q within 10 s", want)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestGatewayIdentifyAndDispatch(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s, got := open(t, fake)
	ids := fake.Identifies()
	if len(ids) != 1 || ids[0].Intents != int(discordgo.IntentsDirectMessages|discordgo.IntentsDirectMessageReactions) {
		t.Fatalf("identifies = %+v, want one with the DM intents only", ids)
	}
	if s.State.User == nil || s.State.User.ID != discordtest.BotID {
		t.Fatalf("READY did not carry the bot user: %+v", s.State.User)
	}
	fake.SendDM(owner, "hello")
	receive(t, got, "hello")
}

func TestGatewayResumeReplaysMissedEvents(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	_, got := open(t, fake)
	fake.SendDM(owner, "before")
	receive(t, got, "before")
	fake.DropGateway()
	fake.SendDM(owner, "during") // kept for the resume
	receive(t, got, "during")
	fake.SendDM(owner, "after")
	receive(t, got, "after")
	if fake.Resumes() != 1 || len(fake.Identifies()) != 1 {
		t.Fatalf("resumes=%d identifies=%d, want 1 and 1", fake.Resumes(), len(fake.Identifies()))
	}
	select {
	case m := <-got:
		t.Fatalf("event delivered twice: %q", m.Content)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestGatewayInvalidSessionAndReconnect(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	_, got := open(t, fake)
	fake.InvalidateSession()
	waitFor(t, "a second IDENTIFY", func() bool { return len(fake.Identifies()) == 2 && fake.Connected() })
	fake.SendDM(owner, "new session")
	receive(t, got, "new session")
	fake.Reconnect()
	waitFor(t, "a RESUME after op 7", func() bool { return fake.Resumes() == 1 && fake.Connected() })
	fake.SendDM(owner, "resumed")
	receive(t, got, "resumed")
}

func TestGatewayRefusesMessageContentIntent(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s, err := discord.NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	s.ShouldReconnectOnError = false
	s.Identify.Intents |= discordgo.IntentMessageContent
	err = s.Open()
	defer s.Close()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4014 {
		t.Fatalf("open with MESSAGE_CONTENT: err = %v, want close 4014", err)
	}
}

func TestRESTValidatesAndRecords(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s, _ := open(t, fake)
	ch, err := s.UserChannelCreate(owner)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.ChannelMessageSend(ch.ID, "hi")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChannelMessageEdit(ch.ID, m.ID, "hi there"); err != nil {
		t.Fatal(err)
	}
	_, err = s.ChannelMessageSend(ch.ID, strings.Repeat("é", 2001))
	var rerr *discordgo.RESTError
	if !errors.As(err, &rerr) || rerr.Response.StatusCode != http.StatusBadRequest || rerr.Message.Code != 50035 {
		t.Fatalf("2001 characters: err = %v, want 400 code 50035", err)
	}
	if _, err := s.ChannelMessageSend(ch.ID, strings.Repeat("é", 2000)); err != nil {
		t.Fatalf("2000 characters: %v", err)
	}
	_, err = s.ChannelMessageSendEmbed(ch.ID, &discordgo.MessageEmbed{Description: strings.Repeat("x", 4097)})
	if !errors.As(err, &rerr) || rerr.Response.StatusCode != http.StatusBadRequest {
		t.Fatalf("4097-character embed description: err = %v, want 400", err)
	}
	if err := s.MessageReactionAdd(ch.ID, m.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages(ch.ID)
	if len(msgs) != 2 || msgs[0].Content != "hi there" || msgs[0].EditedTimestamp == nil || len(msgs[0].Reactions) != 1 || msgs[0].Reactions[0].Emoji.Name != "👍" {
		t.Fatalf("channel holds %+v", msgs)
	}
	var routes []string
	for _, c := range fake.Calls() {
		routes = append(routes, c.Route)
	}
	want := "POST /users/@me/channels,POST /channels/{id}/messages,PATCH /channels/{id}/messages/{m},POST /channels/{id}/messages,POST /channels/{id}/messages,POST /channels/{id}/messages,PUT /channels/{id}/messages/{m}/reactions/{e}/@me"
	if got := strings.Join(routes[1:], ","); got != want { // routes[0] is GET /gateway
		t.Fatalf("calls:\n%s\nwant\n%s", got, want)
	}
}

func TestRESTRateLimitHeadersAnd429(t *testing.T) {
	fake := newFake(t, discordtest.Options{Limits: map[string]discordtest.Limit{
		"POST /channels/{id}/messages": {Requests: 2, Window: 400 * time.Millisecond},
	}})
	s, _ := open(t, fake)
	ch, _ := s.UserChannelCreate(owner)
	// Raw requests, bypassing discordgo's limiter, see the headers and the 429.
	var statuses []int
	for i := 0; i < 3; i++ {
		resp, err := s.Client.Do(authed(t, fake.URL+"/channels/"+ch.ID+"/messages", `{"content":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		if i == 0 && (resp.Header.Get("X-RateLimit-Limit") != "2" || resp.Header.Get("X-RateLimit-Remaining") != "1" || resp.Header.Get("X-RateLimit-Reset-After") == "") {
			t.Fatalf("headers %v", resp.Header)
		}
	}
	if statuses[0] != 200 || statuses[1] != 200 || statuses[2] != 429 || fake.RateLimited() != 1 {
		t.Fatalf("statuses %v, 429s %d; want 200 200 429 and 1", statuses, fake.RateLimited())
	}
	// discordgo reads the headers and waits: ten sends, no further 429.
	time.Sleep(450 * time.Millisecond)
	for i := 0; i < 10; i++ {
		if _, err := s.ChannelMessageSend(ch.ID, "y"); err != nil {
			t.Fatal(err)
		}
	}
	if fake.RateLimited() != 1 {
		t.Fatalf("discordgo ran into %d more 429s", fake.RateLimited()-1)
	}
}

func authed(t *testing.T, url, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bot "+discordtest.Token)
	r.Header.Set("Content-Type", "application/json")
	return r
}
