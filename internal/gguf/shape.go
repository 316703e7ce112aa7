package gguf

import (
	"fmt"
)

// Shape is what a model file's header says about the memory the model
// needs, without loading it.
type Shape struct {
	Architecture  string // general.architecture, e.g. "llama", "qwen2"
	ContextLength int    // the context it was trained for
	Layers        int    // transformer blocks
	Parameters    int64  // the tensors' elements
	// KVBytesPerToken is the KV cache one token of context costs at a
	// 16-bit cache: keys and values of every layer's KV heads.
	KVBytesPerToken int64
}

// ShapeOf reads a model's shape from its metadata: the architecture's
// block count, context length and attention heads (key and value lengths
// where the file gives them, else the embedding length ÷ heads; KV heads
// given per layer are summed). It fails for a file that is not a
// transformer model, such as a vocabulary.
func ShapeOf(f *File) (Shape, error) {
	var s Shape
	arch, ok := f.Get("general.architecture").(string)
	if !ok || arch == "" {
		return s, fmt.Errorf("gguf: no general.architecture")
	}
	s.Architecture = arch
	key := func(k string) string { return arch + "." + k }
	layers, ok := uintOf(f.Get(key("block_count")))
	if !ok || layers == 0 {
		return s, fmt.Errorf("gguf: %s has no %s", arch, key("block_count"))
	}
	s.Layers = int(layers)
	ctx, _ := uintOf(f.Get(key("context_length")))
	s.ContextLength = int(ctx)
	heads, _ := uintOf(f.Get(key("attention.head_count")))
	embd, _ := uintOf(f.Get(key("embedding_length")))
	kLen, kOK := uintOf(f.Get(key("attention.key_length")))
	vLen, vOK := uintOf(f.Get(key("attention.value_length")))
	if !kOK || !vOK {
		if heads == 0 || embd == 0 {
			return s, fmt.Errorf("gguf: %s gives neither its head dimensions nor its embedding length and heads", arch)
		}
		kLen, vLen = embd/heads, embd/heads
	}
	var kvHeads uint64 // summed over the layers
	switch v := f.Get(key("attention.head_count_kv")).(type) {
	case nil:
		kvHeads = heads * layers // no grouped-query attention
	case []uint32:
		for _, n := range v {
			kvHeads += uint64(n)
		}
	case []int32:
		for _, n := range v {
			kvHeads += uint64(max(n, 0))
		}
	default:
		n, ok := uintOf(v)
		if !ok {
			return s, fmt.Errorf("gguf: %s is a %T", key("attention.head_count_kv"), v)
		}
		kvHeads = n * layers
	}
	s.KVBytesPerToken = int64(kvHeads * (kLen + vLen) * 2)
	for _, t := range f.Tensors {
		s.Parameters += int64(t.Elements())
	}
	return s, nil
}

// uintOf reads an unsigned metadata number of any width.
func uintOf(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint8:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case int32:
		return uint64(max(n, 0)), n >= 0
	case int64:
		return uint64(max(n, 0)), n >= 0
	}
	return 0, false
}
