package discordtest

import (
	"fmt"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// Discord's documented message limits.
const (
	MaxContent          = 2000
	MaxEmbeds           = 10
	MaxEmbedTitle       = 256
	MaxEmbedDescription = 4096
	MaxEmbedFields      = 25
	MaxFieldName        = 256
	MaxFieldValue       = 1024
	MaxFooterText       = 2048
	MaxAuthorName       = 256
	MaxEmbedTotal       = 6000
)

// formError is Discord's 400 "Invalid Form Body" (code 50035) or
// "Cannot send an empty message" (50006).
type formError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
}

func (e *formError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Message, e.Detail) }

func invalid(format string, a ...any) *formError {
	return &formError{Code: 50035, Message: "Invalid Form Body", Detail: fmt.Sprintf(format, a...)}
}

// validateMessage checks content and embeds as Discord does; files counts
// the attachments sent along. requireBody is false for edits.
func validateMessage(content string, embeds []*discordgo.MessageEmbed, files int, requireBody bool) *formError {
	if n := utf8.RuneCountInString(content); n > MaxContent {
		return invalid("content: must be %d or fewer in length (got %d)", MaxContent, n)
	}
	if !utf8.ValidString(content) {
		return invalid("content: not valid UTF-8")
	}
	if requireBody && content == "" && len(embeds) == 0 && files == 0 {
		return &formError{Code: 50006, Message: "Cannot send an empty message"}
	}
	if len(embeds) > MaxEmbeds {
		return invalid("embeds: must be %d or fewer in length", MaxEmbeds)
	}
	total := 0
	for i, e := range embeds {
		n, err := validateEmbed(e)
		if err != nil {
			return invalid("embeds.%d.%s", i, err.Detail)
		}
		total += n
	}
	if total > MaxEmbedTotal {
		return invalid("embeds: total size must be %d or fewer characters (got %d)", MaxEmbedTotal, total)
	}
	return nil
}

// validateEmbed returns the embed's character count towards the total.
func validateEmbed(e *discordgo.MessageEmbed) (int, *formError) {
	if e == nil {
		return 0, invalid("null embed")
	}
	count := func(field, s string, max int) (int, *formError) {
		n := utf8.RuneCountInString(s)
		if n > max {
			return 0, &formError{Detail: fmt.Sprintf("%s: must be %d or fewer in length (got %d)", field, max, n)}
		}
		return n, nil
	}
	type check struct {
		field string
		s     string
		max   int
	}
	checks := []check{{"title", e.Title, MaxEmbedTitle}, {"description", e.Description, MaxEmbedDescription}}
	if e.Footer != nil {
		checks = append(checks, check{"footer.text", e.Footer.Text, MaxFooterText})
	}
	if e.Author != nil {
		checks = append(checks, check{"author.name", e.Author.Name, MaxAuthorName})
	}
	if len(e.Fields) > MaxEmbedFields {
		return 0, &formError{Detail: fmt.Sprintf("fields: must be %d or fewer in length", MaxEmbedFields)}
	}
	for i, f := range e.Fields {
		checks = append(checks, check{fmt.Sprintf("fields.%d.name", i), f.Name, MaxFieldName},
			check{fmt.Sprintf("fields.%d.value", i), f.Value, MaxFieldValue})
	}
	total := 0
	for _, c := range checks {
		n, err := count(c.field, c.s, c.max)
		if err != nil {
			return 0, err
		}
		total += n
	}
	if e.Color < 0 || e.Color > 0xFFFFFF {
		return 0, &formError{Detail: "color: must be between 0 and 16777215"}
	}
	return total, nil
}
