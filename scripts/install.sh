#!/usr/bin/env bash
# Installs what the demo and the tests need on Debian 12: Dovecot (IMAP + LMTP),
# GnuPG, OpenSSL, systemd's tools (systemd-analyze checks the shipped units offline;
# systemd need not run), a Python virtualenv in .venv with hwc-mailer and its test tools
# (pytest, ruff, mypy, import-linter: the `test` extras in pyproject.toml).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(dovecot-imapd dovecot-lmtpd gnupg openssl python3-venv systemd)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}; run this script as root or install them with sudo apt-get" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# The test extras: pytest and its helpers, and the checks scripts/test.sh runs first (ruff, mypy, import-linter).
if ! .venv/bin/python -c "import hwc_mailer, aiosmtpd, pytest, hypothesis, jsonschema, ruff, mypy, importlinter, prometheus_client" 2>/dev/null \
        || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    touch .venv/.installed
fi
