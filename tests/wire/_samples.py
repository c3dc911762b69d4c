"""One plausible body per request type (well-formed, aimed at user 2 / credential 1),
and the split of opcodes into admin-only and the rest, as the lock enforces it."""

from __future__ import annotations

from ble_lock.wire import messages as m

PEER_LOCK = bytes.fromhex("20c4ed02")
PEER_KEY = bytes(range(32))

SAMPLE_REQUESTS: dict[type[m.RequestBody], m.RequestBody] = {
    m.Unlock: m.Unlock(),
    m.LockDoor: m.LockDoor(),
    m.SystemInfoGet: m.SystemInfoGet(),
    m.TimeSet: m.TimeSet(now_ms=1_767_225_600_000),
    m.EventsGet: m.EventsGet(after=0, limit=8),
    m.UserAdd: m.UserAdd(role=m.Role.ADMIN, name="Mallory",
                         validity=m.Validity(valid_from=1_767_225_600),
                         schedules=(m.Schedule(days_mask=0x3E, start_minute=480,
                                               end_minute=1080),)),
    m.UserUpdate: m.UserUpdate(user_number=2, role=m.Role.ADMIN),
    m.UserDelete: m.UserDelete(user_number=2),
    m.UserList: m.UserList(),
    m.UserGet: m.UserGet(user_number=1),
    m.WhoAmI: m.WhoAmI(),
    m.PinAdd: m.PinAdd(user_number=2, pin="135790", duress=True),
    m.CardAdd: m.CardAdd(user_number=2, card_uid=b"\xca\xfe\xf0\x0d", card_code="864209"),
    m.RemoteAdd: m.RemoteAdd(user_number=2, remote_id=b"\x01\x02\x03\x04"),
    m.EnrolBegin: m.EnrolBegin(user_number=2, kind=m.CredentialKind.FINGERPRINT),
    m.EnrolStatus: m.EnrolStatus(session_id=1),
    m.EnrolCancel: m.EnrolCancel(session_id=1),
    m.CredentialDelete: m.CredentialDelete(credential_id=1),
    m.CredentialDeleteKind: m.CredentialDeleteKind(user_number=1, kind=m.CredentialKind.PIN),
    m.CredentialClear: m.CredentialClear(kind=m.CredentialKind.BLUETOOTH_KEY),
    m.CredentialList: m.CredentialList(user_number=1),
    m.KeyInvite: m.KeyInvite(name="Eve", role=m.Role.ADMIN),
    m.InviteCancel: m.InviteCancel(invite_id=1),
    m.InviteList: m.InviteList(),
    m.KeyList: m.KeyList(),
    m.KeyRevoke: m.KeyRevoke(credential_id=1),
    m.SettingsGet: m.SettingsGet(),
    m.SettingsSet: m.SettingsSet(privacy_mode=True, lockout_enabled=False),
    m.LockoutLift: m.LockoutLift(),
    m.MaintenanceOpen: m.MaintenanceOpen(duration_s=600),
    m.FactoryReset: m.FactoryReset(),
    m.VisitorSecretGet: m.VisitorSecretGet(),
    m.SyncLinkSet: m.SyncLinkSet(peer_lock_id=PEER_LOCK, peer_public_key=PEER_KEY, window_s=10,
                                 confirm_s=60),
    m.SyncLinkDelete: m.SyncLinkDelete(peer_lock_id=PEER_LOCK),
    m.SyncLinkList: m.SyncLinkList(),
    m.SyncStatementRelay: m.SyncStatementRelay(statement=m.SyncStatement(
        issuer_lock_id=PEER_LOCK, target_lock_id=bytes.fromhex("10c4ed01"),
        at_ms=1_767_225_600_000, nonce=bytes(16), proof=bytes(32))),
}

# What a valid non-admin may send (the lock still checks key, validity, schedule, modes).
USER_OPCODES = frozenset({
    m.Opcode.UNLOCK,
    m.Opcode.LOCK,
    m.Opcode.SYSTEM_INFO,
    m.Opcode.WHOAMI,
    m.Opcode.USER_GET,  # only themself
    m.Opcode.CREDENTIAL_LIST,  # only their own
    m.Opcode.SYNC_STATEMENT,  # the statement itself is the authority
})
ADMIN_OPCODES = frozenset(m.Opcode) - USER_OPCODES
ADMIN_SAMPLES = [SAMPLE_REQUESTS[t] for t in SAMPLE_REQUESTS if t.OPCODE in ADMIN_OPCODES]
