"""What the console's templates may call: units, times (shown in the browser's zone by console.js), the
CSRF token, the role checks."""
from datetime import datetime

from flask import Flask, url_for
from markupsafe import Markup, escape

from app.console import auth
from app.services import users
from app.spec.datatypes import isoformat


def kwh(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:,.{digits}f} kWh"


def kw_from_w(value) -> str:
    return "–" if value is None else f"{value / 1000:,.2f} kW"


def wh_as_kwh(value) -> str:
    return "–" if value is None else f"{value / 1000:,.3f} kWh"


def moment(value: datetime | None, relative: bool = False) -> Markup:
    """A <time> that console.js rewrites in the browser's time zone (UTC, ISO 8601, without script)."""
    if value is None:
        return Markup("<span class=\"muted\">never</span>")
    text = isoformat(value)
    kind = " data-relative" if relative else ""
    return Markup(f'<time datetime="{escape(text)}"{kind}>{escape(text.replace("T", " ")[:19])} UTC</time>')


def page_url(endpoint: str, args, **changes) -> str:
    """The URL of this list with some query arguments changed (paging, sorting), the others kept."""
    merged = {key: value for key, value in args.items() if value not in ("", None)}
    merged.update({key: value for key, value in changes.items()})
    return url_for(endpoint, **{key: value for key, value in merged.items() if value not in ("", None)})


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(kwh=kwh, kw=kw_from_w, wh_as_kwh=wh_as_kwh, moment=moment)
    app.jinja_env.globals.update(csrf_token=auth.csrf_token, may=auth.may, page_url=page_url,
                                 ADMIN=users.ADMIN, OPERATOR=users.OPERATOR, VIEWER=users.VIEWER)
