#!/usr/bin/env bash
# The whole test suite: lint, types and import contracts first, then unit tests, and integration
# tests against a real Dovecot, a real SMTP relay and real gpg on 127.0.0.1, started by the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
scripts/debian-root.sh  # the fresh Debian 12 that tests/integration/test_install.py installs into
.venv/bin/ruff check hwc_mailer lab tests
.venv/bin/mypy  # strict; files and settings in pyproject.toml
.venv/bin/lint-imports  # the import-linter contracts in pyproject.toml
exec .venv/bin/python -m pytest "$@"
