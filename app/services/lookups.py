"""The lookups every service repeats: a row by its key or NotFound (404), and a page of a listing."""
from sqlalchemy import Select, select

from app.extensions import db
from app.models import ChargePoint
from app.services.errors import NotFound
from app.spec.datatypes import is_int32


def require(model, key, what: str, field: str):
    """The row of `model` with primary key `key`; raises NotFound naming it ("transaction 7 is not
    known", details {field: key}). An integer key beyond the spec's int32 names no row."""
    row = None if isinstance(key, int) and not is_int32(key) else db.session.get(model, key)
    if row is None:
        raise NotFound(f"{what} {key} is not known", {field: key})
    return row


def newest(model, limit: int | None, offset: int = 0, **equal) -> list:
    """A page of `model`'s rows, newest (highest id) first, whose columns equal the values given
    (a None value filters nothing)."""
    return page(matching(select(model).order_by(model.id.desc()), model, **equal), limit, offset)


def matching(query: Select, model, **equal) -> Select:
    """The query narrowed to the rows whose columns equal the values given (a None value filters nothing)."""
    for column, value in equal.items():
        if value is not None:
            query = query.where(getattr(model, column) == value)
    return query


def charge_point(charge_point_id: str) -> ChargePoint:
    """The charge point; raises NotFound. Here, below charge_points, so that the outbound port
    (commands), which charge_points' own imports reach, can look one up without a circle."""
    return require(ChargePoint, charge_point_id, "charge point", "chargePointId")


def page(query: Select, limit: int | None, offset: int = 0) -> list:
    """The rows of `query` from `offset`, at most `limit` (all where None)."""
    return list(db.session.scalars(query.limit(limit).offset(offset)))
