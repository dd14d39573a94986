#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server:
# installs what is missing (apt + .venv), then runs `aether serve` with any options given.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/aether serve "$@"
