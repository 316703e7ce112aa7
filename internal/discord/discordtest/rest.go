package discordtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
)

// serveREST answers one API call: it checks the token, spends the route's
// rate limit, dispatches, and records the call with its status.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	if s.isDown() {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		writeJSON(w, http.StatusServiceUnavailable, nil)
		return
	}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v"+discordgo.APIVersion+"/")
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	body, files, err := readBody(r)
	call := Call{Method: r.Method, Path: "/" + strings.Join(parts, "/"), Route: route(r.Method, parts), Body: body, Files: files, At: time.Now()}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		call.Status = rec.status
		s.mu.Lock()
		s.calls = append(s.calls, call)
		if parts[0] == "interactions" || parts[0] == "webhooks" {
			id := strings.TrimPrefix(parts[2], "itoken-")
			s.replies[id] = append(s.replies[id], call)
		}
		s.mu.Unlock()
	}()
	switch {
	case err != nil:
		writeJSON(rec, http.StatusBadRequest, &formError{Code: 50109, Message: "The request body contains invalid multipart form."})
		return
	case parts[0] != "gateway" && r.Header.Get("Authorization") != "Bot "+Token:
		writeJSON(rec, http.StatusUnauthorized, &formError{Code: 0, Message: "401: Unauthorized"})
		return
	}
	major := ""
	if len(parts) > 1 {
		major = parts[1]
	}
	if !s.limiter.take(rec, call.Route, major, time.Now()) {
		return
	}
	s.handle(rec, r, parts, body, files)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, parts []string, body []byte, files map[string][]byte) {
	route := route(r.Method, parts)
	switch {
	case route == "GET /gateway" || route == "GET /gateway/bot":
		writeJSON(w, http.StatusOK, map[string]any{"url": "ws" + strings.TrimPrefix(s.http.URL, "http") + "/gateway", "shards": 1})
	case route == "GET /users/@me":
		writeJSON(w, http.StatusOK, s.User(BotID, "mai"))
	case route == "POST /users/@me/channels":
		s.createDM(w, body)
	case route == "POST /channels/{id}/messages":
		s.createMessage(w, parts[1], body, files)
	case route == "PATCH /channels/{id}/messages/{m}":
		s.editMessage(w, parts[1], parts[3], body)
	case route == "DELETE /channels/{id}/messages/{m}":
		s.deleteMessage(w, parts[1], parts[3])
	case route == "GET /channels/{id}/messages/{m}":
		s.getMessage(w, parts[1], parts[3])
	case route == "GET /channels/{id}/messages":
		s.listMessages(w, parts[1], r.URL.Query())
	case route == "PUT /channels/{id}/messages/{m}/reactions/{e}/@me":
		s.addReaction(w, parts[1], parts[3], parts[5])
	case route == "POST /channels/{id}/typing":
		writeJSON(w, http.StatusNoContent, nil)
	case route == "PUT /applications/{app}/commands":
		s.overwriteCommands(w, body)
	case route == "POST /interactions/{id}/{token}/callback":
		s.interactionCallback(w, body)
	case strings.HasPrefix(route, "PATCH /webhooks/{id}/{token}/messages/"),
		route == "POST /webhooks/{id}/{token}":
		s.interactionEdit(w, body)
	default:
		writeJSON(w, http.StatusNotFound, &formError{Code: 0, Message: "404: Not Found", Detail: route})
	}
}

// decode reads a JSON body into v, answering 400 (code 50109) when it is
// not JSON.
func decode(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeJSON(w, http.StatusBadRequest, &formError{Code: 50109, Message: "The request body contains invalid JSON."})
		return false
	}
	return true
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) createDM(w http.ResponseWriter, body []byte) {
	var req struct {
		RecipientID string `json:"recipient_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.RecipientID == "" {
		writeJSON(w, http.StatusBadRequest, invalid("recipient_id: required"))
		return
	}
	s.mu.Lock()
	ch := s.dmLocked(req.RecipientID)
	u := *s.users[req.RecipientID]
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, &discordgo.Channel{ID: ch, Type: discordgo.ChannelTypeDM, Recipients: []*discordgo.User{&u}})
}

// knownChannel reports whether ch is one of the fake's DM channels.
func (s *Server) knownChannel(ch string) bool {
	for _, id := range s.dms {
		if id == ch {
			return true
		}
	}
	return false
}

func (s *Server) createMessage(w http.ResponseWriter, ch string, body []byte, files map[string][]byte) {
	var req discordgo.MessageSend
	if !decode(w, body, &req) {
		return
	}
	if ferr := validateMessage(req.Content, req.Embeds, len(files), true); ferr != nil {
		writeJSON(w, http.StatusBadRequest, ferr)
		return
	}
	s.mu.Lock()
	if !s.knownChannel(ch) {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, &formError{Code: 10003, Message: "Unknown Channel"})
		return
	}
	m := &discordgo.Message{
		ID: s.newID(), ChannelID: ch, Content: req.Content, Embeds: req.Embeds,
		Author: s.users[BotID], Timestamp: time.Now().UTC(), MessageReference: req.Reference,
	}
	for name, data := range files {
		m.Attachments = append(m.Attachments, &discordgo.MessageAttachment{ID: s.newID(), Filename: name, Size: len(data)})
	}
	s.messages[ch] = append(s.messages[ch], m)
	cp := *m
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, &cp)
}

// findLocked returns the message and its index, or nil.
func (s *Server) findLocked(ch, id string) (*discordgo.Message, int) {
	for i, m := range s.messages[ch] {
		if m.ID == id {
			return m, i
		}
	}
	return nil, -1
}

func (s *Server) editMessage(w http.ResponseWriter, ch, id string, body []byte) {
	var req discordgo.MessageEdit
	if !decode(w, body, &req) {
		return
	}
	content := deref(req.Content)
	var embeds []*discordgo.MessageEmbed
	if req.Embeds != nil {
		embeds = *req.Embeds
	}
	if ferr := validateMessage(content, embeds, 0, false); ferr != nil {
		writeJSON(w, http.StatusBadRequest, ferr)
		return
	}
	s.mu.Lock()
	m, _ := s.findLocked(ch, id)
	if m == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, &formError{Code: 10008, Message: "Unknown Message"})
		return
	}
	if m.Author == nil || m.Author.ID != BotID {
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, &formError{Code: 50005, Message: "Cannot edit a message authored by another user"})
		return
	}
	if req.Content != nil {
		m.Content = *req.Content
	}
	if req.Embeds != nil {
		m.Embeds = *req.Embeds
	}
	now := time.Now().UTC()
	m.EditedTimestamp = &now
	cp := *m
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, &cp)
}

func (s *Server) deleteMessage(w http.ResponseWriter, ch, id string) {
	s.mu.Lock()
	_, i := s.findLocked(ch, id)
	if i < 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, &formError{Code: 10008, Message: "Unknown Message"})
		return
	}
	s.messages[ch] = append(s.messages[ch][:i:i], s.messages[ch][i+1:]...)
	s.mu.Unlock()
	writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) getMessage(w http.ResponseWriter, ch, id string) {
	s.mu.Lock()
	m, _ := s.findLocked(ch, id)
	var cp discordgo.Message
	if m != nil {
		cp = *m
	}
	s.mu.Unlock()
	if m == nil {
		writeJSON(w, http.StatusNotFound, &formError{Code: 10008, Message: "Unknown Message"})
		return
	}
	writeJSON(w, http.StatusOK, &cp)
}

func (s *Server) listMessages(w http.ResponseWriter, ch string, q url.Values) {
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeJSON(w, http.StatusBadRequest, invalid("limit: must be between 1 and 100"))
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, s.history(ch, limit, q.Get("before"), q.Get("after")))
}

func (s *Server) addReaction(w http.ResponseWriter, ch, id, emoji string) {
	s.mu.Lock()
	m, _ := s.findLocked(ch, id)
	if m != nil {
		found := false
		for _, r := range m.Reactions {
			if r.Emoji.Name == emoji {
				found = true
				if !r.Me {
					r.Me = true
					r.Count++
				}
			}
		}
		if !found {
			m.Reactions = append(m.Reactions, &discordgo.MessageReactions{Emoji: &discordgo.Emoji{Name: emoji}, Count: 1, Me: true})
		}
	}
	s.mu.Unlock()
	if m == nil {
		writeJSON(w, http.StatusNotFound, &formError{Code: 10008, Message: "Unknown Message"})
		return
	}
	writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) overwriteCommands(w http.ResponseWriter, body []byte) {
	var cmds []*discordgo.ApplicationCommand
	if !decode(w, body, &cmds) {
		return
	}
	s.mu.Lock()
	for _, c := range cmds {
		if c.Name == "" || len(c.Name) > 32 || strings.ToLower(c.Name) != c.Name || c.Description == "" || len(c.Description) > 100 {
			s.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, invalid("name or description of %q out of Discord's limits", c.Name))
			return
		}
		c.ID = s.newID()
		c.ApplicationID = AppID
	}
	s.commands = cmds
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, cmds)
}

func (s *Server) interactionCallback(w http.ResponseWriter, body []byte) {
	var resp discordgo.InteractionResponse
	if err := json.Unmarshal(body, &resp); err != nil || resp.Type == 0 {
		writeJSON(w, http.StatusBadRequest, invalid("type: required"))
		return
	}
	if resp.Data != nil {
		if ferr := validateMessage(resp.Data.Content, resp.Data.Embeds, 0, false); ferr != nil {
			writeJSON(w, http.StatusBadRequest, ferr)
			return
		}
	}
	writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) interactionEdit(w http.ResponseWriter, body []byte) {
	var req discordgo.WebhookEdit
	if !decode(w, body, &req) {
		return
	}
	content := deref(req.Content)
	if ferr := validateMessage(content, nil, 0, false); ferr != nil {
		writeJSON(w, http.StatusBadRequest, ferr)
		return
	}
	s.mu.Lock()
	m := &discordgo.Message{ID: s.newID(), Content: content, Author: s.users[BotID], Timestamp: time.Now().UTC()}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, m)
}
