"""Which charge points are connected to this process, and the way to send them CALLs.

The API and the jobs reach charge points only through here: connections.call(id, action, payload).
"""
import logging

from flask import Flask, current_app

from app.ocpp.session import ChargePointSession, NotConnected

logger = logging.getLogger(__name__)

REPLACED = "replaced by a newer connection of the same charge point"


class Connections:
    def __init__(self):
        self._sessions: dict[str, ChargePointSession] = {}

    def attach(self, session: ChargePointSession) -> None:
        """Make `session` the charge point's connection, closing the one it replaces."""
        previous = self._sessions.get(session.charge_point_id)
        self._sessions[session.charge_point_id] = session
        if previous is not None and previous is not session:
            logger.info("%s: %s", session.charge_point_id, REPLACED)
            previous.close(reason=REPLACED)

    def detach(self, session: ChargePointSession) -> bool:
        """Forget `session`; False when a newer connection had already replaced it (nothing to forget)."""
        if self._sessions.get(session.charge_point_id) is not session:
            return False
        del self._sessions[session.charge_point_id]
        return True

    def session(self, charge_point_id: str) -> ChargePointSession | None:
        return self._sessions.get(charge_point_id)

    def is_connected(self, charge_point_id: str) -> bool:
        return charge_point_id in self._sessions

    def connected_ids(self) -> set[str]:
        return set(self._sessions)

    def call(self, charge_point_id: str, action: str, payload: dict, timeout: float | None = None) -> dict:
        """Send a CALL to a connected charge point and return its CALLRESULT payload.

        Raises NotConnected, CallTimeout, CallErrorReceived or InvalidCallResult (session.CommandFailed).
        """
        session = self._sessions.get(charge_point_id)
        if session is None:
            raise NotConnected(charge_point_id)
        if timeout is None:
            timeout = current_app.config["OCPP_COMMAND_TIMEOUT"]
        return session.call(action, payload, timeout)

    def close_all(self, code: int, reason: str) -> None:
        for session in list(self._sessions.values()):
            session.close(code, reason)


def init_app(app: Flask) -> None:
    app.extensions["ocpp_connections"] = Connections()


def connections() -> Connections:
    return current_app.extensions["ocpp_connections"]
