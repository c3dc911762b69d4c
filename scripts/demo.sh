#!/usr/bin/env bash
# The demo on a fresh machine: installs ble-lock into .venv (like scripts/test.sh), then
# runs the whole story on the built-in BlueZ simulator. Extra arguments go to `ble-lock demo`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec ble-lock demo "$@"
