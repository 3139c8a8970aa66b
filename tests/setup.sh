#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian-like machine:
#   1. deployer with its test extras (pip, into the current Python);
#   2. a container engine (podman, configured to work unprivileged-friendly here) when apt-get is available;
#   3. a local stand-in for the python:3.12-slim base image, since no registry can be pulled from in CI.
# Each part is skipped, with a line saying why, when it cannot be done; the container tests then skip themselves.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'setup: %s\n' "$*" >&2; }

python3 -m pip install --quiet --disable-pip-version-check -e "$here[test]"

# cloud-init's own schema validator checks the VM user-data deployer renders (tests skip it where absent).
if ! command -v cloud-init >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing cloud-init (for its schema validator)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cloud-init >/dev/null || \
    say "cloud-init could not be installed: its schema checks will be skipped"
fi

if [ "${DEPLOYER_SKIP_ENGINE_SETUP:-}" = "1" ]; then
  say "DEPLOYER_SKIP_ENGINE_SETUP=1: not installing a container engine"
  exit 0
fi

if ! command -v podman >/dev/null 2>&1 && ! command -v docker >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing podman"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap >/dev/null
  else
    say "no podman or docker, and no root apt-get to install one: container tests will be skipped"
    exit 0
  fi
fi

if command -v podman >/dev/null 2>&1; then
  # crun cannot set limits on these machines (hybrid cgroups, no CAP_SYS_RESOURCE); runc with cgroupfs works.
  # A drop-in keeps the packaged /etc/containers/containers.conf untouched.
  conf_dir=/etc/containers/containers.conf.d
  if [ "$(id -u)" = "0" ] && [ ! -f "$conf_dir/50-deployer-tests.conf" ]; then
    hard=$(ulimit -Hn); soft=$(( hard < 16384 ? hard : 16384 ))
    mkdir -p "$conf_dir"
    cat > "$conf_dir/50-deployer-tests.conf" <<CONF
[containers]
default_ulimits = ["nofile=${soft}:${soft}", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  fi
  engine=podman
else
  engine=docker
fi

base=docker.io/library/python:3.12-slim
if "$engine" image exists "$base" 2>/dev/null || "$engine" image inspect "$base" >/dev/null 2>&1; then
  say "base image $base present"
  exit 0
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
tar --numeric-owner -C "$root" -c . | "$engine" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$base" >/dev/null
say "base image $base built (a Debian bookworm Python 3.11 stand-in)"
