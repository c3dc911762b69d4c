"""ATT vocabulary of the simulated radio: PDUs for the trace, error codes, the GATT layout.

Sizes are ATT PDU lengths (opcode + parameters) from the Core spec, Vol 3, Part F, 3.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_MTU = 23
MAX_MTU = 517
MAX_ATTR_LEN = 512
CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"
FIRST_APP_HANDLE = 0x000A  # 0x0001-0x0009: bluetoothd's own GAP and GATT services


class Direction(StrEnum):
    C2P = "central->peripheral"
    P2C = "peripheral->central"


class AttOp(StrEnum):
    EXCHANGE_MTU_REQ = "exchange_mtu_req"
    EXCHANGE_MTU_RSP = "exchange_mtu_rsp"
    ERROR_RSP = "error_rsp"
    READ_BY_GROUP_TYPE_REQ = "read_by_group_type_req"
    READ_BY_GROUP_TYPE_RSP = "read_by_group_type_rsp"
    READ_BY_TYPE_REQ = "read_by_type_req"
    READ_BY_TYPE_RSP = "read_by_type_rsp"
    FIND_INFORMATION_REQ = "find_information_req"
    FIND_INFORMATION_RSP = "find_information_rsp"
    READ_REQ = "read_req"
    READ_RSP = "read_rsp"
    READ_BLOB_REQ = "read_blob_req"
    READ_BLOB_RSP = "read_blob_rsp"
    WRITE_REQ = "write_req"
    WRITE_RSP = "write_rsp"
    WRITE_CMD = "write_cmd"
    PREPARE_WRITE_REQ = "prepare_write_req"
    PREPARE_WRITE_RSP = "prepare_write_rsp"
    EXECUTE_WRITE_REQ = "execute_write_req"
    EXECUTE_WRITE_RSP = "execute_write_rsp"
    HANDLE_VALUE_NTF = "handle_value_ntf"
    HANDLE_VALUE_IND = "handle_value_ind"
    HANDLE_VALUE_CFM = "handle_value_cfm"


# ATT error codes (Core spec Vol 3, Part F, 3.4.1.1) that the simulator produces.
READ_NOT_PERMITTED = 0x02
WRITE_NOT_PERMITTED = 0x03
REQUEST_NOT_SUPPORTED = 0x06
INVALID_OFFSET = 0x07
INSUFFICIENT_AUTHORIZATION = 0x08
INVALID_ATTRIBUTE_VALUE_LENGTH = 0x0D
UNLIKELY_ERROR = 0x0E
INSUFFICIENT_ENCRYPTION = 0x0F
APPLICATION_ERROR = 0x80


class AttError(Exception):
    """An ATT Error Response from the peer's GATT server."""

    def __init__(self, code: int) -> None:
        super().__init__(f"ATT error 0x{code:02x}")
        self.code = code


def att_code_from_app_error(error_name: str | None, text: str, permission_code: int) -> int:
    """How bluetoothd's gatt-database maps an application's D-Bus error to an ATT code.

    ``org.bluez.Error.Failed`` may carry an application error code 0x80-0x9f as its message.
    """
    if error_name == "org.bluez.Error.Failed":
        try:
            code = int(text.strip(), 0)
        except ValueError:
            return APPLICATION_ERROR
        return code if APPLICATION_ERROR <= code <= 0x9F else APPLICATION_ERROR
    return {
        "org.bluez.Error.InProgress": 0xFE,
        "org.bluez.Error.NotSupported": REQUEST_NOT_SUPPORTED,
        "org.bluez.Error.NotAuthorized": INSUFFICIENT_AUTHORIZATION,
        "org.bluez.Error.InvalidValueLength": INVALID_ATTRIBUTE_VALUE_LENGTH,
        "org.bluez.Error.InvalidOffset": INVALID_OFFSET,
        "org.bluez.Error.NotPermitted": permission_code,
    }.get(error_name or "", UNLIKELY_ERROR)


def dbus_error_from_att(code: int) -> tuple[str, str]:
    """How bluetoothd's gatt-client reports an ATT error to a D-Bus caller (error name, text).

    bleak parses these back into ``BleakGATTProtocolError`` codes (``assert_gatt_reply``).
    """
    if code == READ_NOT_PERMITTED:
        return "org.bluez.Error.NotPermitted", "Read not permitted"
    if code == WRITE_NOT_PERMITTED:
        return "org.bluez.Error.NotPermitted", "Write not permitted"
    if code == INSUFFICIENT_ENCRYPTION:
        return "org.bluez.Error.NotPermitted", "Not paired"
    if code == INVALID_OFFSET:
        return "org.bluez.Error.InvalidArguments", "Invalid offset"
    if code == INVALID_ATTRIBUTE_VALUE_LENGTH:
        return "org.bluez.Error.InvalidArguments", "Invalid Length"
    if code == INSUFFICIENT_AUTHORIZATION:
        return "org.bluez.Error.NotAuthorized", "Not Authorized"
    if code == REQUEST_NOT_SUPPORTED:
        return "org.bluez.Error.NotSupported", "Not Supported"
    return "org.bluez.Error.Failed", f"Operation failed with ATT error: 0x{code:02x}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DescDef:
    handle: int
    uuid: str
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CharDef:
    handle: int  # declaration handle: BlueZ names the object path after it
    value_handle: int
    uuid: str
    flags: tuple[str, ...]
    descriptors: tuple[DescDef, ...]

    @property
    def cccd(self) -> DescDef | None:
        return next((d for d in self.descriptors if d.uuid == CCCD_UUID), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDef:
    handle: int
    end_handle: int
    uuid: str
    primary: bool
    characteristics: tuple[CharDef, ...]


def uuid128(uuid: str) -> str:
    """Full lower-case 128-bit form of a 16/32/128-bit UUID string."""
    u = uuid.lower()
    if len(u) == 4:
        return f"0000{u}-0000-1000-8000-00805f9b34fb"
    if len(u) == 8:
        return f"{u}-0000-1000-8000-00805f9b34fb"
    return u


def record_size(op: AttOp, value_len: int = 0) -> int:
    """ATT PDU length for ``op`` carrying ``value_len`` bytes of value."""
    fixed = {
        AttOp.EXCHANGE_MTU_REQ: 3,
        AttOp.EXCHANGE_MTU_RSP: 3,
        AttOp.ERROR_RSP: 5,
        AttOp.READ_REQ: 3,
        AttOp.READ_BLOB_REQ: 5,
        AttOp.WRITE_RSP: 1,
        AttOp.EXECUTE_WRITE_REQ: 2,
        AttOp.EXECUTE_WRITE_RSP: 1,
        AttOp.HANDLE_VALUE_CFM: 1,
        AttOp.READ_BY_GROUP_TYPE_REQ: 7,
        AttOp.READ_BY_TYPE_REQ: 7,
        AttOp.FIND_INFORMATION_REQ: 5,
    }
    if op in fixed:
        return fixed[op]
    if op in (AttOp.PREPARE_WRITE_REQ, AttOp.PREPARE_WRITE_RSP):
        return 5 + value_len
    if op in (AttOp.WRITE_REQ, AttOp.WRITE_CMD, AttOp.HANDLE_VALUE_NTF, AttOp.HANDLE_VALUE_IND):
        return 3 + value_len
    return 1 + value_len  # read / blob / discovery responses: opcode + data
