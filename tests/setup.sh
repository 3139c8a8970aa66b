#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian-like machine:
#   1. deployer and its emulator (this repository's emulator/ folder) with the test extras, into this Python;
#   2. a container engine that works: one whose `info` answers (a docker client with no daemon behind it does not
#      count); podman is installed when none works;
#   3. a local stand-in for the python:3.12-slim base image, since no registry can be pulled from in CI.
# Nothing system-wide is changed: podman is pointed at this repository's own configuration and image store
# (.test-engine/, read by the test fixtures through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF), so the stand-in
# never enters the machine's own image store, where a later real build would silently get a fake base.
# Each part is skipped, with a line saying why, when it cannot be done; the container tests then skip themselves.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'setup: %s\n' "$*" >&2; }
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }

# The product depends on the emulator by its path; the second line makes the emulator editable too.
pip_install -e "$here[test]"
pip_install --no-deps -e "$here/emulator"

apt_install() {
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  if [ -z "${apt_updated:-}" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# cloud-init's own schema validator checks the VM user-data deployer renders (tests skip it where absent).
if ! command -v cloud-init >/dev/null 2>&1; then
  say "installing cloud-init (for its schema validator)"
  apt_install cloud-init || say "cloud-init could not be installed: its schema checks will be skipped"
fi

if [ "${DEPLOYER_SKIP_ENGINE_SETUP:-}" = "1" ]; then
  say "DEPLOYER_SKIP_ENGINE_SETUP=1: not installing a container engine"
  exit 0
fi

# podman reads this repository's configuration, never /etc's: crun cannot set limits on these machines (hybrid
# cgroups, no CAP_SYS_RESOURCE), runc with cgroupfs works; images live under .test-engine/storage.
engine_dir="$here/.test-engine"
mkdir -p "$engine_dir"
hard=$(ulimit -Hn); soft=$(( hard < 16384 ? hard : 16384 ))
cat > "$engine_dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=${soft}:${soft}", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat > "$engine_dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$engine_dir/storage"
runroot = "$engine_dir/run"
CONF
export CONTAINERS_CONF="$engine_dir/containers.conf" CONTAINERS_STORAGE_CONF="$engine_dir/storage.conf"

works() { command -v "$1" >/dev/null 2>&1 && timeout 60 "$1" info >/dev/null 2>&1; }
engine=""
if works podman; then engine=podman
elif works docker; then engine=docker
else
  say "no container engine answers \`info\`: installing podman"
  if apt_install podman buildah runc debootstrap && works podman; then
    engine=podman
  else
    say "podman could not be installed or does not work here: container tests will be skipped"
    exit 0
  fi
fi
say "container engine: $engine"

base=docker.io/library/python:3.12-slim
if "$engine" image inspect "$base" >/dev/null 2>&1; then
  say "base image $base present"
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  apt_install debootstrap || true
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  say "cannot make a local base image (no debootstrap): tests that build images will be skipped"
  exit 0
fi
# No registry is reachable here: build an honest stand-in (Debian bookworm's Python 3.11) under the slim tag so an
# unmodified `FROM python:3.12-slim` resolves locally. The machine's CA bundle goes in so pip works in builds.
say "building a local stand-in for $base with debootstrap (about a minute)"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
  bookworm "$root" http://deb.debian.org/debian >/dev/null
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/host-bundle.crt"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
fi
rm -f "$root/usr/lib/python3.11/EXTERNALLY-MANAGED"
tar --numeric-owner -C "$root" -c . | "$engine" import \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
  --change 'LABEL org.deployer.stand-in="Debian bookworm Python 3.11 under the python:3.12-slim name, for tests"' \
  - "$base" >/dev/null
say "base image $base built: a Debian bookworm Python 3.11 stand-in, in $engine_dir only"
