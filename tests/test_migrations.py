"""The migrations create exactly what the models describe, on SQLite and PostgreSQL, and undo it."""
import subprocess
import sys

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import create_app
from app.extensions import db
from config import Config
from tests.conftest import BACKENDS
from tests.servers import ROOT, ScratchDatabase, require_backend, server_environment


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path):
    require_backend(request.param)
    database = ScratchDatabase(request.param, tmp_path, migrated=False)
    yield database
    database.drop()


def test_upgrade_matches_the_models_and_downgrade_undoes_it(empty_database):
    app = create_app(Config({"DATABASE_URL": empty_database.url}))
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert differences == []
        flask_migrate.downgrade(revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
        db.engine.dispose()


def test_the_server_imports_alembic_only_when_migrations_are_used(tmp_path):
    """Flask-Migrate and alembic are a tenth of a second of every worker's start-up, which only `flask db`
    and migrations/env.py need: they are imported when app.extensions["migrate"] is first read."""
    script = ("import sys, wsgi\n"
              "from app.extensions import db\n"
              "before = 'alembic' in sys.modules or 'flask_migrate' in sys.modules\n"
              "with wsgi.app.app_context():\n"
              "    print(before, wsgi.app.extensions['migrate'].db is db, 'alembic' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=server_environment(f"sqlite:///{tmp_path / 'x.db'}"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True"]
