package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func allTypes() *File {
	return &File{
		KV: []KV{
			{"u8", uint8(200)}, {"i8", int8(-5)}, {"u16", uint16(65000)}, {"i16", int16(-30000)},
			{"u32", uint32(4e9)}, {"i32", int32(-2e9)}, {"u64", uint64(1) << 60}, {"i64", int64(-1) << 60},
			{"f32", float32(1.5)}, {"f64", math.Pi}, {"yes", true}, {"no", false},
			{"s", "héllo ▁ world"}, {"empty", ""},
			{"as", []string{"a", "", "▁b"}}, {"af32", []float32{-1, 0.25}}, {"ai32", []int32{1, -2, 3}},
			{"au8", []uint8{1, 2}}, {"ab", []bool{true, false}}, {"au64", []uint64{7}}, {"af64", []float64{}},
			{KeyAlignment, uint32(64)},
		},
		Tensors: []Tensor{
			{Name: "a", Dims: []uint64{3}, Type: F32, Data: bytes.Repeat([]byte{1}, 12)},
			{Name: "b", Dims: []uint64{5, 7}, Type: F16, Data: bytes.Repeat([]byte{2}, 70)},
			{Name: "c", Dims: []uint64{1, 1, 1, 2}, Type: F32, Data: bytes.Repeat([]byte{3}, 8)},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	tiny, err := TinyLlama(TinyConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file *File
	}{
		{"every value type, alignment 64", allTypes()},
		{"no tensors, no keys", &File{}},
		{"tiny llama", tiny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := tt.file.WriteTo(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Errorf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
			}
			b := buf.Bytes()
			if string(b[:4]) != "GGUF" || binary.LittleEndian.Uint32(b[4:]) != 3 {
				t.Fatalf("header % x is not GGUF v3", b[:8])
			}
			if got := binary.LittleEndian.Uint64(b[8:]); got != uint64(len(tt.file.Tensors)) {
				t.Errorf("tensor count %d, want %d", got, len(tt.file.Tensors))
			}
			if got := binary.LittleEndian.Uint64(b[16:]); got != uint64(len(tt.file.KV)) {
				t.Errorf("key count %d, want %d", got, len(tt.file.KV))
			}
			align, _ := tt.file.alignment()
			if len(tt.file.Tensors) > 0 && uint64(len(b))%align != 0 {
				t.Errorf("file length %d is not a multiple of the alignment %d", len(b), align)
			}
			got, err := Read(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalise(got), normalise(tt.file)) {
				t.Errorf("read back differs:\n got %v\nwant %v", summary(got), summary(tt.file))
			}
		})
	}
}

// normalise makes empty and nil slices compare equal.
func normalise(f *File) *File {
	c := &File{KV: append([]KV{}, f.KV...), Tensors: append([]Tensor{}, f.Tensors...)}
	for i, kv := range c.KV {
		if v := reflect.ValueOf(kv.Value); v.Kind() == reflect.Slice && v.Len() == 0 {
			c.KV[i].Value = reflect.Zero(v.Type()).Interface()
		}
	}
	return c
}

func summary(f *File) string {
	var s []string
	for _, kv := range f.KV {
		v := reflect.ValueOf(kv.Value)
		if v.Kind() == reflect.Slice && v.Len() > 8 {
			s = append(s, fmt.Sprintf("%s=%s(len %d)", kv.Key, v.Type(), v.Len()))
			continue
		}
		s = append(s, kv.Key+"="+reflect.TypeOf(kv.Value).String())
	}
	for _, t := range f.Tensors {
		s = append(s, t.Name)
	}
	return strings.Join(s, " ")
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name string
		file File
		want string
	}{
		{"untyped int", File{KV: []KV{{"k", 1}}}, "unsupported value type int"},
		{"repeated key", File{KV: []KV{{"k", uint32(1)}, {"k", uint32(2)}}}, "appears twice"},
		{"empty key", File{KV: []KV{{"", uint32(1)}}}, "empty metadata key"},
		{"alignment type", File{KV: []KV{{KeyAlignment, uint64(32)}}}, "general.alignment must be"},
		{"alignment value", File{KV: []KV{{KeyAlignment, uint32(12)}}}, "general.alignment must be"},
		{"short data", File{Tensors: []Tensor{{Name: "t", Dims: []uint64{4}, Type: F32, Data: make([]byte, 15)}}}, "need 16"},
		{"no dims", File{Tensors: []Tensor{{Name: "t", Type: F32}}}, "0 dimensions"},
		{"repeated tensor", File{Tensors: []Tensor{
			{Name: "t", Dims: []uint64{1}, Type: F32, Data: make([]byte, 4)},
			{Name: "t", Dims: []uint64{1}, Type: F32, Data: make([]byte, 4)},
		}}, "empty or repeated"},
		{"quantised", File{Tensors: []Tensor{{Name: "t", Dims: []uint64{32}, Type: 8, Data: make([]byte, 34)}}}, "unsupported tensor type 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := tt.file.WriteTo(&buf)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes of an invalid file", buf.Len())
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	var good bytes.Buffer
	if _, err := allTypes().WriteTo(&good); err != nil {
		t.Fatal(err)
	}
	b := good.Bytes()
	// Every truncation before the end of the last tensor's data is an error,
	// never a panic or a silent success; the padding after it is optional.
	end := bytes.LastIndexByte(b, 3) + 1
	if end < len(b)-64 {
		t.Fatalf("last tensor ends at %d of %d bytes", end, len(b))
	}
	if _, err := Read(bytes.NewReader(b[:end])); err != nil {
		t.Fatalf("a file without its trailing padding: %v", err)
	}
	for n := range end {
		if _, err := Read(bytes.NewReader(b[:n])); err == nil {
			t.Fatalf("a file truncated to %d of %d bytes was accepted", n, len(b))
		}
	}
	patch := func(off int, v ...byte) []byte {
		c := bytes.Clone(b)
		copy(c[off:], v)
		return c
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"magic", patch(0, 'G', 'G', 'M', 'L'), "magic"},
		{"version 2", patch(4, 2), "version 2 is not 3"},
		{"huge key count", patch(16, 0, 0, 0, 0, 0, 0, 0, 1), "implausible"},
		{"huge string", patch(24, 0, 0, 0, 0, 0, 0, 1), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestTinyLlama(t *testing.T) {
	write := func(c TinyConfig) []byte {
		t.Helper()
		f, err := TinyLlama(c)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, again, other := write(TinyConfig{Seed: 7}), write(TinyConfig{Seed: 7}), write(TinyConfig{Seed: 8})
	if !bytes.Equal(a, again) {
		t.Error("the same seed gave two different files")
	}
	if bytes.Equal(a, other) {
		t.Error("two seeds gave the same file")
	}
	if len(a) < 100<<10 || len(a) > 1<<20 {
		t.Errorf("default tiny model is %d bytes, want a few hundred KB", len(a))
	}

	f, err := Read(bytes.NewReader(write(TinyConfig{Seed: 7, Embedder: true, Blocks: 3, Embedding: 96, Heads: 6})))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"general.architecture":          "llama",
		"general.file_type":             uint32(1),
		"llama.block_count":             uint32(3),
		"llama.embedding_length":        uint32(96),
		"llama.rope.dimension_count":    uint32(16),
		"llama.pooling_type":            uint32(1),
		"tokenizer.ggml.eos_token_id":   uint32(TokenEOS),
		"tokenizer.ggml.add_bos_token":  true,
		"llama.attention.head_count_kv": uint32(6),
	}
	for k, want := range checks {
		if got := f.Get(k); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %T %v, want %T %v", k, got, got, want, want)
		}
	}
	tokens, _ := f.Get("tokenizer.ggml.tokens").([]string)
	if got := f.Get("llama.vocab_size"); got != uint32(len(tokens)) {
		t.Errorf("vocab_size %v, %d tokens", got, len(tokens))
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			t.Errorf("token %q repeated", tok)
		}
		seen[tok] = true
	}
	for _, tok := range []string{"<unk>", "<s>", "</s>", "<0x0A>", "<0xFF>", "▁", "a", "▁hello"} {
		if !seen[tok] {
			t.Errorf("vocabulary lacks %q", tok)
		}
	}
	if _, ok := f.Tensor("blk.2.ffn_down.weight"); !ok {
		t.Error("no blk.2.ffn_down.weight")
	}
	if emb, _ := f.Tensor("token_embd.weight"); !reflect.DeepEqual(emb.Dims, []uint64{96, uint64(len(tokens))}) {
		t.Errorf("token_embd dims %v", emb.Dims)
	}
	if _, err := TinyLlama(TinyConfig{Embedding: 64, Heads: 6}); err == nil {
		t.Error("64 is not a multiple of 6 heads, yet accepted")
	}
}

func TestOutputRows(t *testing.T) {
	plain, _ := TinyLlama(TinyConfig{Seed: 3})
	stop, _ := TinyLlama(TinyConfig{Seed: 3, StopEarly: true})
	p, _ := plain.Tensor("output.weight")
	s, _ := stop.Tensor("output.weight")
	n := int(plain.Get("llama.embedding_length").(uint32))
	row := func(d []byte, tok int) []byte { return d[tok*n*2 : (tok+1)*n*2] }
	tokens := plain.Get("tokenizer.ggml.tokens").([]string)
	last := len(tokens) - 1 // a word, a normal token
	if !bytes.Equal(row(p.Data, last), row(s.Data, last)) {
		t.Error("rows other than EOS changed")
	}
	if bytes.Equal(row(p.Data, last), make([]byte, n*2)) {
		t.Error("a normal token's output row is zero")
	}
	for _, tok := range []int{TokenUnknown, TokenBOS, TokenEOS, TokenEOS + 1, TokenEOS + 256} {
		if !bytes.Equal(row(p.Data, tok), make([]byte, n*2)) {
			t.Errorf("token %d (%s) can be generated: its output row is not zero", tok, tokens[tok])
		}
	}
	var normP, normS float64
	for i := range n {
		normP += math.Abs(float64(float16to32(binary.LittleEndian.Uint16(row(p.Data, TokenEOS)[i*2:]))))
		normS += math.Abs(float64(float16to32(binary.LittleEndian.Uint16(row(s.Data, TokenEOS)[i*2:]))))
	}
	if normS < 2.9*normP {
		t.Errorf("EOS row weight %.2f, want about 3× %.2f", normS, normP)
	}
}

func TestFloat16(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		f := float16to32(h)
		if f != f { // NaN: any NaN will do
			if g := float32to16(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, g)
			}
			continue
		}
		if g := float32to16(f); g != h {
			t.Fatalf("half %#04x → %g → %#04x", h, f, g)
		}
	}
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {-1e6, 0xfc00},
		{1e-9, 0}, {5.960464477539063e-08, 0x0001}, {0.1, 0x2e66},
		{1 + 1.0/2048, 0x3c00},           // halfway, rounds to even (down)
		{1 + 3.0/2048, 0x3c02},           // halfway, rounds to even (up)
		{65519, 0x7bff}, {65520, 0x7c00}, // the largest value that still rounds down
	}
	for _, tt := range tests {
		if got := float32to16(tt.in); got != tt.want {
			t.Errorf("float32to16(%g) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}

func TestWriteFile(t *testing.T) {
	f, err := TinyLlama(TinyConfig{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := f.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	f.WriteTo(&buf)
	if sha256.Sum256(b) != sha256.Sum256(buf.Bytes()) {
		t.Error("WriteFile wrote different bytes from WriteTo")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := f.WriteFile(filepath.Join(t.TempDir(), "missing", "x.gguf")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	allTypes().WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What was read must write back to a file that reads the same.
		var out bytes.Buffer
		if _, err := file.WriteTo(&out); err != nil {
			return // e.g. repeated keys, which Read accepts as they come
		}
		again, err := Read(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("re-reading a written file: %v", err)
		}
		if !reflect.DeepEqual(normalise(again), normalise(file)) {
			t.Fatal("write/read round trip changed the file")
		}
	})
}
