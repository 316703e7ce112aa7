#!/usr/bin/env bash
# Installs what the tests of tools/discordsync need: shellcheck, which actionlint
# runs on the run: steps of .github/workflows/discord_sync.yml. actionlint itself
# is a Go tool dependency (go.mod) and needs no install. Idempotent: does nothing
# when shellcheck is already on PATH.
set -euo pipefail

if command -v shellcheck >/dev/null 2>&1; then
	echo "webhook.sh: shellcheck present: $(shellcheck --version | sed -n 's/^version: //p')"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "webhook.sh: shellcheck is missing and apt-get is not available; install shellcheck with your package manager" >&2
	exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# Install from the existing package lists first; refresh them only if that fails.
if ! $sudo apt-get install -y --no-install-recommends shellcheck >/dev/null; then
	$sudo apt-get update >/dev/null
	$sudo apt-get install -y --no-install-recommends shellcheck >/dev/null
fi
echo "webhook.sh: installed shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
