"""The overview: the fleet at a glance."""
from flask import render_template

from app.console.blueprint import bp
from app.services import fleet


@bp.get("/")
def overview():
    return render_template("overview.html", totals=fleet.totals(), energy=fleet.energy_by_day(30),
                           warnings=fleet.latest_warnings())
