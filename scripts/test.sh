#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs into .venv, runs the
# linters (ruff, mypy --strict) and pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
echo "== ruff"; ruff check ble_lock tests bench
echo "== mypy"; mypy
echo "== pytest"; exec python -m pytest -n "${BLE_LOCK_TEST_WORKERS:-auto}" "$@"
