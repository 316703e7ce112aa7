package main

// manifest lists the rows `make bench` must print, one line each. To add a
// row: the package (its path below the module), the benchmark's name as go
// test prints it without "Benchmark" and the -GOMAXPROCS suffix, what the
// baseline is, and the goal; see the package comment for the fields.
var manifest = []expect{
	// internal/llm
	{Pkg: "internal/llm/ollama", Name: "StreamDecode", Sides: "mai json", Baseline: "encoding/json of each line into the same struct", Goal: "ratio <= 1"},
	{Pkg: "internal/llm/ollama", Name: "StreamDecodeAllocs", Baseline: "none: allocations per streamed token", Goal: "allocs/token <= 1.2"},
	{Pkg: "internal/llm/lmstudio", Name: "StreamDecode", Sides: "mai json", Baseline: "encoding/json of each SSE chunk into the same struct", Goal: "ratio <= 1"},
	{Pkg: "internal/llm/lmstudio", Name: "StreamDecodeAllocs", Baseline: "none: allocations per streamed token", Goal: "allocs/token <= 2"},

	// internal/router
	{Pkg: "internal/router", Name: "ChatVsRaw/total", Sides: "mai raw", Baseline: "raw HTTP POST /api/chat to the same Ollama, lines scanned to done", Goal: "ratio <= 1.05", Needs: "ollama"},
	{Pkg: "internal/router", Name: "ChatVsRaw/first-token", Sides: "mai raw", Baseline: "time to the first line of a raw HTTP stream from the same Ollama", Goal: "ratio <= 1.05", Needs: "ollama"},
	{Pkg: "internal/router", Name: "ModelSwitch", Sides: "mai bare", Baseline: "the same switch as bare Ollama API calls: unload, load, first token", Goal: "ratio <= 1.1, mai-ms < 1000", Needs: "ollama"},
	{Pkg: "internal/router", Name: "Decide", Baseline: "one listing of loaded models from a backend on loopback", Ratio: "ratio-vs-one-listing", Goal: "ns/decision < 30000"},
	{Pkg: "internal/router", Name: "ChatTarget", Baseline: "none: what every chat pays the router once a model is loaded", Goal: "ns/op <= 10000"},

	// internal/chat
	{Pkg: "internal/chat", Name: "TurnOverhead", Baseline: "the messages the core sent, streamed straight through the router, paced to 50 tokens/s by a delaying proxy", Ratio: "core/bare", Goal: "overhead-p50-ms < 20, core/bare <= 1.05", Needs: "ollama"},

	// internal/discord
	{Pkg: "internal/discord", Name: "FirstVisibleText", Baseline: "the chat core's own first token on the same prompt and model, same run (goal: at most one edit interval, 1200 ms, more)", Goal: "overhead-p50-ms <= 1200, 429s <= 0", Needs: "ollama"},
	{Pkg: "internal/discord", Name: "EditsPerSecond", Baseline: "none: message edits a second against the fake's real rate limits", Goal: "429s <= 0"},

	// internal/sandbox
	{Pkg: "internal/sandbox", Name: "HelloVsDockerRun/cold", Sides: "mai moby cli", Baseline: "the same hardened container through the moby client in-process: create, attach, start, wait, remove", Goal: "ratio <= 1.2", Needs: "dockerd"},
	{Pkg: "internal/sandbox", Name: "HelloVsDockerRun/pool", Sides: "mai moby cli", Baseline: "the same hardened container through the moby client in-process; pool refills outside the measured calls", Goal: "ratio <= 1", Needs: "dockerd"},
	{Pkg: "internal/sandbox", Name: "Concurrent20", Baseline: "20 plain 'docker run' at once", Ratio: "ratio", Goal: "ratio >= 0.8", Needs: "dockerd"},

	// internal/memory
	{Pkg: "internal/memory", Name: "Append/batch", Baseline: "none: messages a second, 1,000 a transaction", Goal: "msgs/s >= 50000"},
	{Pkg: "internal/memory", Name: "Append/single", Baseline: "batched appends (batch/single: how much batching buys)", Ratio: "batch/single", Goal: "msgs/s >= 1000"},
	{Pkg: "internal/memory", Name: "Recall/messages=10000", Baseline: "a bare FTS5 MATCH query over the same messages", Ratio: "recall/fts", Goal: "recall-p50-ms < 5"},
	{Pkg: "internal/memory", Name: "Recall/messages=100000", Baseline: "a bare FTS5 MATCH query over the same messages", Ratio: "recall/fts", Goal: "recall-p50-ms < 5"},
	{Pkg: "internal/memory", Name: "Recall/messages=1000000", Baseline: "a bare FTS5 MATCH query over the same messages", Ratio: "recall/fts", Goal: "recall-p50-ms < 10"},
	{Pkg: "internal/memory", Name: "Compress", Baseline: "none: MB of history compressed a second", Goal: "MB/s >= 1"},
	{Pkg: "internal/memory", Name: "ContextCache", Baseline: "assembling the same context again (a cache miss)", Ratio: "miss/hit", Goal: "miss/hit >= 10"},
	{Pkg: "internal/memory", Name: "RecallVectors/embedder=hash/messages=10000", Baseline: "recall with FTS5 only, same database and queries", Ratio: "vectors/fts-only", Goal: "recall-p50-ms < 5"},
	{Pkg: "internal/memory", Name: "RecallVectors/embedder=ollama/messages=2000", Baseline: "recall with FTS5 only, same database and queries", Ratio: "vectors/fts-only", Goal: "recall-p50-ms < 5", Needs: "ollama"},

	// internal/risk
	{Pkg: "internal/risk", Name: "Analyze/python", Baseline: "parsing the same code alone", Ratio: "x-parse", Goal: "ms/kline < 5"},
	{Pkg: "internal/risk", Name: "Analyze/sh", Baseline: "parsing the same code alone", Ratio: "x-parse", Goal: "ms/kline < 5"},
	{Pkg: "internal/risk", Name: "Analyze/go", Baseline: "parsing the same code alone", Ratio: "x-parse", Goal: "ms/kline < 5"},

	{Pkg: "internal/risk", Name: "RiskShapes/sh-pipeline", Baseline: "ordinary code of the same language and size, same run", Ratio: "x-ordinary-per-line", Goal: "x-ordinary-per-line <= 3, x-ordinary-per-byte <= 3"},
	{Pkg: "internal/risk", Name: "RiskShapes/sh-and-chain", Baseline: "ordinary code of the same language and size, same run", Ratio: "x-ordinary-per-line", Goal: "x-ordinary-per-line <= 3, x-ordinary-per-byte <= 3"},
	{Pkg: "internal/risk", Name: "RiskShapes/sh-statements", Baseline: "ordinary code of the same language and size, same run", Ratio: "x-ordinary-per-line", Goal: "x-ordinary-per-line <= 3, x-ordinary-per-byte <= 3"},
	{Pkg: "internal/risk", Name: "RiskShapes/sh-substitutions", Baseline: "ordinary code of the same language and size, same run", Ratio: "x-ordinary-per-line", Goal: "x-ordinary-per-line <= 3, x-ordinary-per-byte <= 3"},
	{Pkg: "internal/risk", Name: "RiskShapes/py-concatenation", Baseline: "ordinary code of the same language and size, same run", Ratio: "x-ordinary-per-line", Goal: "x-ordinary-per-line <= 3, x-ordinary-per-byte <= 3"},
	{Pkg: "internal/risk", Name: "RiskShapes/py-list", Baseline: "ordinary code of the same language and size, same run", Ratio: "x-ordinary-per-line", Goal: "x-ordinary-per-line <= 3, x-ordinary-per-byte <= 3"},
	{Pkg: "internal/risk", Name: "RiskShapes/go-concatenation", Baseline: "ordinary code of the same language and size, same run", Ratio: "x-ordinary-per-line", Goal: "x-ordinary-per-line <= 3, x-ordinary-per-byte <= 3"},
	{Pkg: "internal/risk", Name: "RiskFailClosed", Baseline: "the same analysis without its \"not modelled\" findings: benign corpus programs at each verdict", Goal: "benign-blocked-closed <= 0"},

	// internal/selfmod
	{Pkg: "internal/selfmod", Name: "Pipeline", Baseline: "a bare git worktree add + commit + branch move + worktree remove of the same one-file change", Ratio: "x-bare", Goal: "x-bare <= 1.5"},

	// internal/audit
	{Pkg: "internal/audit", Name: "Append", Baseline: "a plain SQLite INSERT of the same row in its own transaction, synchronous=FULL, same file", Ratio: "x-insert", Goal: "x-insert <= 2"},
	{Pkg: "internal/audit", Name: "Verify", Baseline: "a plain scan reading every column of the same 10^5 rows", Ratio: "x-scan", Goal: "entries/s >= 200000"},

	// cmd/mai
	{Pkg: "cmd/mai", Name: "Soak", Optional: "make soak", Strict: true, Baseline: "none: mai serve answering one DM every 2 s for 'minutes' (MAI_SOAK) from the fake Discord with the real tiny Ollama, through gateway drops and REST outages; RSS growth against its own start after warm-up", Goal: "lost <= 0, duplicated <= 0, 429s <= 0, rss-growth-% < 10"},
	{Pkg: "cmd/mai", Name: "Serve", Sides: "mai floor", Baseline: "the same binary's 'mai version' run to its exit: process start and package init, the floor of any daemon of this binary (time; peak RSS as floor-MB)", Goal: "mai-ms < 300, mai-MB < 40"},
}
