// Package discordtest is a fake Discord for tests: a loopback REST API and
// a real websocket gateway that discordgo talks to unchanged. It keeps the
// messages of DM channels, enforces per-route rate limits with Discord's
// X-RateLimit-* headers and 429s, validates bodies against Discord's limits,
// and records every call.
package discordtest

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
)

// Token is the bot token the fake accepts ("Bot " + Token on the wire).
const Token = "fake-token"

// BotID and AppID are the fake bot's user and application ids.
const (
	BotID = "900000000000000001"
	AppID = "900000000000000002"
)

// Call is one REST request the fake received.
type Call struct {
	Method string
	Path   string // below the API root, e.g. /channels/1/messages
	Route  string // with ids replaced, e.g. PATCH /channels/{id}/messages/{m}
	Body   []byte // the JSON body, or the payload_json part of a multipart body
	Files  map[string][]byte
	Status int
	At     time.Time
}

// Options adjusts New; the zero value gives Discord-like defaults.
type Options struct {
	// Limits replaces DefaultLimits (nil keeps them).
	Limits map[string]Limit
	// HeartbeatInterval is what HELLO announces; default 41.25 s as Discord.
	HeartbeatInterval time.Duration
}

// Server is a running fake Discord.
type Server struct {
	// URL is the REST API root, what DISCORD_API_URL takes.
	URL string

	http    *httptest.Server
	limiter *limiter
	gw      *gateway

	mu       sync.Mutex
	calls    []Call
	messages map[string][]*discordgo.Message // by channel, in order of creation
	dms      map[string]string               // user id → DM channel id
	users    map[string]*discordgo.User
	nextID   int64
	down     bool
	commands []*discordgo.ApplicationCommand
	replies  map[string][]Call  // interaction id → callback and follow-up calls
	cdn      map[string]cdnFile // attachment id → the uploaded file
}

// New starts a fake Discord; Close stops it.
func New(o Options) *Server {
	if o.Limits == nil {
		o.Limits = DefaultLimits()
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 41250 * time.Millisecond
	}
	s := &Server{
		limiter:  newLimiter(o.Limits),
		messages: map[string][]*discordgo.Message{},
		dms:      map[string]string{},
		users:    map[string]*discordgo.User{BotID: {ID: BotID, Username: "mai", Bot: true}},
		nextID:   1_000_000_000_000_000_000,
		replies:  map[string][]Call{},
		cdn:      map[string]cdnFile{},
	}
	s.gw = newGateway(s, o.HeartbeatInterval)
	mux := http.NewServeMux()
	mux.HandleFunc("/gateway/", s.gw.serve) // discordgo adds the trailing slash
	mux.HandleFunc("/api/v"+discordgo.APIVersion+"/", s.serveREST)
	mux.HandleFunc("/attachments/", s.serveCDN)
	s.http = httptest.NewUnstartedServer(mux)
	s.http.Start()
	s.URL = s.http.URL + "/api/v" + discordgo.APIVersion
	return s
}

// Close stops the server and drops every gateway connection.
func (s *Server) Close() {
	s.gw.closeAll()
	s.http.CloseClientConnections()
	s.http.Close()
}

// newID returns a fresh snowflake; later ids compare greater, as Discord's.
func (s *Server) newID() string {
	s.nextID++
	return strconv.FormatInt(s.nextID, 10)
}

// SetDown makes REST fail (connections closed without an answer) while
// down is true, and the gateway refuse new connections; it does not drop
// the connection already open (see DropGateway).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *Server) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// Calls returns a copy of every REST call so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// RateLimited returns how many requests were answered 429.
func (s *Server) RateLimited() int { return s.limiter.count() }

// Messages returns the messages of a channel in order, as Discord holds
// them now (edits applied, deletions gone).
func (s *Server) Messages(channelID string) []discordgo.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]discordgo.Message, 0, len(s.messages[channelID]))
	for _, m := range s.messages[channelID] {
		out = append(out, *m)
	}
	return out
}

// BotMessages returns the bot's messages in a channel, in order.
func (s *Server) BotMessages(channelID string) []discordgo.Message {
	var out []discordgo.Message
	for _, m := range s.Messages(channelID) {
		if m.Author != nil && m.Author.ID == BotID {
			out = append(out, m)
		}
	}
	return out
}

// Commands returns the application commands registered last.
func (s *Server) Commands() []*discordgo.ApplicationCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*discordgo.ApplicationCommand(nil), s.commands...)
}

// InteractionCalls returns the calls that answered interaction id
// (callback, edits of the original response).
func (s *Server) InteractionCalls(id string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.replies[id]...)
}

// User registers (or returns) a human user.
func (s *Server) User(id, name string) *discordgo.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked(id, name)
}

func (s *Server) userLocked(id, name string) *discordgo.User {
	if u := s.users[id]; u != nil {
		return u
	}
	u := &discordgo.User{ID: id, Username: name}
	s.users[id] = u
	return u
}

// DMChannel returns the id of the DM channel between the bot and userID,
// creating it.
func (s *Server) DMChannel(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dmLocked(userID)
}

func (s *Server) dmLocked(userID string) string {
	if id, ok := s.dms[userID]; ok {
		return id
	}
	s.userLocked(userID, "user"+userID)
	id := s.newID()
	s.dms[userID] = id
	return id
}

// SendDM posts content from userID in their DM with the bot and dispatches
// MESSAGE_CREATE; it returns the message.
func (s *Server) SendDM(userID, content string, attachments ...*discordgo.MessageAttachment) *discordgo.Message {
	s.mu.Lock()
	ch := s.dmLocked(userID)
	m := &discordgo.Message{
		ID: s.newID(), ChannelID: ch, Content: content, Author: s.users[userID],
		Timestamp: time.Now().UTC(), Type: discordgo.MessageTypeDefault, Attachments: attachments,
	}
	s.messages[ch] = append(s.messages[ch], m)
	cp := *m
	s.mu.Unlock()
	s.gw.dispatch("MESSAGE_CREATE", &cp)
	return &cp
}

// React adds userID's reaction emoji to a message and dispatches
// MESSAGE_REACTION_ADD, which carries ids and the emoji only.
func (s *Server) React(userID, channelID, messageID, emoji string) {
	s.gw.dispatch("MESSAGE_REACTION_ADD", &discordgo.MessageReaction{
		UserID: userID, ChannelID: channelID, MessageID: messageID, Emoji: discordgo.Emoji{Name: emoji},
	})
}

// Interact dispatches INTERACTION_CREATE for the slash command name with
// options, from userID in their DM; it returns the interaction id.
func (s *Server) Interact(userID, name string, options ...*discordgo.ApplicationCommandInteractionDataOption) string {
	s.mu.Lock()
	ch := s.dmLocked(userID)
	id := s.newID()
	user := s.users[userID]
	s.mu.Unlock()
	s.gw.dispatch("INTERACTION_CREATE", map[string]any{
		"id": id, "application_id": AppID, "type": discordgo.InteractionApplicationCommand,
		"token": "itoken-" + id, "version": 1, "channel_id": ch, "user": user, "app_permissions": "0",
		"data": map[string]any{"id": s.commandID(name), "name": name, "type": discordgo.ChatApplicationCommand, "options": options},
	})
	return id
}

func (s *Server) commandID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.commands {
		if c.Name == name {
			return c.ID
		}
	}
	return "0"
}

// DropGateway closes the gateway connection without a close frame, as a
// network failure does; the session stays resumable.
func (s *Server) DropGateway() { s.gw.drop() }

// Reconnect sends op 7 RECONNECT.
func (s *Server) Reconnect() { s.gw.sendOp(7, nil) }

// InvalidateSession forgets the session and sends op 9 (not resumable).
func (s *Server) InvalidateSession() { s.gw.invalidate() }

// Identifies returns the IDENTIFY payloads received, and Resumes how many
// RESUMEs succeeded.
func (s *Server) Identifies() []Identify { return s.gw.identifies() }

// Resumes returns how many RESUMEs were accepted.
func (s *Server) Resumes() int { return s.gw.resumes() }

// Presences returns the custom statuses the bot set (op 3), in order.
func (s *Server) Presences() []string { return s.gw.presenceLog() }

// Connected reports whether a gateway session is open and identified.
func (s *Server) Connected() bool { return s.gw.connected() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

// readBody returns the JSON payload and any files of a request.
func readBody(r *http.Request) ([]byte, map[string][]byte, error) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		b, err := io.ReadAll(r.Body)
		return b, nil, err
	}
	files := map[string][]byte{}
	var payload []byte
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return payload, files, nil
		}
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, err
		}
		if p.FormName() == "payload_json" {
			payload = b
		} else {
			files[p.FileName()] = b
		}
	}
}

// route names a path's rate-limit route, ids replaced by placeholders.
func route(method string, parts []string) string {
	out := append([]string(nil), parts...)
	set := func(i int, name string) {
		if i < len(out) {
			out[i] = name
		}
	}
	switch parts[0] {
	case "channels":
		set(1, "{id}")
		set(3, "{m}")
		set(5, "{e}")
	case "interactions", "webhooks":
		set(1, "{id}")
		set(2, "{token}")
	case "applications":
		set(1, "{app}")
	}
	return method + " /" + strings.Join(out, "/")
}

// history returns up to limit messages of ch, newest first, as Discord's
// GET /channels/{id}/messages does, honouring before and after.
func (s *Server) history(ch string, limit int, before, after string) []discordgo.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.messages[ch]
	var out []discordgo.Message
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		if before != "" && !idLess(m.ID, before) || after != "" && !idLess(after, m.ID) {
			continue
		}
		out = append(out, *m)
	}
	if after != "" { // Discord returns the oldest ones after the anchor
		sort.Slice(out, func(i, j int) bool { return idLess(out[j].ID, out[i].ID) })
		if len(out) > limit {
			out = out[len(out)-limit:]
		}
		return out
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// ReplyDM posts content from userID as a reply to the message toID in
// their DM, carrying the reference and the referenced message as Discord
// does, and dispatches MESSAGE_CREATE.
func (s *Server) ReplyDM(userID, content, toID string) *discordgo.Message {
	s.mu.Lock()
	ch := s.dmLocked(userID)
	to, _ := s.findLocked(ch, toID)
	m := &discordgo.Message{
		ID: s.newID(), ChannelID: ch, Content: content, Author: s.users[userID],
		Timestamp: time.Now().UTC(), Type: discordgo.MessageTypeReply,
		MessageReference: &discordgo.MessageReference{MessageID: toID, ChannelID: ch},
	}
	if to != nil {
		cp := *to
		cp.ReferencedMessage = nil // Discord does not nest them
		m.ReferencedMessage = &cp
	}
	s.messages[ch] = append(s.messages[ch], m)
	cp := *m
	s.mu.Unlock()
	s.gw.dispatch("MESSAGE_CREATE", &cp)
	return &cp
}

// EditDM changes the text of userID's message id and dispatches
// MESSAGE_UPDATE with the whole message.
func (s *Server) EditDM(userID, id, content string) {
	s.mu.Lock()
	m, _ := s.findLocked(s.dmLocked(userID), id)
	if m == nil {
		s.mu.Unlock()
		return
	}
	m.Content = content
	t := time.Now().UTC()
	m.EditedTimestamp = &t
	cp := *m
	s.mu.Unlock()
	s.gw.dispatch("MESSAGE_UPDATE", &cp)
}

// DeleteDM deletes userID's message id and dispatches MESSAGE_DELETE,
// which carries only the ids.
func (s *Server) DeleteDM(userID, id string) {
	s.mu.Lock()
	ch := s.dmLocked(userID)
	if _, i := s.findLocked(ch, id); i >= 0 {
		s.messages[ch] = append(s.messages[ch][:i], s.messages[ch][i+1:]...)
	}
	s.mu.Unlock()
	s.gw.dispatch("MESSAGE_DELETE", map[string]string{"id": id, "channel_id": ch})
}
