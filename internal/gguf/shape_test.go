package gguf

import (
	"bytes"
	"testing"
)

func TestShapeFromHeader(t *testing.T) {
	f, err := TinyLlama(TinyConfig{Embedding: 128, Blocks: 4, Heads: 4, FeedForward: 256, ContextLength: 4096})
	if err != nil {
		t.Fatal(err)
	}
	// A model that uses grouped-query attention, as Llama 3 does: 2 KV heads.
	for i, kv := range f.KV {
		if kv.Key == "llama.attention.head_count_kv" {
			f.KV[i].Value = uint32(2)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range h.Tensors {
		if tn.Data != nil {
			t.Fatalf("ReadHeader read the data of %s", tn.Name)
		}
	}
	s, err := ShapeOf(h)
	if err != nil {
		t.Fatal(err)
	}
	// 4 layers × 2 KV heads × (32 + 32 dimensions, 128 ÷ 4 heads) × 2 bytes.
	if s.Architecture != "llama" || s.Layers != 4 || s.ContextLength != 4096 || s.KVBytesPerToken != 1024 {
		t.Errorf("shape = %+v", s)
	}
	var want int64
	for _, tn := range f.Tensors {
		want += int64(tn.Elements())
	}
	if s.Parameters != want || want == 0 {
		t.Errorf("parameters = %d, want %d", s.Parameters, want)
	}
	if _, err := ShapeOf(&File{KV: []KV{{Key: "general.architecture", Value: "llama"}}}); err == nil {
		t.Error("a file without block_count gave a shape")
	}
	// A header cut short is an error, not a shape.
	var whole bytes.Buffer
	f.WriteTo(&whole)
	if _, err := ReadHeader(bytes.NewReader(whole.Bytes()[:200])); err == nil {
		t.Error("a truncated header was read")
	}
}
