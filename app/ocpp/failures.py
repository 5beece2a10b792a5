"""Moved to app.ocpp.spec.failures; kept only for the modules issue 13 is changing (removed when it merges)."""
from app.ocpp.spec.failures import *  # noqa: F401,F403
