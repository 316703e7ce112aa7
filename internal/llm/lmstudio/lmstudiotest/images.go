package lmstudiotest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Image is an image a chat message carried, as the server received it.
type Image struct {
	MIME string
	Data []byte
}

// UnmarshalJSON reads a message whose content is OpenAI's plain string or
// its list of parts ({"type": "text", "text"} and {"type": "image_url",
// "image_url": {"url"}}): the texts are joined into Content, the images
// decoded into Images. An image must be a base64 data URI, as a local
// server fetches no remote URLs.
func (m *ChatMessage) UnmarshalJSON(b []byte) error {
	type plain ChatMessage
	var raw struct {
		plain
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = ChatMessage(raw.plain)
	if len(raw.Content) == 0 || string(raw.Content) == "null" {
		return nil
	}
	if raw.Content[0] == '"' {
		return json.Unmarshal(raw.Content, &m.Content)
	}
	var parts []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	if err := json.Unmarshal(raw.Content, &parts); err != nil {
		return fmt.Errorf("content is neither a string nor a list of parts: %w", err)
	}
	var texts []string
	for _, p := range parts {
		switch p.Type {
		case "text":
			texts = append(texts, p.Text)
		case "image_url":
			im, err := decodeDataURI(p.ImageURL.URL)
			if err != nil {
				return err
			}
			m.Images = append(m.Images, im)
		default:
			return fmt.Errorf("unknown content part type %q", p.Type)
		}
	}
	m.Content = strings.Join(texts, "\n")
	return nil
}

// decodeDataURI reads "data:<mime>;base64,<data>".
func decodeDataURI(u string) (Image, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	meta, data, ok2 := strings.Cut(rest, ",")
	mime, b64 := strings.CutSuffix(meta, ";base64")
	if !ok || !ok2 || !b64 || !strings.HasPrefix(mime, "image/") {
		return Image{}, errors.New("image_url.url must be a base64 data URI of an image (data:image/png;base64,…)")
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return Image{}, fmt.Errorf("image_url.url: %w", err)
	}
	return Image{MIME: mime, Data: raw}, nil
}

// hasImages reports whether any message carries an image.
func (req ChatRequest) hasImages() bool {
	for _, m := range req.Messages {
		if len(m.Images) > 0 {
			return true
		}
	}
	return false
}
