#!/usr/bin/env bash
# The whole test suite: unit tests, and integration tests against a real Dovecot,
# a real SMTP relay and real gpg on 127.0.0.1, started by the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python -m pytest "$@"
