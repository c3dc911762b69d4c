"""The front panel's control socket: one JSON request per line, one JSON reply per line.

Address: a Unix socket ``<state-dir>/panel.sock`` (mode 0600), or loopback TCP where
there is no ``AF_UNIX`` (Windows) or the path is too long for one; the chosen address is
written to ``<state-dir>/panel.addr`` (``unix:<path>`` or ``tcp:127.0.0.1:<port>``). Over
TCP every request carries ``"auth"``: the token stored (0600) in ``panel.addr``, so
only the owner of the state directory drives the panel, as with the Unix socket.

Request: ``{"op": "<name>", ...fields, "id": <anything, echoed>}``; see :data:`OPS` and
``docs/peripheral.md``. Reply: the :class:`~ble_lock.peripheral.panel.FrontPanel` reply,
or ``{"ok": false, "error": {"code": <ErrorCode>, "name": ..., "message": ...}}``.
Bad JSON (``PROTOCOL_ERROR``), an unknown op (``UNKNOWN_MESSAGE``), missing, unknown or
mistyped fields (``INVALID_ARGUMENT``) and the lock's own errors get an error reply and the
connection stays usable; a line over :data:`MAX_LINE` bytes gets ``MESSAGE_TOO_LARGE``
and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ble_lock.core.errors import (
    ErrorCode,
    InvalidInputError,
    LockError,
    TransportError,
    error_for_code,
)
from ble_lock.peripheral.panel import FrontPanel, Reply
from ble_lock.peripheral.state import PANEL_ADDR, PANEL_SOCK, atomic_write

__all__ = ["MAX_LINE", "OPS", "ControlServer", "PanelAddress", "handle_line"]

_log = logging.getLogger(__name__)
MAX_LINE = 16384
_UNIX_PATH_MAX = 100  # sun_path is 104 (macOS) / 108 (Linux) bytes with the NUL

Handler = Callable[..., Reply]
# op -> (call, required fields, optional fields)
OPS: dict[str, tuple[Handler, frozenset[str], frozenset[str]]] = {}


def _op(name: str, call: Handler, required: tuple[str, ...] = (),
        optional: tuple[str, ...] = ()) -> None:
    OPS[name] = (call, frozenset(required), frozenset(optional))


_op("status", FrontPanel.status)
_op("label", FrontPanel.label)
_op("keypad", FrontPanel.keypad, ("keys",))
_op("touch", FrontPanel.touch)
_op("hold_zero", FrontPanel.hold_zero)
_op("card", FrontPanel.card, ("uid",))
_op("remote", FrontPanel.remote, ("remote_id",))
_op("biometric", FrontPanel.biometric, ("kind", "template"), ("step",))
_op("mechanical_key", FrontPanel.mechanical_key)
_op("inside_handle", FrontPanel.inside_handle)
_op("inside_button", FrontPanel.inside_button)
_op("thumb_turn", FrontPanel.thumb_turn, ("locked",))
_op("door", FrontPanel.door, ("state",))
_op("tamper", FrontPanel.tamper)
_op("battery", FrontPanel.battery, ("percent",))
_op("set_button", FrontPanel.set_button)
_op("claim", FrontPanel.claim, ("pin", "confirm"))
_op("menu", FrontPanel.menu, (), ("pin", "card", "finger"))
_op("menu_exit", FrontPanel.menu_exit)
_op("factory_reset", FrontPanel.factory_reset)
_op("clock.advance", FrontPanel.advance_clock, ("seconds",))

_ARGS = {"uid": "uid_hex", "remote_id": "remote_hex", "template": "template_hex",
         "card": "card_hex", "finger": "finger_hex"}


def error_reply(code: ErrorCode, message: str) -> Reply:
    return {"ok": False, "error": {"code": int(code), "name": code.name, "message": message}}


def handle_line(panel: FrontPanel, line: bytes, token: str | None = None) -> Reply:
    """Answer one request line (never raises)."""
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return error_reply(ErrorCode.PROTOCOL_ERROR, "request is not JSON")
    if not isinstance(request, dict):
        return error_reply(ErrorCode.PROTOCOL_ERROR, "request is not a JSON object")
    rid = request.pop("id", None)
    reply = _dispatch(panel, request, token)
    if rid is not None:
        reply["id"] = rid
    return reply


def _dispatch(panel: FrontPanel, request: dict[str, Any], token: str | None) -> Reply:
    auth = request.pop("auth", None)
    if token is not None and not (isinstance(auth, str) and hmac.compare_digest(auth, token)):
        return error_reply(ErrorCode.PERMISSION_DENIED, "missing or wrong auth token")
    op = request.pop("op", None)
    if not isinstance(op, str) or op not in OPS:
        return error_reply(ErrorCode.UNKNOWN_MESSAGE, f"unknown op {op!r}"[:80])
    call, required, optional = OPS[op]
    missing = required - request.keys()
    extra = request.keys() - required - optional
    if missing or extra:
        what = f"missing {sorted(missing)}" if missing else f"unknown fields {sorted(extra)}"
        return error_reply(ErrorCode.INVALID_ARGUMENT, f"{op}: {what}"[:200])
    kwargs = {_ARGS.get(k, k): v for k, v in request.items()}
    try:
        return call(panel, **kwargs)
    except LockError as exc:
        return error_reply(exc.code, exc.message)
    except Exception:  # a bug must not take the panel (or the lock) down
        _log.exception("panel op %s failed", op)
        return error_reply(ErrorCode.INTERNAL, "internal error")


@dataclass(frozen=True, slots=True, kw_only=True)
class PanelAddress:
    """Where a running emulator's panel listens (read from ``panel.addr``)."""

    kind: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0
    token: str | None = None

    def __repr__(self) -> str:  # the token stays out of logs
        where = self.path if self.kind == "unix" else f"{self.host}:{self.port}"
        return f"PanelAddress({self.kind}:{where})"

    def text(self) -> str:
        """The public part (for the ``ready`` line)."""
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp:{self.host}:{self.port}"

    def serialize(self) -> str:
        return json.dumps({"kind": self.kind, "path": self.path, "host": self.host,
                           "port": self.port, "token": self.token})

    @classmethod
    def load(cls, state_dir: str | os.PathLike[str]) -> PanelAddress:
        path = Path(state_dir) / PANEL_ADDR
        try:
            data = json.loads(path.read_text())
            return cls(kind=str(data["kind"]), path=str(data["path"]), host=str(data["host"]),
                       port=int(data["port"]), token=data["token"])
        except FileNotFoundError as exc:
            raise TransportError(f"no emulator panel at {state_dir} (not running?)",
                                    code=ErrorCode.LOCK_NOT_FOUND) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}: unreadable panel address") from exc


class ControlServer:
    """Serves a :class:`FrontPanel` on the state directory's control socket."""

    def __init__(self, panel: FrontPanel, state_dir: Path, *, force_tcp: bool = False) -> None:
        self._panel = panel
        self._dir = state_dir
        self._force_tcp = force_tcp
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.address: PanelAddress | None = None

    def __repr__(self) -> str:
        return f"ControlServer({self.address!r})"

    @staticmethod
    def in_use(state_dir: Path) -> bool:
        """Whether a running emulator answers on this state directory's panel address (a
        killed one leaves a stale address that refuses connections)."""
        try:
            address = PanelAddress.load(state_dir)
        except LockError:
            return False
        try:
            if address.kind == "unix" and hasattr(socket, "AF_UNIX"):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.settimeout(1.0)
                    probe.connect(address.path)
            else:
                socket.create_connection((address.host, address.port), timeout=1.0).close()
        except OSError:
            return False
        return True

    async def start(self) -> PanelAddress:
        sock_path = self._dir / PANEL_SOCK
        use_unix = (not self._force_tcp and hasattr(socket, "AF_UNIX") and os.name != "nt"
                    and len(os.fsencode(sock_path)) < _UNIX_PATH_MAX)
        if use_unix:
            with contextlib.suppress(FileNotFoundError):
                sock_path.unlink()  # a stale socket of a killed emulator
            self._server = await asyncio.start_unix_server(self._serve, path=str(sock_path),
                                                           limit=MAX_LINE)
            os.chmod(sock_path, 0o600)
            address = PanelAddress(kind="unix", path=str(sock_path))
        else:
            self._server = await asyncio.start_server(self._serve, host="127.0.0.1", port=0,
                                                      limit=MAX_LINE)
            port = self._server.sockets[0].getsockname()[1]
            address = PanelAddress(kind="tcp", host="127.0.0.1", port=int(port),
                                   token=secrets.token_hex(16))
        atomic_write(self._dir / PANEL_ADDR, address.serialize().encode())
        self.address = address
        return address

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._server = None
        for name in (PANEL_ADDR, PANEL_SOCK):
            with contextlib.suppress(FileNotFoundError):
                (self._dir / name).unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        token = self.address.token if self.address is not None else None
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # over the limit: answer, then drop the connection
                    await _send(writer, error_reply(ErrorCode.MESSAGE_TOO_LARGE,
                                                    f"request line over {MAX_LINE} bytes"))
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                await _send(writer, handle_line(self._panel, line, token))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
    writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
    await writer.drain()


def raise_for_reply(reply: Reply) -> Reply:
    """The reply, or the typed :class:`LockError` its error names."""
    if reply.get("ok"):
        return reply
    error = reply.get("error") or {}
    raise error_for_code(int(error.get("code", ErrorCode.INTERNAL)),
                         str(error.get("message", "panel error")))
