"""Moved to app.spec.datatypes; kept only for the modules issue 13 is changing (removed when it merges)."""
from app.spec.datatypes import *  # noqa: F401,F403
