"""The gateway's configuration file (docs/flows.md, "Gateway configuration").

One file, TOML (stdlib ``tomllib``) or JSON (by its suffix: ``.json`` is JSON, anything
else TOML)::

    keystore = "~/.ble-lock"          # the admin phone's keystore (default: its default home)
    adapter = "hci0"                  # BlueZ adapter (default: the system's)
    output = "events.jsonl"           # "-" = stdout (default)
    state = "gateway-state.json"      # cursors, for resume after a restart (required)
    poll_interval_s = 30              # read each lock's log at least this often
    backoff_min_s = 1                 # reconnect backoff: doubles up to backoff_max_s
    backoff_max_s = 60
    request_timeout_s = 15
    relay = true                      # relay sync-unlock statements between the locks

    [[lock]]
    id = "0BADC0DE"                   # lock id (hex, as on the label)
    name = "front door"               # optional, shown in the stream

Relative paths are relative to the file's directory. Unknown keys are refused (a typo
must not silently fall back to a default).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ble_lock.core.errors import InvalidInputError

__all__ = ["MAX_LOCKS", "GatewayConfig", "LockEntry"]

MAX_LOCKS = 1000
_TOP = frozenset({"keystore", "adapter", "output", "state", "poll_interval_s",
                  "backoff_min_s", "backoff_max_s", "request_timeout_s", "relay", "lock"})
_LOCK = frozenset({"id", "name"})


@dataclass(frozen=True, slots=True, kw_only=True)
class LockEntry:
    """One lock the gateway follows."""

    lock_id: bytes
    name: str

    @property
    def key(self) -> str:
        return self.lock_id.hex().upper()


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    locks: tuple[LockEntry, ...]
    state: Path
    output: str = "-"
    keystore: Path | None = None
    adapter: str | None = None
    poll_interval_s: float = 30.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    request_timeout_s: float = 15.0
    relay: bool = True

    @classmethod
    def load(cls, path: str | Path) -> GatewayConfig:
        """Read and check a configuration file; a bad one raises ``InvalidInputError``."""
        p = Path(path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
            raw: Any = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
        except OSError as exc:
            raise InvalidInputError(f"cannot read {p}: {exc.strerror}") from exc
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInputError(f"{p}: not valid {p.suffix or 'TOML'}: {exc}") from exc
        return cls.from_mapping(raw, base=p.parent)

    @classmethod
    def from_mapping(cls, raw: Any, *, base: Path = Path()) -> GatewayConfig:
        if not isinstance(raw, Mapping):
            raise InvalidInputError("the configuration is a table / object")
        unknown = set(raw) - _TOP
        if unknown:
            raise InvalidInputError(f"unknown configuration keys: {sorted(unknown)}")
        locks = _locks(raw.get("lock"))
        if "state" not in raw:
            raise InvalidInputError("'state' (the cursor file) is required")
        output = _str(raw, "output", "-")
        keystore = raw.get("keystore")
        adapter = raw.get("adapter")
        config = cls(
            locks=locks, state=_path(base, _str(raw, "state", "")),
            output=output if output == "-" else str(_path(base, output)),
            keystore=None if keystore is None else _path(base, _str(raw, "keystore", "")),
            adapter=None if adapter is None else _str(raw, "adapter", ""),
            poll_interval_s=_num(raw, "poll_interval_s", 30.0),
            backoff_min_s=_num(raw, "backoff_min_s", 1.0),
            backoff_max_s=_num(raw, "backoff_max_s", 60.0),
            request_timeout_s=_num(raw, "request_timeout_s", 15.0),
            relay=_bool(raw, "relay", True))
        if config.backoff_max_s < config.backoff_min_s:
            raise InvalidInputError("backoff_max_s must be >= backoff_min_s")
        return config

    def names(self) -> dict[str, str]:
        return {entry.key: entry.name for entry in self.locks}


def _locks(raw: Any) -> tuple[LockEntry, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError("at least one [[lock]] with an 'id'")
    if len(raw) > MAX_LOCKS:
        raise InvalidInputError(f"at most {MAX_LOCKS} locks")
    out: list[LockEntry] = []
    for item in raw:
        if not isinstance(item, Mapping) or set(item) - _LOCK or "id" not in item:
            raise InvalidInputError(f"a [[lock]] has 'id' and optionally 'name': {item!r}")
        try:
            lock_id = bytes.fromhex(str(item["id"]))
        except ValueError as exc:
            raise InvalidInputError(f"lock id {item['id']!r} is not hex") from exc
        if not 1 <= len(lock_id) <= 32:
            raise InvalidInputError(f"lock id {item['id']!r}: 1 to 32 bytes")
        name = item.get("name", f"BLELOCK-{lock_id.hex().upper()}")
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            raise InvalidInputError(f"lock name {name!r}: 1 to 64 characters")
        out.append(LockEntry(lock_id=lock_id, name=name))
    if len({e.lock_id for e in out}) != len(out):
        raise InvalidInputError("a lock is listed twice")
    return tuple(out)


def _str(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"'{key}' must be a non-empty string")
    return value


def _num(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not 0 < value <= 86_400:
        raise InvalidInputError(f"'{key}' must be a number of seconds in (0, 86400]")
    return float(value)


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInputError(f"'{key}' must be true or false")
    return value


def _path(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p
