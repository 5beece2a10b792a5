"""idTags and local list sync, reservations, charging profiles, firmware and diagnostics, the system log,
and the accounts (admin)."""
from flask import abort, flash, g, redirect, render_template, request, url_for

from app.console import forms
from app.console.auth import requires
from app.console.blueprint import bp
from app.errors import failure_answer
from app.schemas import STORABLE_ID_TAG_STATUSES, IdTagBody, LocalListSyncBody
from app.services import fleet, id_tags, local_lists, reservations, smart_charging, system_log, users
from app.services.errors import ServiceError
from app.spec.datatypes import parse_timestamp
from app.spec.failures import CommandFailed

ID_TAG_STATUSES = [str(status) for status in STORABLE_ID_TAG_STATUSES]
ID_TAGS_PAGE = 100


def _tags() -> fleet.Page:
    return fleet.search_id_tags(request.args.get("q", "").strip()[:20], ID_TAGS_PAGE, _offset())


# --- idTags ---

@bp.get("/id-tags")
def id_tag_list():
    return render_template("id_tags.html", tags=_tags(), statuses=ID_TAG_STATUSES, form_errors={},
                           form_values={}, editing=None, sync=None)


@bp.get("/id-tags/<id_tag>")
def id_tag_page(id_tag):
    tag = id_tags.require(id_tag)
    return render_template("id_tags.html", tags=_tags(), statuses=ID_TAG_STATUSES, form_errors={},
                           form_values={}, editing=tag, sync=None)


@bp.post("/id-tags")
@requires(users.OPERATOR)
def save_id_tag():
    body, errors = forms.load(IdTagBody(), request.form)
    if errors:
        return render_template("id_tags.html", tags=_tags(), statuses=ID_TAG_STATUSES, form_errors=errors,
                               form_values=request.form, editing=None, sync=None), 400
    _, created = id_tags.save(body["id_tag"], body["status"], body["expiry_date"], body["parent_id_tag"])
    flash(f"idTag {body['id_tag']} {'created' if created else 'saved'}.")
    return redirect(url_for("console.id_tag_list"))


@bp.post("/id-tags/<id_tag>/block")
@requires(users.OPERATOR)
def block_id_tag(id_tag):
    tag = id_tags.require(id_tag)
    id_tags.save(tag.id_tag, "Blocked", tag.expiry_date, tag.parent_id_tag)
    flash(f"idTag {id_tag} blocked.")
    return redirect(url_for("console.id_tag_list"))


@bp.post("/id-tags/<id_tag>/delete")
@requires(users.OPERATOR)
def delete_id_tag(id_tag):
    id_tags.delete(id_tag)
    flash(f"idTag {id_tag} deleted.")
    return redirect(url_for("console.id_tag_list"))


@bp.post("/local-lists/sync")
@requires(users.OPERATOR)
def sync_local_lists():
    body, errors = forms.load(LocalListSyncBody(), request.form)
    if errors:
        return render_template("id_tags.html", tags=_tags(), statuses=ID_TAG_STATUSES,
                               form_errors={"sync": errors}, form_values=request.form, editing=None, sync=None), 400
    if "charge_point_id" in body:
        try:
            outcomes = [(body["charge_point_id"], local_lists.sync(body["charge_point_id"], body.get("update_type")))]
        except (ServiceError, CommandFailed) as failure:
            outcomes = [(body["charge_point_id"], failure)]
    else:
        outcomes = local_lists.sync_connected(body.get("update_type"))
    results = [(charge_point_id, outcome.message if not isinstance(outcome, Exception)
                else failure_answer(outcome)[0]["message"], not isinstance(outcome, Exception) and outcome.success)
               for charge_point_id, outcome in outcomes]
    return render_template("id_tags.html", tags=_tags(), statuses=ID_TAG_STATUSES, form_errors={},
                           form_values={}, editing=None, sync=results)


# --- reservations, charging profiles, firmware and diagnostics ---

def _offset() -> int:
    raw = request.args.get("offset", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


def _charge_point_filter() -> str | None:
    return request.args.get("chargePointId", "").strip()[:48] or None


@bp.get("/reservations")
def reservation_list():
    return render_template("reservations.html", rows=reservations.listing(_charge_point_filter(), limit=100,
                                                                          offset=_offset()))


@bp.get("/charging-profiles")
def charging_profile_list():
    return render_template("charging_profiles.html", rows=smart_charging.listing(_charge_point_filter(), limit=100,
                                                                                 offset=_offset()))


@bp.get("/file-transfers")
def file_transfer_list():
    return render_template("file_transfers.html", rows=fleet.file_transfer_requests(_charge_point_filter(), 100,
                                                                                    _offset()))


# --- the system log ---

def _time(name: str):
    try:
        return parse_timestamp(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/logs")
def log_page():
    level = request.args.get("level") if request.args.get("level") in system_log.LEVELS else None
    wanted = fleet.LogFilter(level=level, charge_point_id=_charge_point_filter(),
                             event=request.args.get("event", "").strip()[:48] or None,
                             since=_time("since"), until=_time("until"))
    return render_template("logs.html", rows=fleet.search_log(wanted, 100, _offset()), wanted=wanted,
                           levels=system_log.LEVELS, offset=_offset())


# --- accounts ---

@bp.get("/accounts")
@requires(users.ADMIN)
def account_list():
    return render_template("accounts.html", accounts=users.listing(), roles=users.ROLES, form_errors={},
                           form_values={})


@bp.post("/accounts")
@requires(users.ADMIN)
def create_account():
    try:
        users.create(request.form.get("name", "").strip(), request.form.get("role", ""),
                     request.form.get("password", ""))
    except ServiceError as refusal:
        return render_template("accounts.html", accounts=users.listing(), roles=users.ROLES,
                               form_errors=refusal.details, form_values=request.form), 400
    flash(f"Account {request.form['name'].strip()} created.")
    return redirect(url_for("console.account_list"))


@bp.post("/accounts/<int:user_id>")
@requires(users.ADMIN)
def change_account(user_id):
    if request.form.get("delete"):
        if user_id == g.user.id:
            abort(409, description="You cannot delete your own account while signed in with it.")
        flash(f"Account {users.delete(user_id)} deleted.")
        return redirect(url_for("console.account_list"))
    try:
        users.change(user_id, role=request.form.get("role") or None, password=request.form.get("password") or None)
    except ServiceError as refusal:
        return render_template("accounts.html", accounts=users.listing(), roles=users.ROLES,
                               form_errors=refusal.details, form_values=request.form), 400
    flash("Account saved.")
    return redirect(url_for("console.account_list"))
