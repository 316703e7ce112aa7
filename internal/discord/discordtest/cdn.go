package discordtest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// Attachment stores data as a file a user uploads and returns the
// attachment to pass to SendDM; its URL serves the data, as Discord's CDN
// does, until the server closes.
func (s *Server) Attachment(name, contentType string, data []byte) *discordgo.MessageAttachment {
	s.mu.Lock()
	id := s.newID()
	s.cdn[id] = cdnFile{data: append([]byte(nil), data...), contentType: contentType}
	s.mu.Unlock()
	u := s.http.URL + "/attachments/" + id + "/" + name
	return &discordgo.MessageAttachment{ID: id, URL: u, ProxyURL: u, Filename: name, ContentType: contentType, Size: len(data)}
}

type cdnFile struct {
	data        []byte
	contentType string
}

// serveCDN answers GET /attachments/{id}/{name}.
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/attachments/"), "/")
	s.mu.Lock()
	f, ok := s.cdn[parts[0]]
	s.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if f.contentType != "" {
		w.Header().Set("Content-Type", f.contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	w.Write(f.data)
}
