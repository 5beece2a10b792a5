"""gunicorn settings, from config.py: the gevent worker, and the ports the seed names.

OCPP_HOST:OCPP_WEBSOCKET_PORT serves the charge points and OCPP_HOST:OCPP_API_PORT the HTTP API;
where PORT is set (Heroku, App Platform) both are served on 0.0.0.0:$PORT.
"""
import gc
import os
import resource
import shutil
import ssl
import sys
import tempfile
import warnings

from gunicorn import glogging

from config import load_config_or_exit

# gevent's monitor thread (GEVENT_MONITOR_THREAD_ENABLE, on in the tests and the benchmark) warns at start
# that it cannot watch memory without psutil: nobody asked it to (GEVENT_MAX_MEMORY), and the line would
# be the one non-JSON line of LOG_FORMAT=json. The worker inherits the filter.
warnings.filterwarnings("ignore", message="Unable to monitor memory usage")

# Each greenlet would keep a record of the stack it was spawned from (four frames' worth and a dict, for
# every connection); nothing reads it. Read by gevent in the worker, which inherits the environment.
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")

settings = load_config_or_exit()

if settings.WEB_CONCURRENCY > 1 and not settings.REDIS_URL:
    # Each worker would hold its own charge points, and a command reaching another worker would be lost.
    sys.exit(f"configuration error: WEB_CONCURRENCY={settings.WEB_CONCURRENCY} needs REDIS_URL: without Redis, "
             "one worker process serves all charge points")

# Files a worker needs besides its charge points' sockets: listening sockets, database and Redis
# connections, SQLite's files, logs, the event loop's own.
RESERVED_FILES = 200


def raise_open_file_limit(max_connections: int) -> None:
    """Raise the soft open-file limit to the hard one (the worker inherits it); exit, naming both
    numbers, when OCPP_MAX_CONNECTIONS connections could not be opened even then."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + RESERVED_FILES
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if soft != target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if wanted > target:
        sys.exit(f"configuration error: OCPP_MAX_CONNECTIONS={max_connections} is more than this process can "
                 f"open: its open-file limit is {target} ({RESERVED_FILES} of them for other files); raise the "
                 f"limit (ulimit -n) or lower OCPP_MAX_CONNECTIONS to {target - RESERVED_FILES}")


raise_open_file_limit(settings.OCPP_MAX_CONNECTIONS)

wsgi_app = "wsgi:app"
worker_class = "gevent"
workers = settings.WEB_CONCURRENCY
# Each worker serves at most this many HTTP requests at once per listening port (gunicorn's default is
# 1000): a WebSocket handshake is one until the connection is open (transport.serve_apart), and a whole
# fleet may handshake at once; some beyond OCPP_MAX_CONNECTIONS, so that the application can answer
# those with 503 instead of leaving them unanswered in the listen queue.
worker_connections = settings.OCPP_MAX_CONNECTIONS + 100
# Connections the kernel completes and queues until the worker accepts them (it caps this at
# net.core.somaxconn, 4096 on most hosts): a fleet reconnecting while a new worker imports the
# application (about two seconds) waits in the queue instead of being refused and backing off.
backlog = max(2048, settings.OCPP_MAX_CONNECTIONS)

if settings.PORT is not None:
    bind = [f"0.0.0.0:{settings.PORT}"]
elif settings.OCPP_WEBSOCKET_PORT == settings.OCPP_API_PORT:
    bind = [f"{settings.OCPP_HOST}:{settings.OCPP_WEBSOCKET_PORT}"]
else:
    bind = [f"{settings.OCPP_HOST}:{settings.OCPP_WEBSOCKET_PORT}", f"{settings.OCPP_HOST}:{settings.OCPP_API_PORT}"]

loglevel = settings.LOG_LEVEL.lower()
# gunicorn's own lines in the format of the application's (app/log_setup.py); no access log, which
# would add a line per API request and show what clients send.
_FORMATS = {
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s [-] %(message)s"},
    "json": {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
             "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": _FORMATS[settings.LOG_FORMAT]},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["stderr"], "level": settings.LOG_LEVEL},
    "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": settings.LOG_LEVEL, "propagate": False},
                "alembic.runtime.plugins": {"level": "WARNING"}},  # a line per plugin at every import
}


class Logger(glogging.Logger):
    """gunicorn's logger without its access log. gunicorn takes logconfig_dict for a wish for one, and would
    build each request's line (every handshake of a reconnect storm, refused ones included: 9 % of a
    refusal's CPU) for no handler to print it."""
    access_log_enabled = False  # (a property in gunicorn's class)

    def access(self, resp, req, environ, request_time):
        pass


logger_class = Logger
graceful_timeout = 30
# No gunicornc control socket: several servers on one host would share its path in $HOME.
control_socket_disable = True
# The gevent worker reads each HTTP request (a WebSocket handshake too) within `keepalive` seconds.
keepalive = max(1, round(settings.OCPP_HANDSHAKE_TIMEOUT))

if settings.OCPP_USE_TLS:
    certfile, keyfile = settings.OCPP_CERT_FILE, settings.OCPP_KEY_FILE
    if settings.OCPP_CLIENT_CA_FILE:
        # Security profile 3: a client certificate is asked for and verified against the CA; a charge
        # point of profile 3 without one is refused by the application (API clients need none).
        ca_certs, cert_reqs = settings.OCPP_CLIENT_CA_FILE, ssl.CERT_OPTIONAL


def ssl_context(config, default_ssl_context_factory):
    """TLS 1.2 or later, as the OCPP Security Whitepaper requires."""
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def post_fork(server, worker):
    """The worker imports and sets up the application next: it makes objects that live as long as the
    process, and the collector would go through them again and again while they are made (0.15 s of
    the worker's 1.1 s start-up, which a fleet reconnecting after a restart waits for). It waits until
    post_worker_init, where app.collector.configure() freezes them and turns it on again."""
    gc.disable()


def post_worker_init(worker):
    """The worker's background greenlets: the Redis relay, or the periodic jobs without Redis; and the
    graceful shutdown on SIGTERM (WebSockets closed with 1001 after commands in flight are answered)."""
    from app.runtime import start_background
    from app.tasks.runner import watch_held_connections
    start_background(worker.wsgi, worker)
    watch_held_connections(worker.wsgi)


def worker_exit(server, worker):
    """gunicorn's worker exits once its HTTP requests are done; a charge point's connection is not one of
    them (it outlives the request that opened it): it waits for their graceful shutdown, which starts
    now if nothing had stopped the worker before (an error in gunicorn's own loop)."""
    runtime = sys.modules.get("app.runtime")  # not there when the worker failed to start
    if runtime is not None:
        worker.alive = False
        runtime.wait_for_shut_down(worker.cfg.graceful_timeout)


# Several workers: each writes its Prometheus metrics to files in one directory, which /metrics adds up.
if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ocpp-metrics-")


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # figures of an earlier run must not count
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
