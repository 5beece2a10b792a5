"""The process log: one line per event on stderr, at LOG_LEVEL."""
import logging

from flask import Flask

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def init_app(app: Flask) -> None:
    level = app.config["LOG_LEVEL"]
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=FORMAT)
    root.setLevel(level)
    # The libraries' per-frame chatter stays out of INFO.
    for noisy in ("ocpp", "simple_websocket", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
