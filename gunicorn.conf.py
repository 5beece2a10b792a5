"""gunicorn settings, from config.py: the gevent worker, and the ports the seed names.

OCPP_HOST:OCPP_WEBSOCKET_PORT serves the charge points and OCPP_HOST:OCPP_API_PORT the HTTP API;
where PORT is set (Heroku, App Platform) both are served on 0.0.0.0:$PORT.
"""
from config import load_config_or_exit

settings = load_config_or_exit()

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
