package discordtest

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Identify is what a client sent in IDENTIFY.
type Identify struct {
	Token   string `json:"token"`
	Intents int    `json:"intents"`
}

// payload is one gateway frame.
type payload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  int64           `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

// session is a gateway session: its sequence and every dispatch sent, kept
// for RESUME.
type session struct {
	id     string
	seq    int64
	events []payload
}

// gateway serves the websocket side. One client at a time (one bot).
type gateway struct {
	srv       *Server
	heartbeat time.Duration
	upgrader  websocket.Upgrader

	mu       sync.Mutex
	conn     *websocket.Conn
	writeMu  sync.Mutex
	sess     *session
	ready    bool
	idents   []Identify
	resumed  int
	sessions map[string]*session
	// presences are the custom statuses set with op 3, in order.
	presences []string
}

func newGateway(s *Server, hb time.Duration) *gateway {
	return &gateway{srv: s, heartbeat: hb, sessions: map[string]*session{}}
}

// serve runs one connection: HELLO, then IDENTIFY or RESUME, then
// heartbeats until the connection ends.
func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	if g.srv.isDown() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	c, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	g.mu.Lock()
	if g.conn != nil {
		g.conn.Close()
	}
	g.conn, g.ready = c, false
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if g.conn == c {
			g.conn, g.ready = nil, false
		}
		g.mu.Unlock()
		c.Close()
	}()
	g.write(c, payload{Op: 10, D: mustJSON(map[string]any{"heartbeat_interval": g.heartbeat.Milliseconds()})})
	for {
		var p payload
		if err := c.ReadJSON(&p); err != nil {
			return
		}
		switch p.Op {
		case 1:
			g.write(c, payload{Op: 11})
		case 2:
			if !g.identify(c, p.D) {
				return
			}
		case 6:
			g.resume(c, p.D)
		case 3:
			var u struct {
				Activities []struct {
					Name  string `json:"name"`
					State string `json:"state"`
				} `json:"activities"`
			}
			json.Unmarshal(p.D, &u)
			g.mu.Lock()
			g.presences = append(g.presences, "")
			if len(u.Activities) > 0 {
				g.presences[len(g.presences)-1] = u.Activities[0].State
			}
			g.mu.Unlock()
		}
	}
}

// intentMessageContent is the privileged MESSAGE_CONTENT intent.
const intentMessageContent = 1 << 15

// identify starts a new session, or closes the connection as Discord does
// for a bad token (4004) or a privileged intent not enabled (4014).
func (g *gateway) identify(c *websocket.Conn, raw json.RawMessage) bool {
	var id Identify
	json.Unmarshal(raw, &id)
	g.mu.Lock()
	g.idents = append(g.idents, id)
	g.mu.Unlock()
	closeWith := func(code int, text string) bool {
		g.writeMu.Lock()
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, text))
		g.writeMu.Unlock()
		return false
	}
	if id.Token != "Bot "+Token {
		return closeWith(4004, "Authentication failed.")
	}
	if id.Intents&intentMessageContent != 0 {
		return closeWith(4014, "Disallowed intent(s).")
	}
	g.srv.mu.Lock()
	sid := "session-" + g.srv.newID()
	bot := *g.srv.users[BotID]
	g.srv.mu.Unlock()
	g.mu.Lock()
	g.sess = &session{id: sid}
	g.sessions[sid] = g.sess
	g.mu.Unlock()
	g.dispatch("READY", map[string]any{
		"v": 9, "user": bot, "session_id": sid, "resume_gateway_url": "ws://unused.invalid",
		"guilds": []any{}, "private_channels": []any{}, "application": map[string]any{"id": AppID, "flags": 0},
	})
	g.mu.Lock()
	g.ready = true
	g.mu.Unlock()
	return true
}

// resume replays what the session missed, then sends RESUMED; an unknown
// session gets op 9 with d=false.
func (g *gateway) resume(c *websocket.Conn, raw json.RawMessage) {
	var req struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	json.Unmarshal(raw, &req)
	g.mu.Lock()
	sess := g.sessions[req.SessionID]
	if sess == nil || req.Token != "Bot "+Token {
		g.mu.Unlock()
		g.write(c, payload{Op: 9, D: json.RawMessage("false")})
		return
	}
	g.sess = sess
	var missed []payload
	for _, e := range sess.events {
		if e.S > req.Seq {
			missed = append(missed, e)
		}
	}
	g.resumed++
	// Replay under the lock, so that a dispatch meanwhile waits and comes
	// after RESUMED instead of being lost or reordered.
	defer g.mu.Unlock()
	for _, e := range missed {
		g.write(c, e)
	}
	g.ready = true
	sess.seq++
	p := payload{Op: 0, T: "RESUMED", S: sess.seq, D: json.RawMessage("{}")}
	sess.events = append(sess.events, p)
	g.write(c, p)
}

// dispatch sends an event on the current session, keeping it for RESUME;
// with no connection it is only kept, as Discord buffers for a resume.
func (g *gateway) dispatch(t string, d any) {
	g.mu.Lock()
	if g.sess == nil {
		g.mu.Unlock()
		return
	}
	g.sess.seq++
	p := payload{Op: 0, T: t, S: g.sess.seq, D: mustJSON(d)}
	g.sess.events = append(g.sess.events, p)
	defer g.mu.Unlock()
	if g.conn != nil && (g.ready || t == "READY") {
		g.write(g.conn, p)
	}
}

func (g *gateway) sendOp(op int, d any) {
	g.mu.Lock()
	c := g.conn
	g.mu.Unlock()
	if c != nil {
		g.write(c, payload{Op: op, D: mustJSON(d)})
	}
}

func (g *gateway) invalidate() {
	g.mu.Lock()
	if g.sess != nil {
		delete(g.sessions, g.sess.id)
		g.sess = nil
	}
	g.ready = false
	c := g.conn
	g.mu.Unlock()
	if c != nil {
		g.write(c, payload{Op: 9, D: json.RawMessage("false")})
	}
}

// drop closes the TCP connection without a close frame.
func (g *gateway) drop() {
	g.mu.Lock()
	c := g.conn
	g.conn, g.ready = nil, false
	g.mu.Unlock()
	if c != nil {
		c.UnderlyingConn().Close()
	}
}

func (g *gateway) closeAll() { g.drop() }

func (g *gateway) write(c *websocket.Conn, p payload) {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	c.WriteJSON(p)
}

func (g *gateway) identifies() []Identify {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Identify(nil), g.idents...)
}

func (g *gateway) resumes() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resumed
}

func (g *gateway) connected() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conn != nil && g.ready
}

func mustJSON(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (g *gateway) presenceLog() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.presences...)
}
