# Sourced by scripts/test.sh and scripts/demo.sh: make .venv hold ble-lock (editable, with
# its test dependencies; or, when the sourcing script sets ble_lock_install=demo, ble-lock
# alone as a regular install: no ruff, mypy, hypothesis, and no setuptools "editable
# installation" notice), and check the one system dependency (dbus-daemon).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BLE_LOCK_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "ble-lock needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if ! command -v dbus-daemon >/dev/null 2>&1; then
  echo "dbus-daemon is missing: the BlueZ simulator runs its own private buses." >&2
  echo "Install it with:  sudo apt-get install dbus-daemon   (Debian/Ubuntu)" >&2
  echo "                  sudo dnf install dbus-daemon       (Fedora)" >&2
  exit 1
fi
mode="${ble_lock_install:-test}"
stamp="$venv/.ble-lock-installed"
want="$(cat "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# the test install holds everything the demo needs; the demo install not the test tools
if [ "$have" != "$want test" ] && [ "$have" != "$want $mode" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip 2>/dev/null || true
  if [ "$mode" = demo ]; then
    "$venv/bin/python" -m pip install --quiet "$root"
  else
    "$venv/bin/python" -m pip install --quiet -e "$root[test]"
  fi
  echo "$want $mode" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
