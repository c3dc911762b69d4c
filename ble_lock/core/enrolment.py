"""Biometric enrolment sessions (R-CRD-4, R-APP-2): driven by the app, captured at the lock.

The app begins a session for a user and a kind; the front panel then presents samples
(``Lock.present_biometric``), one per step of the profile (fingerprint: 6 captures, face:
5 poses). Every sample of a session must be the same template bytes (a different one is
a rejected capture: "another finger"); a named step must be the expected one. Only the
last capture stores the credential: a cancelled, timed-out or reset session stores
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ble_lock.core.credentials import Credentials
from ble_lock.core.errors import ErrorCode, InvalidInputError, StateError
from ble_lock.core.management import Management
from ble_lock.core.model import (
    BIOMETRIC_KINDS,
    DURESS_KINDS,
    Actor,
    CaptureResult,
    CredentialKind,
    EnrolmentProgress,
    EnrolmentSession,
    EnrolmentState,
    EventKind,
)

__all__ = ["MAX_TEMPLATE", "Enrolment"]

MAX_TEMPLATE = 1024


@dataclass(slots=True, kw_only=True)
class _Run:
    id: int
    kind: CredentialKind
    user_number: int
    duress: bool
    steps: tuple[str, ...]
    started_at: float
    last_activity: float
    captured: int = 0
    template: bytes | None = None
    state: EnrolmentState = EnrolmentState.CAPTURING
    credential_id: int | None = None

    def __repr__(self) -> str:
        return f"_Run(id={self.id}, kind={self.kind.name}, captured={self.captured})"

    def view(self) -> EnrolmentSession:
        capturing = self.state is EnrolmentState.CAPTURING
        return EnrolmentSession(
            id=self.id, kind=self.kind, user_number=self.user_number, duress=self.duress,
            captures_needed=len(self.steps), captured=self.captured,
            next_step=self.steps[self.captured] if capturing else None,
            state=self.state, credential_id=self.credential_id, started_at=self.started_at,
        )


def check_template(template: bytes) -> bytes:
    if not isinstance(template, bytes | bytearray) or not 1 <= len(template) <= MAX_TEMPLATE:
        raise InvalidInputError(f"a template sample is 1..{MAX_TEMPLATE} bytes",
                                code=ErrorCode.MALFORMED_TEMPLATE)
    return bytes(template)


class Enrolment:
    """R-CRD-4: begin / capture / progress / cancel; owns the running session."""

    def __init__(self, ctx: Management, credentials: Credentials) -> None:
        self._ctx = ctx
        self._credentials = credentials
        self._run: _Run | None = None
        self._run_ids = 0

    def reset(self) -> None:
        """A factory reset ends any session (R-SEC-5)."""
        self._run = None

    def capturing(self, kind: CredentialKind) -> bool:
        """Whether a session capturing ``kind`` runs (the panel routes samples to it)."""
        run = self._run
        return run is not None and run.state is EnrolmentState.CAPTURING and run.kind is kind

    def begin_enrolment(self, actor: Actor, user_number: int, kind: CredentialKind, *,
                        duress: bool = False, request_id: bytes | None = None
                        ) -> EnrolmentSession:
        """Start capturing a fingerprint, face or palm for a user at the lock. Admin only.
        One session at a time (``ENROLMENT_OUT_OF_ORDER`` while one is capturing)."""
        self._ctx.authorize(actor)
        if kind not in BIOMETRIC_KINDS:
            raise InvalidInputError(f"{kind.name} is not enrolled by capture")
        if duress and kind not in DURESS_KINDS:
            raise InvalidInputError(f"{kind.name} cannot be a duress key")

        def apply() -> EnrolmentSession:
            self.expire()
            if self._run is not None and self._run.state is EnrolmentState.CAPTURING:
                raise StateError("another enrolment is in progress",
                                 code=ErrorCode.ENROLMENT_OUT_OF_ORDER)
            # fail early: full or over the user's limit
            self._credentials.check_room(user_number, kind)
            self._run_ids += 1
            now = self._ctx.now()
            self._run = _Run(id=self._run_ids, kind=kind, user_number=user_number,
                             duress=duress, steps=self._ctx.profile.enrol_steps[kind],
                             started_at=now, last_activity=now)
            return self._run.view()

        return self._ctx.mutate(actor, request_id, apply)

    def enrolment_status(self, actor: Actor, session_id: int) -> EnrolmentSession:
        """Progress of a session (captured / needed, next step, done, credential id)."""
        self._ctx.authorize(actor)
        self.expire()
        return self._get_run(session_id).view()

    def cancel_enrolment(self, actor: Actor, session_id: int, *,
                         request_id: bytes | None = None) -> EnrolmentSession:
        """Abandon a session: nothing is stored (R-CRD-4)."""
        self._ctx.authorize(actor)

        def apply() -> EnrolmentSession:
            run = self._get_run(session_id)
            if run.state is EnrolmentState.CAPTURING:
                run.state = EnrolmentState.CANCELLED
            return run.view()

        return self._ctx.mutate(actor, request_id, apply)

    @property
    def enrolling(self) -> EnrolmentSession | None:
        """The session capturing right now, if any (the panel routes samples to it)."""
        self.expire()
        run = self._run
        return run.view() if run is not None and run.state is EnrolmentState.CAPTURING else None

    def _get_run(self, session_id: int) -> _Run:
        if self._run is None or self._run.id != session_id:
            raise StateError(f"no enrolment session {session_id}",
                                code=ErrorCode.NO_ENROLMENT)
        return self._run

    def expire(self) -> None:
        run = self._run
        if run is not None and run.state is EnrolmentState.CAPTURING \
                and self._ctx.now() - run.last_activity >= self._ctx.profile.enrolment_timeout_s:
            run.state = EnrolmentState.CANCELLED

    def deadline(self) -> float | None:
        run = self._run
        if run is None or run.state is not EnrolmentState.CAPTURING:
            return None
        return run.last_activity + self._ctx.profile.enrolment_timeout_s

    def capture(self, kind: CredentialKind, sample: bytes, step: str | None) -> CaptureResult:
        """One capture at the panel for the running session (R-CRD-4)."""
        self.expire()
        run = self._run
        if run is None or run.state is not EnrolmentState.CAPTURING:
            raise StateError("no enrolment in progress", code=ErrorCode.NO_ENROLMENT)
        if kind is not run.kind:
            raise StateError(f"session expects {run.kind.name}, got {kind.name}",
                             code=ErrorCode.ENROLMENT_OUT_OF_ORDER)
        expected = run.steps[run.captured]
        if step is not None and step != expected:
            raise StateError(f"expected capture {expected!r}, got {step!r}",
                             code=ErrorCode.ENROLMENT_OUT_OF_ORDER)
        run.last_activity = self._ctx.now()
        if run.template is not None and sample != run.template:
            return self._capture_result(run, accepted=False)
        run.template = sample
        run.captured += 1
        self._ctx.emit(EventKind.ENROLMENT_STEP, user_number=run.user_number,
                   detail=EnrolmentProgress(captured=run.captured, needed=len(run.steps)))
        if run.captured == len(run.steps):
            try:
                with self._ctx.tx():
                    cred = self._credentials.store_credential(run.user_number, run.kind, sample,
                                                  duress=run.duress)
            except Exception:
                run.state = EnrolmentState.CANCELLED
                raise
            run.state = EnrolmentState.DONE
            run.credential_id = cred.id
            run.template = None
        return self._capture_result(run, accepted=True)

    def _capture_result(self, run: _Run, *, accepted: bool) -> CaptureResult:
        return CaptureResult(
            session_id=run.id, accepted=accepted, captured=run.captured,
            captures_needed=len(run.steps), done=run.state is EnrolmentState.DONE,
            credential_id=run.credential_id,
        )
