#!/usr/bin/env bash
# The demo on a fresh machine: installs ble-lock into .venv (only what the demo needs: not
# the test tools), then runs the whole story on the built-in BlueZ simulator. Extra
# arguments go to `ble-lock demo`.
set -euo pipefail
ble_lock_install=demo
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec ble-lock demo "$@"
