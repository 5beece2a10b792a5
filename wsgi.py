"""WSGI entry point (gunicorn, flask CLI): gevent's patching first, before anything imports socket."""
from gevent import monkey

monkey.patch_all()

from psycogreen.gevent import patch_psycopg  # noqa: E402

patch_psycopg()  # psycopg2 waits on PostgreSQL through gevent instead of blocking the process

from app import create_app  # noqa: E402

app = create_app()
