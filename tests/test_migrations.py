"""The migrations create exactly what the models describe, on SQLite and PostgreSQL, and undo it."""
import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import create_app
from app.extensions import db
from config import Config
from tests.conftest import BACKENDS
from tests.servers import ScratchDatabase, require_backend


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
