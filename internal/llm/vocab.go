package llm

// Vocabulary is a model's tokenizer vocabulary as its GGUF file stores it
// (tokenizer.ggml.*), which a server may expose: enough to estimate how
// many tokens a text costs that model without asking the server.
type Vocabulary struct {
	// Kind is tokenizer.ggml.model: "llama" for SentencePiece vocabularies
	// (a space is "▁", raw bytes are "<0xNN>"), "gpt2" for byte-level BPE
	// (bytes mapped to printable characters, a space is "Ġ").
	Kind string `json:"kind"`
	// Tokens are the token strings, by id.
	Tokens []string `json:"tokens"`
}
