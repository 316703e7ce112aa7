#!/usr/bin/env bash
# Builds the ollama binary the integration tests of internal/llm/... run
# (`ollama serve` on a loopback port with tiny random-weight models), from
# source, because no prebuilt download is possible on the test machines.
#
# Usage: .ci/ollama.sh            # prints the path of the binary on stdout
#        OLLAMA_BIN="$(.ci/ollama.sh)" go test ./internal/llm/...
#
# The binary is cached outside the clone in
# ${MAI_CACHE_DIR:-/var/cache/mai-ci}/ollama-<version>/bin/ollama, so a rerun is
# instant. Idempotent. Progress goes to stderr; only the path goes to stdout.
set -euo pipefail

version="v0.17.4"
cache="${MAI_CACHE_DIR:-/var/cache/mai-ci}/ollama-${version}"
bin="${cache}/bin/ollama"

log() { echo "ollama.sh: $*" >&2; }

# `ollama --version` prints "client version is X" even without a server.
built_version() { "$bin" --version 2>&1 | sed -n 's/.*client version is \(.*\)$/\1/p'; }

if [ -x "$bin" ] && [ "$(built_version)" = "${version#v}" ]; then
	log "cached ${bin}"
	echo "$bin"
	exit 0
fi

if ! command -v go >/dev/null 2>&1; then
	log "go is not on PATH; install Go first"
	exit 1
fi

# Debian packages the cgo build of llama.cpp needs. Debian has no miniaudio
# package; a stand-in header is written below.
need=(g++ nlohmann-json3-dev libstb-dev)
missing=()
for p in "${need[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		log "missing ${missing[*]} and apt-get is not available; install them with your package manager"
		exit 1
	fi
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	log "installing ${missing[*]}"
	# Install from the existing package lists first; refresh them only if that fails.
	if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
		$sudo apt-get update >/dev/null
		$sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi

# The header lives in the cache, at a stable path: the path is part of the
# compiler flags, so a stable one lets Go's build cache reuse the C++ objects.
include="$cache/include"
mkdir -p "$include/miniaudio"

# Our own minimal stand-in for miniaudio: it declares exactly what
# llama.cpp's tools/mtmd/mtmd-helper.cpp uses, and every decode fails, so
# audio input is reported as unsupported. Mai never sends audio.
cat >"$include/miniaudio/miniaudio.h" <<'EOF'
#ifndef MAI_MINIAUDIO_STANDIN_H
#define MAI_MINIAUDIO_STANDIN_H
#include <stddef.h>

#ifndef MA_API
#define MA_API static
#endif

typedef int ma_result;
typedef unsigned int ma_uint32;
typedef unsigned long long ma_uint64;

#define MA_SUCCESS 0
#define MA_ERROR (-1)

typedef enum { ma_format_unknown = 0, ma_format_f32 = 5 } ma_format;

typedef struct {
	ma_format format;
	ma_uint32 channels;
	ma_uint32 sampleRate;
} ma_decoder_config;

typedef struct {
	int unused;
} ma_decoder;

MA_API inline ma_decoder_config ma_decoder_config_init(ma_format format, ma_uint32 channels, ma_uint32 sampleRate) {
	ma_decoder_config c;
	c.format = format;
	c.channels = channels;
	c.sampleRate = sampleRate;
	return c;
}

MA_API inline ma_result ma_decoder_init_memory(const void *data, size_t size, const ma_decoder_config *config, ma_decoder *decoder) {
	(void)data; (void)size; (void)config;
	if (decoder) decoder->unused = 0;
	return MA_ERROR;
}

MA_API inline ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder *decoder, ma_uint64 *length) {
	(void)decoder;
	if (length) *length = 0;
	return MA_ERROR;
}

MA_API inline ma_result ma_decoder_read_pcm_frames(ma_decoder *decoder, void *frames, ma_uint64 count, ma_uint64 *read) {
	(void)decoder; (void)frames; (void)count;
	if (read) *read = 0;
	return MA_ERROR;
}

MA_API inline ma_result ma_decoder_uninit(ma_decoder *decoder) {
	(void)decoder;
	return MA_SUCCESS;
}
#endif
EOF

mkdir -p "$cache/bin"
log "building ollama ${version} from source (a few minutes on 2 cores)"
# Build outside any module so the clone's go.mod does not interfere.
(
	cd "$cache"
	export GOFLAGS="" GOWORK=off CGO_ENABLED=1
	export CGO_CPPFLAGS="-I$include ${CGO_CPPFLAGS:-}"
	# Stamp the version, as upstream's release build does, so /api/version
	# answers it instead of 0.0.0.
	GOBIN="$cache/bin" go install \
		-ldflags "-X github.com/ollama/ollama/version.Version=${version#v}" \
		"github.com/ollama/ollama@${version}"
)

if [ "$(built_version)" != "${version#v}" ]; then
	log "built ${bin} but it does not report version ${version#v}: $("$bin" --version 2>&1 | tail -1)"
	exit 1
fi
log "built ${bin}"
echo "$bin"
