#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite:
# installs what is missing, runs lint, format check, type check and every test.
# End-to-end WebRTC tests run inside a private network namespace (scripts/netns-run.sh).
# Extra arguments go to pytest, e.g. scripts/test.sh -k signaling
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

echo "== ruff check" && .venv/bin/ruff check src tests bench
echo "== ruff format --check" && .venv/bin/ruff format --check src tests bench
echo "== mypy" && .venv/bin/mypy
echo "== pytest"
AETHER_REQUIRE_E2E=1 exec scripts/netns-run.sh .venv/bin/python -m pytest "$@"
