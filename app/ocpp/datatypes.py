"""Moved to app.ocpp.spec.datatypes; kept only for the modules issue 13 is changing (removed when it merges)."""
from app.ocpp.spec.datatypes import *  # noqa: F401,F403
