"""Flask extensions, created unbound here and bound to the app in create_app()."""
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that migrations can alter them (SQLite's batch mode needs the names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def as_dict(self) -> dict:
        """The stored columns by attribute name: what the API schemas dump, with computed keys added."""
        return {column.key: getattr(self, column.key) for column in self.__mapper__.column_attrs}


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
sock = Sock()
