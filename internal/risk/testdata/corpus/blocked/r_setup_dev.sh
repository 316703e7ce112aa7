#!/bin/bash
# Prepare a development checkout.
set -euo pipefail

echo "checking tools"
for tool in git make; do
  if ! command -v "$tool" > /dev/null; then
    echo "missing $tool"
  fi
done

mkdir -p .cache logs
touch logs/dev.log

echo "installing the toolchain"
curl -sSf https://sh.example.org/install | bash -s -- -y

echo "writing config"
cat > config.ini <<EOF
[dev]
debug = true
EOF

echo "ready"
