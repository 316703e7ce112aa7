package main

import (
	"errors"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/store"
)

// hint says what to try after a failure, for the conditions a person can fix
// from here. The libraries' errors say what went wrong and name the server
// or engine; what to type or set to fix it is a front end's business, as a
// Discord user would read it differently (see doctor for the full checks).
func hint(err error) string {
	switch {
	case errors.Is(err, sandbox.ErrEngine):
		return "start Docker (as root: dockerd, or the Docker Desktop app); DOCKER_HOST says where Mai looks for it; 'mai doctor' checks it"
	case errors.Is(err, sandbox.ErrImageMissing):
		return "'mai sandbox image pull', or without a registry 'docker load -i IMAGE.tar' or 'docker import ROOTFS.tar IMAGE'"
	case errors.Is(err, sandbox.ErrPull):
		return "with no registry reachable, load the image by hand: 'docker save IMAGE -o image.tar' on a machine that has it, then 'docker load -i image.tar' here"
	case errors.Is(err, llm.ErrUnauthorized):
		return "set LMSTUDIO_API_TOKEN to an API token from LM Studio's Developer → Server Settings"
	case errors.Is(err, llm.ErrUnreachable), errors.Is(err, llm.ErrStreamTruncated):
		return "start Ollama ('ollama serve') or LM Studio's server ('lms server start'), or set OLLAMA_ENDPOINT / LMSTUDIO_ENDPOINT; 'mai doctor' checks both"
	case errors.Is(err, router.ErrNoModel):
		return "'mai models status' says why each model does not fit or answer; start Ollama ('ollama serve') or LM Studio's server, pull a chat model ('ollama pull llama3.2:3b'), or set OLLAMA_ENDPOINT / LMSTUDIO_ENDPOINT"
	case errors.Is(err, router.ErrNoEmbedder):
		return "install an embedding model ('ollama pull nomic-embed-text', or one in LM Studio) or start its server; recall works by words meanwhile"
	case errors.Is(err, store.ErrDamaged):
		return "restore a backup with 'mai memory restore FILE': the daily ones are in the data directory's backups/ folder, those of 'mai memory backup' in backups/manual/"
	case errors.Is(err, llm.ErrBadResponse):
		return "check that OLLAMA_ENDPOINT / LMSTUDIO_ENDPOINT point at the model servers' APIs, and read the server's log ('lms log stream' for LM Studio)"
	}
	return ""
}
