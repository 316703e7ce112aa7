package risk

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Level orders verdicts from harmless to forbidden; a larger value is worse.
type Level int

// The four verdicts, in increasing order of risk.
const (
	Low Level = iota
	Medium
	High
	Blocked
)

var levelNames = [...]string{"LOW", "MEDIUM", "HIGH", "BLOCKED"}

// String returns the level's upper-case name, "LOW" to "BLOCKED".
func (l Level) String() string {
	if l < Low || l > Blocked {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level name, case-insensitively.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return Low, fmt.Errorf("unknown risk level %q (want LOW, MEDIUM, HIGH or BLOCKED)", s)
}

// MarshalJSON writes the level as its name.
func (l Level) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// UnmarshalJSON reads a level name.
func (l *Level) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("risk level: %w", err)
	}
	v, err := ParseLevel(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}
