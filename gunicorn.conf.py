"""gunicorn settings, from config.py: the gevent worker, and the ports the seed names.

OCPP_HOST:OCPP_WEBSOCKET_PORT serves the charge points and OCPP_HOST:OCPP_API_PORT the HTTP API;
where PORT is set (Heroku, App Platform) both are served on 0.0.0.0:$PORT.
"""
import sys

from config import load_config_or_exit

settings = load_config_or_exit()

if settings.WEB_CONCURRENCY > 1 and not settings.REDIS_URL:
    # Each worker would hold its own charge points, and a command reaching another worker would be lost.
    sys.exit(f"configuration error: WEB_CONCURRENCY={settings.WEB_CONCURRENCY} needs REDIS_URL: without Redis, "
             "one worker process serves all charge points")

wsgi_app = "wsgi:app"
worker_class = "gevent"
workers = settings.WEB_CONCURRENCY
# Each worker holds at most this many connections per listening port (gunicorn's default is 1000).
worker_connections = settings.OCPP_MAX_CONNECTIONS

if settings.PORT is not None:
    bind = [f"0.0.0.0:{settings.PORT}"]
elif settings.OCPP_WEBSOCKET_PORT == settings.OCPP_API_PORT:
    bind = [f"{settings.OCPP_HOST}:{settings.OCPP_WEBSOCKET_PORT}"]
else:
    bind = [f"{settings.OCPP_HOST}:{settings.OCPP_WEBSOCKET_PORT}", f"{settings.OCPP_HOST}:{settings.OCPP_API_PORT}"]

loglevel = settings.LOG_LEVEL.lower()
graceful_timeout = 30
keepalive = 5


def post_worker_init(worker):
    """The worker's background greenlets: the Redis relay, or the periodic jobs without Redis; and the
    graceful shutdown on SIGTERM (WebSockets closed with 1001 after commands in flight are answered)."""
    from app.runtime import start_background
    start_background(worker.wsgi, worker)
