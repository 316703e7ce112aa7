// Package logtest reads Mai's JSON log lines in tests as a strict JSON
// reader would: every line one object, and no key twice in any object
// (encoding/json keeps the last of two equal keys and says nothing).
package logtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
)

// Lines decodes every line of the log file at path, failing t on a line
// that is not one JSON object with distinct keys.
func Lines(t testing.TB, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line, err := Decode(sc.Bytes())
		if err != nil {
			t.Errorf("%s line %d: %v\n%s", path, n, err, sc.Text())
			continue
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read log: %v", err)
	}
	return lines
}

// Decode decodes one log line, refusing a repeated key at any depth.
func Decode(line []byte) (map[string]any, error) {
	if err := checkKeys(json.NewDecoder(bytes.NewReader(line))); err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(line, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// checkKeys reads one JSON value from dec, checking each object's keys.
func checkKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty line")
		}
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key := k.(string)
			if seen[key] {
				return fmt.Errorf("key %q appears twice", key)
			}
			seen[key] = true
			if err := checkKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := checkKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
