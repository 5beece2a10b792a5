"""Settings, read once from the environment.

Every setting is declared in SETTINGS with its default and a one-line description (the README's
configuration tables say the same). A value that cannot be parsed raises ConfigError naming the
variable; the entry points turn it into one line on stderr and a non-zero exit.
"""
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.engine import URL


class ConfigError(ValueError):
    """A setting has a value the server cannot use; the message names the variable."""


# --- parsers: each takes the raw string and returns the value or raises ValueError(reason) ---

def text(raw: str) -> str:
    return raw


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("expected a whole number") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}")
        return value
    return parse


def seconds(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value


def positive_number(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


port = integer(1, 65535)


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        for option in allowed:
            if value == option.lower():
                return option
        raise ValueError("expected one of " + ", ".join(allowed))
    return parse


def database_url(raw: str) -> str:
    """DATABASE_URL as Heroku and App Platform set it (postgres://...), made usable by SQLAlchemy."""
    url = raw.strip()
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError("expected a URL such as postgres://user:password@host:5432/name")
    if scheme.lower() == "sqlite":
        return url
    if scheme.lower() not in ("postgres", "postgresql", "postgresql+psycopg2"):
        raise ValueError("expected a postgres:// or sqlite:// URL")
    if not urlsplit(url).hostname:
        raise ValueError("expected a host in the URL")
    return "postgresql+psycopg2://" + rest


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: str | None
    description: str

    def read(self, environ: Mapping[str, str]) -> Any:
        raw = environ.get(self.name)
        if raw is None or raw.strip() == "":
            if self.default is None:
                return None
            raw = self.default
        try:
            return self.parse(raw)
        except ValueError as reason:
            raise ConfigError(f"{self.name}={raw!r}: {reason}") from None


SETTINGS = (
    # The seed's OCPP server configuration
    Setting("OCPP_HOST", text, "localhost", "Hostname or IP address for binding the server"),
    Setting("OCPP_WEBSOCKET_PORT", port, "9000", "Port for WebSocket OCPP connections"),
    Setting("OCPP_API_PORT", port, "9001", "Port for the HTTP API"),
    Setting("OCPP_SYSTEM_NAME", text, "ocpp-central", "Name of the central system"),
    Setting("OCPP_HEARTBEAT_INTERVAL", integer(1, 86400), "60",
            "Interval in seconds between charge point heartbeats (sent in BootNotification)"),
    Setting("OCPP_USE_TLS", boolean, "false", "Enable TLS for secure connections"),
    Setting("OCPP_CERT_FILE", text, "cert.pem", "Path to TLS certificate file"),
    Setting("OCPP_KEY_FILE", text, "key.pem", "Path to TLS key file"),
    # The seed's database configuration
    Setting("DB_TYPE", choice("sqlite", "postgres"), "sqlite", "Database type (sqlite or postgres)"),
    Setting("DB_SQLITE_PATH", text, "ocpp_server.db", "Path to SQLite database file"),
    Setting("DB_HOST", text, "localhost", "PostgreSQL host"),
    Setting("DB_PORT", port, "5432", "PostgreSQL port"),
    Setting("DB_USER", text, "postgres", "PostgreSQL username"),
    Setting("DB_PASSWORD", text, "postgres", "PostgreSQL password"),
    Setting("DB_NAME", text, "ocpp_server", "PostgreSQL database name"),
    Setting("DB_SSL_MODE", choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
            "disable", "PostgreSQL SSL mode"),
    # Platform conventions (Heroku, DigitalOcean App Platform)
    Setting("PORT", port, None, "When set, serve WebSocket and API together on this port, on all interfaces"),
    Setting("DATABASE_URL", database_url, None, "Database URL; when set it wins over DB_TYPE and DB_*"),
    Setting("REDIS_URL", text, None, "Redis URL for background jobs and several processes"),
    Setting("WEB_CONCURRENCY", integer(1, 64), "1", "Number of gunicorn worker processes"),
    Setting("LOG_LEVEL", choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", "Log level"),
    Setting("LOG_FORMAT", choice("plain", "json"), "plain", "plain: one line of text per event; json: one JSON object"),
    # Ours
    Setting("OCPP_VALIDATION", choice("strict", "lenient"), "strict",
            "strict: frames that break the OCPP 1.6 schemas get a CALLERROR; lenient: small violations "
            "are logged, repaired and processed (per charge point override in the database)"),
    Setting("OCPP_COMMAND_TIMEOUT", seconds, "30",
            "Seconds to wait for a charge point's answer to a command"),
    Setting("OCPP_WEBSOCKET_PING_INTERVAL", seconds, "60",
            "Seconds between WebSocket pings; a charge point that does not answer is disconnected"),
    Setting("OCPP_WEBSOCKET_COMPRESSION", boolean, "false",
            "Accept permessage-deflate when a charge point offers it (about 100 KiB more per connection)"),
    Setting("OCPP_MAX_MESSAGE_SIZE", integer(1024), "65536",
            "Largest WebSocket message accepted, in bytes; a larger one closes that connection with 1009"),
    Setting("OCPP_MAX_CONNECTIONS", integer(1), "10000",
            "Connections one worker process holds at most (gunicorn worker_connections)"),
    Setting("OCPP_DATA_TRANSFER_VENDORS", text, "",
            "Comma-separated vendorIds whose DataTransfer is answered Accepted (others: UnknownVendorId)"),
    Setting("OCPP_CONCURRENT_TX_PER_GROUP", boolean, "false",
            "An idTag is ConcurrentTx while another tag of its parentIdTag group has a running transaction"),
    Setting("RESERVATION_CHECK_INTERVAL", seconds, "60", "Seconds between marking expired reservations"),
    Setting("DB_POOL_SIZE", integer(1, 200), "10", "PostgreSQL connections per worker process"),
    Setting("DB_CONNECT_TIMEOUT", seconds, "5", "Seconds to wait for a connection to PostgreSQL"),
    Setting("DB_STATEMENT_TIMEOUT", seconds, "30",
            "Seconds a statement of the server may run on PostgreSQL (statement_timeout); a database silent "
            "5 s longer is given up"),
    Setting("REDIS_TLS_VERIFY", boolean, "true",
            "Verify the certificate of a rediss:// Redis (Heroku Redis needs false: its certificate is self-signed)"),
    Setting("CONNECTION_REGISTRY_TTL", seconds, "15",
            "With Redis: seconds after which the charge points of a process that died stop counting as connected"),
    # Background services
    Setting("BACKGROUND_JOBS", boolean, "true",
            "Run the periodic jobs: in the server process without REDIS_URL, in worker.py with it"),
    Setting("METER_COLLECTION_INTERVAL", seconds, "300",
            "Seconds between asking charge points with a running transaction for MeterValues"),
    Setting("HEARTBEAT_CHECK_INTERVAL", seconds, "60", "Seconds between checks for silent charge points"),
    Setting("HEARTBEAT_GRACE_FACTOR", positive_number, "2.5",
            "A charge point silent for this many heartbeat intervals is marked offline"),
    Setting("OFFLINE_CHECK_INTERVAL", seconds, "60", "Seconds between checks of transactions of offline charge points"),
    Setting("OFFLINE_TRANSACTION_TIMEOUT", seconds, "3600",
            "Seconds offline after which a running transaction is flagged"),
    Setting("OFFLINE_TRANSACTION_CLOSE_AFTER", seconds, "86400",
            "Seconds offline after which a running transaction is closed at its last known meter reading"),
    Setting("BACKUP_INTERVAL", seconds, "86400", "Seconds between database backups"),
    Setting("BACKUP_KEEP", integer(1), "7", "Backups kept (the oldest beyond are deleted)"),
    Setting("BACKUP_DIR", text, "backups", "Directory of the backups"),
    # Security
    Setting("OCPP_SECURITY_PROFILE", integer(0, 3), "0",
            "Default OCPP security profile of charge points: 0 none, 1 Basic auth, 2 TLS + Basic auth, 3 mutual TLS"),
    Setting("OCPP_CLIENT_CA_FILE", text, None,
            "CA certificate(s) that sign charge point client certificates (security profile 3)"),
    Setting("OCPP_CSR_CA_CERT_FILE", text, None,
            "CA certificate (PEM) with which the central system signs the CSRs of SignCertificate; with "
            "OCPP_CSR_CA_KEY_FILE. Without both, CSRs are stored for an external CA"),
    Setting("OCPP_CSR_CA_KEY_FILE", text, None, "The private key (PEM, unencrypted) of OCPP_CSR_CA_CERT_FILE"),
    Setting("OCPP_UNKNOWN_CHARGE_POINTS", choice("accept", "pending", "reject"), "accept",
            "A charge point not registered yet: accept (registered and Accepted at boot), pending (registered, "
            "Pending until an operator accepts it) or reject (refused at the handshake)"),
    Setting("API_KEYS", text, "",
            "Comma-separated API keys; with these or keys made by `flask api-key create`, /api needs "
            "Authorization: Bearer <key>"),
    Setting("OCPP_RATE_LIMIT", positive_number, "20",
            "CALLs per second a charge point may send (bursts of 5x allowed); beyond, CALLERROR, and the "
            "connection is closed if it goes on"),
    Setting("OCPP_HANDSHAKE_TIMEOUT", integer(1, 300), "10",
            "Seconds a client has to send its HTTP request (the WebSocket handshake)"),
    Setting("SECRET_KEY", text, None,
            "Key that signs the console's session cookies; without it, one made once and kept in the database"),
    Setting("OCPP_ADMISSION_BACKLOG", integer(0), "5000",
            "Handshakes in progress plus messages waiting for their commit beyond which (with more than "
            "OCPP_ADMISSION_WAIT seconds of them) a new connection gets 503 with Retry-After; messages waiting "
            "for their commit beyond which (likewise) a BootNotification gets Pending (never a charge point "
            "with a running transaction)"),
    Setting("OCPP_ADMISSION_WAIT", integer(0, 3600), "10",
            "Seconds of backlog, at the rates the process has been getting through it, beyond which (with more "
            "than OCPP_ADMISSION_BACKLOG in it) the server sheds load"),
    Setting("OCPP_ADMISSION_RETRY", integer(1, 3600), "10",
            "Shortest Retry-After of a handshake refused by admission control (each is given the next slot at "
            "the rate the process serves handshakes); a Pending BootNotification's interval is drawn between "
            "this and twice this"),
    Setting("API_MAX_BODY", integer(1024), "1048576", "Largest API request body in bytes"),
    Setting("DB_SQLITE_SYNCHRONOUS", choice("NORMAL", "FULL"), "NORMAL",
            "SQLite synchronous mode under WAL: NORMAL survives a crash of the server, FULL also "
            "a power loss, at a third of the write rate"),
)


class Config:
    """The settings as attributes (Flask reads the upper-case ones), plus the derived database ones."""

    TESTING = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    def __init__(self, environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        for setting in SETTINGS:
            setattr(self, setting.name, setting.read(environ))
        self.SQLALCHEMY_DATABASE_URI = self._database_uri()
        self.DATABASE_KIND = "sqlite" if self.SQLALCHEMY_DATABASE_URI.startswith("sqlite") else "postgres"
        self.SQLALCHEMY_ENGINE_OPTIONS = self._engine_options()
        self.DATA_TRANSFER_VENDORS = frozenset(
            vendor.strip() for vendor in self.OCPP_DATA_TRANSFER_VENDORS.split(",") if vendor.strip())
        self.CONFIGURED_API_KEYS = tuple(key.strip() for key in self.API_KEYS.split(",") if key.strip())
        self.MAX_CONTENT_LENGTH = self.API_MAX_BODY
        self._check_tls_files()
        self._check_signing_ca()

    def _check_tls_files(self) -> None:
        profile = self.OCPP_SECURITY_PROFILE
        if profile == 3 and not (self.OCPP_USE_TLS and self.OCPP_CLIENT_CA_FILE):
            raise ConfigError("OCPP_SECURITY_PROFILE=3: mutual TLS needs OCPP_USE_TLS=true and OCPP_CLIENT_CA_FILE")
        if profile == 2 and not self.OCPP_USE_TLS and self.PORT is None:
            raise ConfigError("OCPP_SECURITY_PROFILE=2: needs TLS (OCPP_USE_TLS=true, or PORT behind a "
                              "TLS-terminating proxy)")
        if not self.OCPP_USE_TLS:
            return
        for name in ("OCPP_CERT_FILE", "OCPP_KEY_FILE") + (("OCPP_CLIENT_CA_FILE",) if self.OCPP_CLIENT_CA_FILE else ()):
            path = Path(getattr(self, name))
            try:
                path.read_bytes()
            except OSError as error:
                raise ConfigError(f"{name}={str(path)!r}: cannot read it ({error.strerror})") from None

    def _check_signing_ca(self) -> None:
        """Both CA settings or neither; the files readable, a certificate and the key that matches it."""
        cert_file, key_file = self.OCPP_CSR_CA_CERT_FILE, self.OCPP_CSR_CA_KEY_FILE
        if cert_file is None and key_file is None:
            return
        if cert_file is None or key_file is None:
            missing = "OCPP_CSR_CA_CERT_FILE" if cert_file is None else "OCPP_CSR_CA_KEY_FILE"
            raise ConfigError(f"{missing}: needed too (the built-in CA takes a certificate and its key)")
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        contents = {}
        for name, path in (("OCPP_CSR_CA_CERT_FILE", cert_file), ("OCPP_CSR_CA_KEY_FILE", key_file)):
            try:
                contents[name] = Path(path).read_bytes()
            except OSError as error:
                raise ConfigError(f"{name}={path!r}: cannot read it ({error.strerror})") from None
        try:
            certificate = x509.load_pem_x509_certificate(contents["OCPP_CSR_CA_CERT_FILE"])
        except ValueError:
            raise ConfigError(f"OCPP_CSR_CA_CERT_FILE={cert_file!r}: not a PEM certificate") from None
        try:
            key = serialization.load_pem_private_key(contents["OCPP_CSR_CA_KEY_FILE"], password=None)
        except (ValueError, TypeError):
            raise ConfigError(f"OCPP_CSR_CA_KEY_FILE={key_file!r}: not an unencrypted PEM private key") from None
        if key.public_key() != certificate.public_key():
            raise ConfigError(f"OCPP_CSR_CA_KEY_FILE={key_file!r}: not the key of OCPP_CSR_CA_CERT_FILE")

    def _database_uri(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        if self.DB_TYPE == "sqlite":
            path = Path(self.DB_SQLITE_PATH).expanduser().resolve()
            return f"sqlite:///{path}"
        url = URL.create("postgresql+psycopg2", username=self.DB_USER, password=self.DB_PASSWORD,
                         host=self.DB_HOST, port=self.DB_PORT, database=self.DB_NAME,
                         query={"sslmode": self.DB_SSL_MODE})
        return url.render_as_string(hide_password=False)

    def _engine_options(self) -> dict:
        if self.DATABASE_KIND == "sqlite":
            # One connection per process: SQLite serialises writers anyway, and under gevent a second
            # connection waiting on SQLite's busy lock would block the only OS thread.
            return {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30,
                    "connect_args": {"timeout": 10}}
        # A fixed pool: under gevent a burst of charge points waits its turn for a connection instead of
        # opening overflow connections that are closed again at once. No pre-ping (a round trip more per
        # message): a connection found dead invalidates the pool, and the message gets InternalError.
        # executemany of an UPDATE in pages (psycopg2's execute_batch), not a round trip per row: the jobs
        # update many charge points at once. (The group commit, app/group_commit.py, sends each of its
        # batches as one query string of its own.)
        # Timeouts and TCP keepalive, so that a server that hangs or a network that drops packets fails
        # the statements waiting on it instead of holding them (app/database.py bounds the server's waits
        # and sets statement_timeout there: a migration may take longer).
        connect_args = {"connect_timeout": max(1, round(self.DB_CONNECT_TIMEOUT)), "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
                        "tcp_user_timeout": round((self.DB_STATEMENT_TIMEOUT + 5) * 1000)}
        return {"pool_size": self.DB_POOL_SIZE, "max_overflow": 0, "pool_timeout": 30, "pool_recycle": 1800,
                "pool_use_lifo": True, "executemany_mode": "values_plus_batch", "connect_args": connect_args}

    @property
    def serves_both_on_one_port(self) -> bool:
        return self.PORT is not None or self.OCPP_WEBSOCKET_PORT == self.OCPP_API_PORT


def redacted_url(url: str) -> str:
    """The URL with its password hidden, for logs and the status API."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    query = [(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def load_config_or_exit(environ: Mapping[str, str] | None = None) -> Config:
    """Config from the environment; on a bad value, print one line naming it and exit."""
    try:
        return Config(environ)
    except ConfigError as error:
        sys.stderr.write(f"configuration error: {error}\n")
        raise SystemExit(2) from None
