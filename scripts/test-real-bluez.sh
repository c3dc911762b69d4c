#!/usr/bin/env bash
# The real-BlueZ lane (docs/testing.md): boots a throw-away VM (virtme-ng, Debian's
# linux-image-amd64) that shares this machine's files read-only, creates virtual LE
# controllers over /dev/vhci, starts a system dbus-daemon and bluetoothd in it, and runs
# the real-adapter tests (tests/real) with one --ble-adapter per controller, the lock on
# hci0, in two passes:
#   A: two btvirt controllers (BlueZ's own emulator): the whole story and the command line;
#   B: three bumble controllers on one simulated radio (scripts/virtual_controllers.py):
#      notifications with two centrals connected, which btvirt 5.66 cannot carry (it gives
#      every connection handle 42, so a peripheral cannot hold two links).
#
#   scripts/test-real-bluez.sh [pytest arguments]
#
# Installs what is missing (apt: qemu-system-x86 linux-image-amd64 bluez
# bluez-test-tools busybox-static; PyPI: virtme-ng and bumble, each into its own venv). Uses hardware KVM
# when it can boot a stock kernel, software emulation (TCG) otherwise. Environment:
#   BLE_REAL_ACCEL=kvm|tcg     force the accelerator
#   BLE_REAL_LANE_TIMEOUT=S    whole-lane limit (default 3600 s)
#   BLE_REAL_TIMEOUT=S         per-step limit for process starts and scans (default 600)
#   BLE_REAL_VNG_VENV=DIR      where virtme-ng is installed (default ~/.cache/ble-lock/vng)
#   BLE_REAL_PASSES=ab|a       run pass B too (default) or pass A only
#   BLE_REAL_BUMBLE_VENV=DIR   where bumble is installed (default ~/.cache/ble-lock/bumble)
#   BLE_REAL_MEMORY=2G         guest memory
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[lane %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# ------------------------------------------------------------------------------ the guest
ctl_pid=""
adapters=()
# controllers KIND COUNT: start COUNT virtual controllers (btvirt or bumble) and wait until
# bluetoothd has them powered. Under load a controller can stay in setup ("Invalid Index"
# from mgmt): start over, up to five times.
controllers() {
  local kind="$1" count="$2" last="hci$(( $2 - 1 ))" try ok="" idx info
  for try in 1 2 3 4 5; do
    if [ "$kind" = bumble ]; then
      "$BLE_REAL_BUMBLE_PY" "$root/scripts/virtual_controllers.py" "$count" \
        >>"$scratch/controllers.log" 2>&1 &
    else
      btvirt -L "-l$count" >>"$scratch/controllers.log" 2>&1 &
    fi
    ctl_pid=$!
    ok=""
    # first let the kernel and bluetoothd set the controllers up (no mgmt commands yet);
    # under TCG the bumble process alone takes about a minute to start
    for _ in $(seq 1 180); do
      [ -e "/sys/class/bluetooth/$last" ] && break
      kill -0 "$ctl_pid" 2>/dev/null || break
      sleep 1
    done
    for _ in $(seq 1 30); do
      info="$(btmgmt info 2>/dev/null || true)"
      [ "$(grep -c 'current settings:.*powered' <<<"$info")" -ge "$count" ] && { ok=1; break; }
      sleep 2
    done
    if [ -z "$ok" ]; then  # bluetoothd powers adapters itself (AutoEnable); nudge once
      for idx in $(seq 0 $(( count - 1 ))); do
        btmgmt --index "$idx" power on >/dev/null 2>&1 || true
      done
      info="$(btmgmt info 2>/dev/null || true)"
      [ "$(grep -c 'current settings:.*powered' <<<"$info")" -ge "$count" ] && ok=1
    fi
    [ -n "$ok" ] && break
    log "controllers not ready (try $try): $(btmgmt info 2>&1 | grep -c 'current settings') of $count listed; retrying"
    controllers_stop
  done
  if [ -z "$ok" ]; then
    log "FAIL controllers: $count $kind controllers not up and powered after 5 tries"
    btmgmt info; ls -l /sys/class/bluetooth; cat "$scratch/controllers.log" "$scratch/bluetoothd.log"
    return 1
  fi
  adapters=()
  for idx in $(seq 0 $(( count - 1 ))); do adapters+=(--ble-adapter "hci$idx"); done
  log "PASS controllers: $count $kind controllers (hci0..$last) powered (try $try)"
}

controllers_stop() {
  [ -n "$ctl_pid" ] || return 0
  kill "$ctl_pid" 2>/dev/null || true
  wait "$ctl_pid" 2>/dev/null || true
  ctl_pid=""
  for _ in $(seq 1 60); do [ -e /sys/class/bluetooth/hci0 ] || break; sleep 1; done
}

# lane_pytest NAME [pytest arguments]: the real-adapter tests on the controllers up now
lane_rc=1
lane_pytest() {
  local name="$1"; shift
  set +e
  "$root/.venv/bin/python" -m pytest -p no:cacheprovider -n 0 -s -v --log-level=DEBUG \
    --basetemp="$scratch/pytest-$name" --timeout=5400 tests/real \
    "${adapters[@]}" "$@" 2>&1 | tee "$out/pytest-$name.log"
  lane_rc=${PIPESTATUS[0]}
  set -e
  log "pass $name: pytest exit status $lane_rc"
}

guest_rc=1
guest() {
  out="$1"; shift
  trap 'echo "$guest_rc" > "$out/rc"' EXIT
  # The VM's console mangles long output: the guest's own log is the record.
  exec > >(tee -a "$out/guest.log") 2>&1
  # the lane's settings (the VM does not inherit the host's environment)
  if [ -f "$out/env" ]; then set -a; source "$out/env"; set +a; fi
  # Most host folders are read-only in the guest: scratch goes to a tmpfs.
  scratch=/run/ble-real
  mkdir -p "$scratch" && mount -t tmpfs -o size=512m tmpfs "$scratch"
  mkdir -p "$scratch/home" "$scratch/tmp" "$scratch/bt"
  export HOME="$scratch/home" TMPDIR="$scratch/tmp" PYTHONDONTWRITEBYTECODE=1
  export PYTHONUNBUFFERED=1

  modprobe bluetooth 2>/dev/null || true
  modprobe hci_vhci
  mkdir -p /run/dbus /var/run/dbus
  dbus-daemon --system --fork --nopidfile
  log "system bus up"

  local btd=/usr/libexec/bluetooth/bluetoothd
  [ -x "$btd" ] || btd=/usr/lib/bluetooth/bluetoothd
  mkdir -p /var/lib/bluetooth
  "$btd" -n ${BLE_REAL_BTD_DEBUG:+-d} >"$scratch/bluetoothd.log" 2>&1 &
  if command -v btmon >/dev/null; then btmon >"$scratch/btmon.log" 2>&1 & fi
  log "bluetoothd started"

  cd "$root"
  local rc_a rc_b=0
  # Pass A: two btvirt controllers, the lock on hci0 and one phone on hci1: the whole
  # story and the command line (the two-centrals step needs a third controller).
  controllers btvirt 2 || return 1
  if [ "${1:-}" = "--setup-only" ]; then
    btmgmt info; ls /sys/class/bluetooth; guest_rc=0; return 0
  fi
  lane_pytest a "$@"; rc_a=$lane_rc
  # Pass B: three bumble controllers, two phones on their own radios: notifications with
  # two centrals connected. (bumble's controller is not used for pass A: after a
  # Device1.Disconnect on it the kernel sends no HCI Disconnect and the link stays up.)
  if [ "${BLE_REAL_PASSES:-ab}" = ab ]; then
    controllers_stop
    if controllers bumble 3; then
      lane_pytest b -k two_centrals "$@"; rc_b=$lane_rc
    else
      rc_b=1
    fi
  fi
  cp "$scratch/bluetoothd.log" "$scratch/btmon.log" "$out/" 2>/dev/null || true
  guest_rc=$(( rc_a != 0 || rc_b != 0 ))
  log "pytest exit status: pass A $rc_a, pass B $rc_b"
  return 0
}

if [ "${1:-}" = "--guest" ]; then
  shift
  out="$1"; shift
  guest "$out" "$@"
  exit 0
fi

# ------------------------------------------------------------------------------- the host
need_apt=()
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need_apt+=(linux-image-amd64)
{ [ -x /usr/libexec/bluetooth/bluetoothd ] || [ -x /usr/lib/bluetooth/bluetoothd ]; } \
  || need_apt+=(bluez)
command -v btvirt >/dev/null || need_apt+=(bluez-test-tools)
command -v busybox >/dev/null || need_apt+=(busybox-static)
command -v dbus-daemon >/dev/null || need_apt+=(dbus-daemon)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

vng_venv="${BLE_REAL_VNG_VENV:-$HOME/.cache/ble-lock/vng}"
if [ ! -x "$vng_venv/bin/vng" ]; then
  log "installing virtme-ng into $vng_venv"
  python3 -m venv "$vng_venv"
  "$vng_venv/bin/pip" install --quiet virtme-ng
fi
bumble_venv="${BLE_REAL_BUMBLE_VENV:-$HOME/.cache/ble-lock/bumble}"
if [ "${BLE_REAL_PASSES:-ab}" = ab ] && [ ! -x "$bumble_venv/bin/python" ]; then
  log "installing bumble into $bumble_venv"
  python3 -m venv "$bumble_venv"
  "$bumble_venv/bin/pip" install --quiet bumble
fi
if [ ! -x "$root/.venv/bin/python" ] || ! "$root/.venv/bin/python" -c 'import ble_lock, bless, bleak' 2>/dev/null; then
  log "creating the project venv"
  ( source "$root/scripts/bootstrap.sh" )
fi

kernel="$(ls -1 /boot/vmlinuz-* | sort -V | tail -n 1)"
accel="${BLE_REAL_ACCEL:-}"
if [ -z "$accel" ]; then
  # A PVM hypervisor (kvm_pvm) exposes /dev/kvm but cannot boot a stock kernel.
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then
    accel=kvm
  else
    accel=tcg
  fi
fi
kvm_flag=()
[ "$accel" = tcg ] && kvm_flag=(--disable-kvm)
out="$(mktemp -d /tmp/ble-real-lane.XXXXXX)"
log "kernel $kernel, accelerator $accel, results in $out"
{ env | grep -E '^BLE_REAL_[A-Z_]+=' | sed -E "s/=(.*)/='\1'/" || true
  echo "BLE_REAL_BUMBLE_PY='$bumble_venv/bin/python'"; } >"$out/env"

start=$(date +%s)
set +e
PATH="$vng_venv/bin:$PATH" timeout "${BLE_REAL_LANE_TIMEOUT:-3600}" \
  nice -n 10 "$vng_venv/bin/vng" -r "$kernel" "${kvm_flag[@]}" --cpus 2 \
  --memory "${BLE_REAL_MEMORY:-2G}" --rwdir="$out" \
  --exec "$root/scripts/test-real-bluez.sh --guest $out $*" >"$out/console.log" 2>&1
vm_rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
grep -E '^\[lane ' "$out/guest.log" 2>/dev/null || tail -n 20 "$out/console.log"
for log_file in "$out"/pytest-*.log; do
  [ -f "$log_file" ] || continue
  echo "---- steps ($(basename "$log_file" .log))"
  grep -E 's\] (PASS|FAIL|SKIP) ' "$log_file" | awk '!seen[$0]++' || true
  grep -E '^(FAILED|ERROR) |[0-9]+ (passed|failed|skipped)' "$log_file" | tail -n 5 || true
done
rc="$(cat "$out/rc" 2>/dev/null || echo 1)"
log "lane finished in ${elapsed} s (vm exit $vm_rc, tests exit $rc); logs in $out"
[ "$rc" = 0 ] && [ "$vm_rc" = 0 ]
