package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// TinyConfig describes a tiny random-weight llama model. Zero fields take the
// defaults noted; the defaults make a model of about 300 KB that Ollama's
// llama.cpp runner loads in a fraction of a second and runs at thousands of
// tokens per second on a CPU.
type TinyConfig struct {
	Name          string // general.name; default "mai-tiny"
	Seed          uint64 // weights are a pure function of the seed and the shape
	Embedding     uint32 // embedding length; default 64
	Blocks        uint32 // transformer blocks; default 2
	Heads         uint32 // attention heads (and KV heads); default 4
	FeedForward   uint32 // feed-forward length; default 128
	ContextLength uint32 // trained context length; default 512
	// Embedder adds llama.pooling_type (mean pooling): Ollama then lists the
	// model with the "embedding" capability, embeds with it and refuses chat.
	Embedder bool
	// StopEarly gives the end-of-sequence row of the output matrix a large
	// weight, so the model stops by itself, often at its first token, instead
	// of running to num_predict. Without it the model never emits
	// end-of-sequence, byte or control tokens.
	StopEarly bool
}

func (c *TinyConfig) defaults() {
	if c.Name == "" {
		c.Name = "mai-tiny"
	}
	if c.Embedding == 0 {
		c.Embedding = 64
	}
	if c.Blocks == 0 {
		c.Blocks = 2
	}
	if c.Heads == 0 {
		c.Heads = 4
	}
	if c.FeedForward == 0 {
		c.FeedForward = 128
	}
	if c.ContextLength == 0 {
		c.ContextLength = 512
	}
}

// Token ids every tiny model shares.
const (
	TokenUnknown = 0
	TokenBOS     = 1
	TokenEOS     = 2
)

// token types of tokenizer.ggml.token_type
const (
	tokenNormal  int32 = 1
	tokenUnknown int32 = 2
	tokenControl int32 = 3
	tokenByte    int32 = 6
)

// words are whole-word tokens, with every prefix also in the vocabulary so the
// sentencepiece-style merges can reach them.
var words = []string{"▁hello", "▁world", "▁the", "▁and", "▁you", "▁Mai", "▁model", "▁token"}

// TinyVocabulary returns the tokens, their scores and types: <unk>, <s>,
// </s>, the 256 byte tokens <0x00>…<0xFF> (llama.cpp looks up "<0x0A>" for a
// newline), then "▁", the printable ASCII characters, and a few words.
func TinyVocabulary() (tokens []string, scores []float32, types []int32) {
	seen := map[string]bool{}
	add := func(tok string, score float32, typ int32) {
		if seen[tok] {
			return
		}
		seen[tok] = true
		tokens = append(tokens, tok)
		scores = append(scores, score)
		types = append(types, typ)
	}
	add("<unk>", 0, tokenUnknown)
	add("<s>", 0, tokenControl)
	add("</s>", 0, tokenControl)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), 0, tokenByte)
	}
	add("▁", -1, tokenNormal)
	for c := byte('!'); c <= '~'; c++ {
		add(string(c), -2, tokenNormal)
	}
	// Longer pieces score higher so merges prefer them.
	for _, w := range words {
		r := []rune(w)
		for n := 2; n <= len(r); n++ {
			add(string(r[:n]), float32(n)-2, tokenNormal)
		}
	}
	return tokens, scores, types
}

// TinyLlama builds a llama-architecture GGUF file with random weights.
func TinyLlama(c TinyConfig) (*File, error) {
	c.defaults()
	if c.Embedding%c.Heads != 0 {
		return nil, fmt.Errorf("gguf: embedding length %d is not a multiple of %d heads", c.Embedding, c.Heads)
	}
	tokens, scores, types := TinyVocabulary()
	vocab := uint64(len(tokens))
	n, ff := uint64(c.Embedding), uint64(c.FeedForward)

	f := &File{KV: []KV{
		{"general.architecture", "llama"},
		{"general.name", c.Name},
		{"general.file_type", uint32(1)}, // mostly F16
		{KeyAlignment, uint32(DefaultAlignment)},
		{"llama.context_length", c.ContextLength},
		{"llama.embedding_length", c.Embedding},
		{"llama.block_count", c.Blocks},
		{"llama.feed_forward_length", c.FeedForward},
		{"llama.attention.head_count", c.Heads},
		{"llama.attention.head_count_kv", c.Heads},
		// llama.cpp rejects the model ("invalid n_rot") unless this is the head size.
		{"llama.rope.dimension_count", c.Embedding / c.Heads},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.vocab_size", uint32(vocab)},
	}}
	if c.Embedder {
		f.KV = append(f.KV, KV{"llama.pooling_type", uint32(1)}) // mean
	}
	f.KV = append(f.KV,
		KV{"tokenizer.ggml.model", "llama"},
		KV{"tokenizer.ggml.tokens", tokens},
		KV{"tokenizer.ggml.scores", scores},
		KV{"tokenizer.ggml.token_type", types},
		KV{"tokenizer.ggml.bos_token_id", uint32(TokenBOS)},
		KV{"tokenizer.ggml.eos_token_id", uint32(TokenEOS)},
		KV{"tokenizer.ggml.unknown_token_id", uint32(TokenUnknown)},
		KV{"tokenizer.ggml.add_bos_token", true},
		KV{"tokenizer.ggml.add_eos_token", false},
	)

	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	scale := float32(1 / math.Sqrt(float64(n)))
	matrix := func(name string, cols, rows uint64) {
		f.Tensors = append(f.Tensors, Tensor{Name: name, Dims: []uint64{cols, rows}, Type: F16, Data: randomF16(rng, cols*rows, scale)})
	}
	norm := func(name string) {
		f.Tensors = append(f.Tensors, Tensor{Name: name, Dims: []uint64{n}, Type: F32, Data: onesF32(n)})
	}
	f.Tensors = append(f.Tensors, Tensor{Name: "token_embd.weight", Dims: []uint64{n, vocab}, Type: F16, Data: randomF16(rng, n*vocab, 1)})
	for b := range c.Blocks {
		p := fmt.Sprintf("blk.%d.", b)
		norm(p + "attn_norm.weight")
		matrix(p+"attn_q.weight", n, n)
		matrix(p+"attn_k.weight", n, n)
		matrix(p+"attn_v.weight", n, n)
		matrix(p+"attn_output.weight", n, n)
		norm(p + "ffn_norm.weight")
		matrix(p+"ffn_gate.weight", n, ff)
		matrix(p+"ffn_up.weight", n, ff)
		matrix(p+"ffn_down.weight", ff, n)
	}
	norm("output_norm.weight")
	out := Tensor{Name: "output.weight", Dims: []uint64{n, vocab}, Type: F16, Data: randomF16(rng, n*vocab, 1)}
	for tok, typ := range types {
		row := out.Data[uint64(tok)*n*2 : uint64(tok+1)*n*2]
		switch {
		case tok == TokenEOS && c.StopEarly:
			for i := range n {
				v := float16to32(binary.LittleEndian.Uint16(row[i*2:]))
				binary.LittleEndian.PutUint16(row[i*2:], float32to16(v*3))
			}
		case typ != tokenNormal:
			// A zero row gives the token a logit of 0 while the normal
			// tokens' logits spread widely: the model (almost) never emits
			// byte or control tokens, so every generated token is visible
			// text and streams as its own delta.
			clear(row)
		}
	}
	f.Tensors = append(f.Tensors, out)
	return f, nil
}

func randomF16(rng *rand.Rand, count uint64, scale float32) []byte {
	b := make([]byte, count*2)
	for i := range count {
		binary.LittleEndian.PutUint16(b[i*2:], float32to16(float32(rng.NormFloat64())*scale))
	}
	return b
}

func onesF32(count uint64) []byte {
	b := make([]byte, count*4)
	for i := range count {
		binary.LittleEndian.PutUint32(b[i*4:], math.Float32bits(1))
	}
	return b
}

// float32to16 converts to IEEE 754 half precision, rounding to nearest even;
// values beyond the half range become infinities, tiny ones subnormals or zero.
func float32to16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23&0xff) - 127 + 15
	mant := bits & 0x7fffff
	switch {
	case bits&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 0x1f: // overflow or infinity
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is still correct
	}
	return sign | uint16(half)
}

// float16to32 converts IEEE 754 half precision to float32 exactly.
func float16to32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
