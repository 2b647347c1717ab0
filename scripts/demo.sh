#!/usr/bin/env bash
# The local demo: real Dovecot and SMTP on 127.0.0.1, throwaway keys, one signal
# with two children at two schools in, one encrypted mail per school out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python -m lab.demo "$@"
