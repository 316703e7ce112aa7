#!/bin/sh
# Build the binaries for two platforms and write checksums.
set -eu

out=dist
mkdir -p "$out"

build() {
  os=$1
  arch=$2
  name="$out/app-$os-$arch"
  echo "building $name"
  GOOS=$os GOARCH=$arch go build -o "$name" ./cmd/app
}

build linux amd64
build darwin arm64

cd "$out"
sha256sum app-* > SHA256SUMS
cat SHA256SUMS
echo "done"
