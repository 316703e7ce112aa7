#!/usr/bin/env bash
# .ci/docker.sh — provide a running Docker engine and the locally built test
# images that internal/sandbox's tests use. Idempotent: every step checks
# first and does nothing when its result is already there.
#
# Usage (as root):  eval "$(.ci/docker.sh)"
#   Progress goes to stderr; stdout carries only `export NAME=VALUE` lines:
#     MAI_TEST_SHELL_IMAGE   busybox shell image (FROM scratch, busybox-static)
#     MAI_TEST_PYTHON_IMAGE  Debian minbase + python3-minimal, docker-imported
#     MAI_TEST_DOCKER_LOG    where the dockerd started here logs
#
# Environment:
#   MAI_CACHE_DIR        slow artifacts (debootstrap tarball, dockerd log);
#                        default /var/cache/mai-ci
#   MAI_DEBIAN_MIRROR    Debian mirror for debootstrap; default: the first
#                        `URIs:`/`deb` line of this machine's apt configuration
#   MAI_DEBIAN_SUITE     default bookworm
#
# No registry is reachable from test machines, so nothing is pulled: the
# shell image is built from Debian's busybox-static with no network, and the
# Python image is a debootstrap tree imported with `docker import`. The tree
# is cached as a tarball keyed by suite, package set and architecture, so a
# fresh dockerd re-imports it in seconds.
set -euo pipefail

CACHE_DIR="${MAI_CACHE_DIR:-/var/cache/mai-ci}"
SUITE="${MAI_DEBIAN_SUITE:-bookworm}"
SHELL_IMAGE="mai-test/busybox:1"
PYTHON_IMAGE="mai-test/python:3-${SUITE}"
DOCKERD_LOG="$CACHE_DIR/dockerd.log"
PY_PACKAGES="python3-minimal"

log() { printf 'docker.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts dockerd)"
mkdir -p "$CACHE_DIR"

# --- packages ---------------------------------------------------------------
need=()
for pkg in docker.io busybox-static debootstrap; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# Debian's client, not whatever other docker CLI comes first in PATH: its
# version matches the engine we start, and it needs no buildx plugin.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
export DOCKER_BUILDKIT=0

# --- engine -----------------------------------------------------------------
engine_up() { "$DOCKER" info >/dev/null 2>&1; }

wait_engine() { # $1: seconds
	local i
	for ((i = 0; i < $1 * 4; i++)); do
		engine_up && return 0
		sleep 0.25
	done
	return 1
}

start_dockerd() { # $1: storage driver
	log "starting dockerd (storage driver $1, no bridge network), log in $DOCKERD_LOG"
	# No bridge, no iptables: containers get loopback only and the host's
	# firewall is left alone.
	setsid nohup dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
		--storage-driver="$1" >>"$DOCKERD_LOG" 2>&1 </dev/null &
	local pid=$!
	if wait_engine 60; then
		return 0
	fi
	log "dockerd with $1 did not answer in 60 s; last log lines:"
	tail -n 15 "$DOCKERD_LOG" >&2 || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 1
}

if engine_up; then
	log "a Docker engine already answers"
else
	[ -d /sys/fs/cgroup ] || die "no /sys/fs/cgroup: this machine cannot run containers"
	# A dockerd that died leaves its pid file, and a new one refuses to start.
	if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
		rm -f /var/run/docker.pid
	fi
	start_dockerd overlay2 || start_dockerd vfs ||
		die "dockerd would not start with overlay2 or vfs; see $DOCKERD_LOG"
fi
log "engine: $("$DOCKER" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# --- shell image: FROM scratch + busybox-static -------------------------------
if ! have_image "$SHELL_IMAGE"; then
	log "building $SHELL_IMAGE"
	ctx="$(mktemp -d)"
	trap 'rm -rf "$ctx"' EXIT
	cp /bin/busybox "$ctx/busybox"
	cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
EOF
	"$DOCKER" build --quiet --network none -t "$SHELL_IMAGE" "$ctx" >&2
	rm -rf "$ctx"
	trap - EXIT
fi

# --- Python image: debootstrap minbase + python3-minimal ----------------------
debian_mirror() {
	if [ -n "${MAI_DEBIAN_MIRROR:-}" ]; then
		echo "$MAI_DEBIAN_MIRROR"
		return
	fi
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# The first stanza whose URIs are not the security archive.
		uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")"
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) { print $i; exit } else break } }' "$f")"
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	return 1
}

if ! have_image "$PYTHON_IMAGE"; then
	arch="$(dpkg --print-architecture)"
	key="$(printf '%s %s %s' "$SUITE" "$PY_PACKAGES" "$arch" | sha256sum | cut -c1-12)"
	tarball="$CACHE_DIR/debootstrap-$SUITE-$arch-$key.tar"
	if [ ! -s "$tarball" ]; then
		mirror="$(debian_mirror)" || die "no Debian mirror in the apt configuration; set MAI_DEBIAN_MIRROR"
		root="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
		trap 'rm -rf "$root"' EXIT
		log "debootstrap $SUITE with $PY_PACKAGES (about a minute)"
		debootstrap --variant=minbase --include="$PY_PACKAGES" "$SUITE" "$root" "$mirror" >&2
		# Make the apt cache and logs not part of the image.
		rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
		tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$root"
		trap - EXIT
	fi
	log "importing $PYTHON_IMAGE from $tarball"
	"$DOCKER" import --change 'CMD ["/usr/bin/python3"]' "$tarball" "$PYTHON_IMAGE" >/dev/null
fi

# --- smoke test: both images run hardened, as in internal/sandbox ------------
for img in "$SHELL_IMAGE" "$PYTHON_IMAGE"; do
	cmd=(/bin/sh -c 'echo ok')
	[ "$img" = "$PYTHON_IMAGE" ] && cmd=(/usr/bin/python3 -c 'print("ok")')
	out="$("$DOCKER" run --rm --network none --read-only --cap-drop ALL \
		--security-opt no-new-privileges --user 65534:65534 --pids-limit 50 \
		--memory 64m "$img" "${cmd[@]}")" || die "$img does not run"
	[ "$out" = ok ] || die "$img printed $out, want ok"
done
log "images ready: $SHELL_IMAGE $PYTHON_IMAGE"

printf 'export MAI_TEST_SHELL_IMAGE=%q\n' "$SHELL_IMAGE"
printf 'export MAI_TEST_PYTHON_IMAGE=%q\n' "$PYTHON_IMAGE"
printf 'export MAI_TEST_DOCKER_LOG=%q\n' "$DOCKERD_LOG"
