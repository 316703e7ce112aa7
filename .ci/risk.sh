#!/usr/bin/env bash
# Installs what the risk analysis tests need: Bandit, for `make risk-compare`
# and internal/risk/cmd/riskcompare's test. Idempotent; exports nothing.
set -euo pipefail

if ! command -v bandit >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends bandit
fi
bandit --version | head -n 1
