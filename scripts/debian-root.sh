#!/usr/bin/env bash
# A fresh Debian 12 (bookworm) in .debian-root/ for tests/integration/test_install.py, which follows
# docs/install.md in it offline. Everything that needs the network happens here:
#   - debootstrap's minimal bookworm (minbase) from deb.debian.org,
#   - systemd (the doc's premise: "a Debian 12 server with systemd") and the packages of the doc's
#     step 1 apt-get line, read from docs/install.md itself,
#   - /wheelhouse in the root: wheels of hwc-mailer's dependencies and build requirements from PyPI,
#     fetched by the root's own Python and pip; the test's pip reads them instead of PyPI.
# Afterwards the root has no apt sources and no /etc/resolv.conf: apt in the test fetches nothing, and a
# name lookup asks 127.0.0.1. Safe to run again: it only installs what is missing. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

root=.debian-root
mirror=http://deb.debian.org/debian
sources="deb $mirror bookworm main"

fail() {
    echo "debian-root: $*" >&2
    exit 1
}

# Runs a command in the root as root, with its own /proc and the host's /dev, in a private mount and PID
# namespace: the mounts and every process started end with the command. The environment is a clean one,
# but for the host's proxy settings, if any.
in_root() {
    local proxies=() name
    for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [ -z "${!name:-}" ] || proxies+=("$name=${!name}")
    done
    unshare --mount --pid --fork --kill-child -- /bin/sh -euc '
        root=$1; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive "$@"' in_root "$root" "${proxies[@]}" "$@"
}

# The network is needed: the host's resolver and Debian's mirror, for as long as this script runs.
online() {
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    echo "$sources" > "$root/etc/apt/sources.list"
}

offline() {
    rm -rf "$root/etc/resolv.conf" "$root/etc/apt/sources.list" "$root/tmp/pip" "$root/tmp/host-cas.crt"
}

missing_in_root() {
    local package
    for package in "$@"; do
        dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}\n' "$package" 2>/dev/null \
            | grep -q "install ok installed" || echo "$package"
    done
}

# The packages docs/install.md step 1 installs, as the doc writes them.
read -r -a doc_packages <<< "$(sed -n 's/^apt-get install -y --no-install-recommends //p' docs/install.md)"
[ "${#doc_packages[@]}" -gt 0 ] || fail "docs/install.md has no 'apt-get install -y --no-install-recommends' line"
packages=(systemd "${doc_packages[@]}")

# The dependencies the doc's pip line installs, and what pip needs to build this checkout.
requirements=$(python3 -c '
import tomllib
with open("pyproject.toml", "rb") as handle:
    project = tomllib.load(handle)
print("\n".join(project["build-system"]["requires"] + project["project"]["dependencies"]))')

if [ -f "$root/.debootstrapped" ] && [ -z "$(missing_in_root "${packages[@]}")" ] \
        && [ "$(cat "$root/wheelhouse/requirements.txt" 2>/dev/null)" = "$requirements" ]; then
    exit 0
fi
[ "$(id -u)" -eq 0 ] || fail "the Debian root in $root is missing or out of date; run scripts/debian-root.sh as root"
started=$SECONDS
trap offline EXIT

if [ ! -f "$root/.debootstrapped" ]; then
    if ! command -v debootstrap >/dev/null; then
        echo "debian-root: installing debootstrap" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    echo "debian-root: debootstrap --variant=minbase bookworm into $root (a few minutes)" >&2
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 \
        || fail "debootstrap failed; its log: $root.log"
    rm -f "$root.log"
    touch "$root/.debootstrapped"
fi

read -r -a missing <<< "$(missing_in_root "${packages[@]}" | tr '\n' ' ')"
if [ "${#missing[@]}" -gt 0 ]; then
    echo "debian-root: installing ${missing[*]} in $root" >&2
    online
    in_root apt-get update -qq
    in_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    in_root apt-get clean
    rm -rf "$root"/var/lib/apt/lists/*
fi

if [ "$(cat "$root/wheelhouse/requirements.txt" 2>/dev/null)" != "$requirements" ]; then
    echo "debian-root: fetching wheels from PyPI into $root/wheelhouse" >&2
    online
    mkdir -p "$root/wheelhouse"
    echo "$requirements" > "$root/wheelhouse/requirements.new"
    # pip trusts the host's CAs, which may include those of a proxy between this machine and PyPI.
    trusted=/etc/ssl/certs/ca-certificates.crt
    if [ -f "$trusted" ]; then
        cp "$trusted" "$root/tmp/host-cas.crt"
    fi
    in_root /bin/sh -ec 'python3 -m venv /tmp/pip
        /tmp/pip/bin/pip wheel -q --no-cache-dir --disable-pip-version-check --wheel-dir /wheelhouse \
            $([ -f /tmp/host-cas.crt ] && echo --cert /tmp/host-cas.crt) --requirement /wheelhouse/requirements.new
        rm -rf /tmp/pip /tmp/host-cas.crt'
    mv "$root/wheelhouse/requirements.new" "$root/wheelhouse/requirements.txt"
fi
echo "debian-root: $root is ready ($((SECONDS - started)) s)" >&2
