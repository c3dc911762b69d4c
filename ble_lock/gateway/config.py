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

    [mqtt]                            # optional: the Home Assistant bridge (ble-lock[mqtt])
    url = "mqtts://gateway@broker.lan:8883"   # mqtt:// or mqtts:// (TLS), user in the URL
    password_file = "mqtt-password"   # the broker password (never in argv; or in the URL)
    gateway_id = "hall"               # unique per gateway on the broker (default: host name)
    discovery_prefix = "homeassistant"
    topic = "ble-lock"                # the root of the state and command topics
    ca_certs = "ca.pem"               # TLS: the broker's CA; certfile/keyfile: client cert
    tls_insecure = false              # TLS: skip the host-name check (tests only)

Relative paths are relative to the file's directory. Unknown keys are refused (a typo
must not silently fall back to a default).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ble_lock.core.errors import InvalidInputError

__all__ = ["MAX_LOCKS", "PASSWORD_ENV", "GatewayConfig", "LockEntry", "MqttSettings"]

MAX_LOCKS = 1000
_TOP = frozenset({"keystore", "adapter", "output", "state", "poll_interval_s",
                  "backoff_min_s", "backoff_max_s", "request_timeout_s", "relay", "lock",
                  "mqtt"})
_LOCK = frozenset({"id", "name"})
_MQTT = frozenset({"url", "password_file", "gateway_id", "discovery_prefix", "topic",
                   "ca_certs", "certfile", "keyfile", "tls_insecure"})
#: The broker password from the environment (for ``--mqtt`` without a password in argv).
PASSWORD_ENV = "BLE_LOCK_MQTT_PASSWORD"  # noqa: S105 - the variable's name, not a password
#: A topic segment: no MQTT wildcard, separator or control character.
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: A topic root: segments separated by ``/``.
_ROOT = re.compile(r"[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,7}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    """Where and how the gateway's MQTT bridge connects (``gateway/mqtt.py``)."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_certs: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    tls_insecure: bool = False
    gateway_id: str = "gateway"
    discovery_prefix: str = "homeassistant"
    topic: str = "ble-lock"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MqttSettings:
        """``mqtt://[user[:pass]@]host[:port]`` (``mqtts://``: TLS, port 8883 by default).
        A password absent from the URL is taken from ``$BLE_LOCK_MQTT_PASSWORD``."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidInputError(f"not an MQTT URL: {exc}") from exc
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname \
                or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise InvalidInputError("an MQTT URL is mqtt://[user[:pass]@]host[:port] "
                                    "(or mqtts:// for TLS)")
        tls = parts.scheme == "mqtts"
        password = unquote(parts.password) if parts.password is not None else None
        if password is None and options.get("password") is None:
            password = os.environ.get(PASSWORD_ENV) or None
        settings: dict[str, Any] = {
            "host": parts.hostname, "port": port or (8883 if tls else 1883), "tls": tls,
            "username": unquote(parts.username) if parts.username else None,
            "password": password, "gateway_id": _default_gateway_id()}
        settings.update({k: v for k, v in options.items() if v is not None})
        mqtt = cls(**settings)
        for name in ("gateway_id",):
            if not _SEGMENT.fullmatch(getattr(mqtt, name)):
                raise InvalidInputError(f"mqtt '{name}': letters, digits, '_' and '-' only "
                                        "(1 to 64)")
        for name in ("discovery_prefix", "topic"):
            if not _ROOT.fullmatch(getattr(mqtt, name)):
                raise InvalidInputError(f"mqtt '{name}': a topic of letters, digits, '_' "
                                        "and '-', no wildcards")
        return mqtt

    def redacted_url(self) -> str:
        """The broker's URL for logs: never the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def _default_gateway_id() -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64]
    return name or "gateway"


def _mqtt(raw: Any, base: Path) -> MqttSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidInputError("[mqtt] is a table")
    unknown = set(raw) - _MQTT
    if unknown:
        raise InvalidInputError(f"unknown [mqtt] keys: {sorted(unknown)}")
    options: dict[str, Any] = {}
    for key in ("gateway_id", "discovery_prefix", "topic"):
        if key in raw:
            options[key] = _str(raw, key, "")
    for key in ("ca_certs", "certfile", "keyfile"):
        if key in raw:
            options[key] = _path(base, _str(raw, key, ""))
    if "tls_insecure" in raw:
        options["tls_insecure"] = _bool(raw, "tls_insecure", False)
    if "password_file" in raw:
        path = _path(base, _str(raw, "password_file", ""))
        try:
            options["password"] = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from exc
    return MqttSettings.from_url(_str(raw, "url", ""), **options)


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
    mqtt: MqttSettings | None = None

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
            relay=_bool(raw, "relay", True), mqtt=_mqtt(raw.get("mqtt"), base))
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
