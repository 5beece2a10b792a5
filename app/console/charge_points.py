"""Charge points: the list (searched, filtered, paged in the database), one charge point's page, and the
commands sent from it, each answered on the page as the API answers it."""
from flask import abort, flash, redirect, render_template, request, url_for
from ocpp.v16.enums import (AvailabilityType, ChargePointStatus, ChargingProfileKindType, ChargingProfilePurposeType,
                            ChargingRateUnitType, MessageTrigger, RegistrationStatus, ResetType, UpdateType)

from app.command_table import COMMANDS
from app.console import forms
from app.console.auth import requires
from app.console.blueprint import bp
from app.errors import failure_answer
from app.schemas import ChargePointRegistrationBody, ChargePointSettingsBody, PasswordBody
from app.services import charge_points, configuration, file_transfers, fleet, logs, reservations, smart_charging, users
from app.services.errors import ServiceError
from app.spec.failures import CommandFailed

PAGE_SIZE = 50
STATUSES = [status.value for status in ChargePointStatus]


def charging_profile_body(form, charge_point_id: str) -> dict:
    """SetChargingProfile from a one-period form: a limit from now on (or for a duration)."""
    period = {"startPeriod": 0, "limit": forms.number_or_text(form.get("limit"))}
    schedule = {"chargingRateUnit": form.get("chargingRateUnit", ""), "chargingSchedulePeriod": [period]}
    if form.get("duration", "").strip():
        schedule["duration"] = forms.whole_number_or_text(form["duration"])
    profile = {"stackLevel": forms.whole_number_or_text(form.get("stackLevel")),
               "chargingProfilePurpose": form.get("chargingProfilePurpose", ""),
               "chargingProfileKind": form.get("chargingProfileKind", ""), "chargingSchedule": schedule}
    return {"chargePointId": charge_point_id, "connectorId": forms.whole_number_or_text(form.get("connectorId")),
            "csChargingProfiles": profile}


# The commands this page has a form for (app/command_table.py says how each is sent, for the API too),
# and how the form of a nested body is put in its schema's shape (errors come back by the form's names).
FORMS = ("remote-start", "remote-stop", "reset", "unlock-connector", "change-availability", "trigger-message",
         "get-configuration", "change-configuration", "clear-cache", "data-transfer", "send-local-list",
         "get-local-list-version", "reserve-now", "cancel-reservation", "set-charging-profile",
         "clear-charging-profile", "update-firmware", "get-diagnostics")
SHAPES = {"set-charging-profile": charging_profile_body}

CHOICES = {
    "purposes": [purpose.value for purpose in ChargingProfilePurposeType],
    "kinds": [kind.value for kind in ChargingProfileKindType],
    "rate_units": [unit.value for unit in ChargingRateUnitType],
    "reset_types": [kind.value for kind in ResetType],
    "availability_types": [kind.value for kind in AvailabilityType],
    "messages": [message.value for message in MessageTrigger],
    "update_types": [kind.value for kind in UpdateType],
    "registration_statuses": [status.value for status in RegistrationStatus],
}


def _whole_number(name: str, default: int, lowest: int = 0, highest: int = 10**9) -> int:
    raw = request.args.get(name, "")
    return min(max(int(raw), lowest), highest) if raw.isdigit() and len(raw) < 10 else default


@bp.get("/charge-points")
def charge_point_list():
    text = request.args.get("q", "").strip()[:48]
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    connection = request.args.get("connection") if request.args.get("connection") in (fleet.CONNECTED,
                                                                                      fleet.DISCONNECTED) else None
    offset = _whole_number("offset", 0)
    page = fleet.search_charge_points(text, status, connection, PAGE_SIZE, offset)
    return render_template("charge_points.html", page=page, q=text, status=status, connection=connection,
                           statuses=STATUSES, registration_statuses=CHOICES["registration_statuses"],
                           form_errors={}, form_values={})


@bp.get("/charge-points/<charge_point_id>")
def charge_point_page(charge_point_id):
    return _render_page(charge_point_id)


def _render_page(charge_point_id: str, status: int = 200, **panel):
    details = charge_points.details(charge_point_id)
    return render_template(
        "charge_point.html", cp=details, commands=COMMANDS, choices=CHOICES,
        configuration=configuration.last_known(charge_point_id),
        running=[connector for connector in details["connectors"] if connector["current_transaction_id"]],
        recent=fleet.search_transactions(fleet.TransactionFilter(charge_point_id=charge_point_id), 10).rows,
        log=logs.find(charge_point_id, limit=15),
        reservations=reservations.listing(charge_point_id, limit=10),
        profiles=smart_charging.listing(charge_point_id, limit=10),
        file_transfers=file_transfers.history(charge_point_id),
        id_tags=fleet.id_tag_names(),
        form_errors=panel.get("form_errors", {}), form_values=panel.get("form_values", {}),
        answer=panel.get("answer")), status


@bp.post("/charge-points/<charge_point_id>/commands/<name>")
@requires(users.OPERATOR)
def send_command(charge_point_id, name):
    if name not in FORMS:
        abort(404)
    command = COMMANDS[name]
    charge_points.require(charge_point_id)
    if name in SHAPES:
        body, errors = forms.load_nested(command.body_schema(), SHAPES[name](request.form, charge_point_id))
    else:
        body, errors = forms.load(command.body_schema(), request.form, chargePointId=charge_point_id)
    if errors:
        return _render_page(charge_point_id, 400, form_errors={name: errors}, form_values={name: request.form})
    try:
        outcome = command.run(body)
        answer = {"status": 200, "body": command.result_schema().dump(outcome)}
    except (ServiceError, CommandFailed) as failure:
        body, status = failure_answer(failure)
        answer = {"status": status, "body": body}
    return _render_page(charge_point_id, answer={"command": command.label, **answer})


@bp.post("/commands/<name>")
@requires(users.OPERATOR)
def send_command_to(name):
    """The forms of the list pages (reservations, profiles, firmware): the charge point is a field; the
    answer is that charge point's page, as from its own forms."""
    charge_point_id = request.form.get("chargePointId", "").strip()
    if not charge_point_id:
        abort(400, description="Name the charge point (chargePointId).")
    return send_command(charge_point_id=charge_point_id, name=name)


@bp.post("/charge-points")
@requires(users.ADMIN)
def register_charge_point():
    body, errors = forms.load(ChargePointRegistrationBody(), request.form)
    if not errors:
        try:
            charge_points.register(body["id"], body["registration_status"], body.get("security_profile"),
                                   body.get("validation_mode"), body.get("password"))
            flash(f"Charge point {body['id']} registered.")
            return redirect(url_for("console.charge_point_page", charge_point_id=body["id"]))
        except ServiceError as refusal:
            errors = {"id": [refusal.message]}
    page = fleet.search_charge_points(limit=PAGE_SIZE)
    return render_template("charge_points.html", page=page, q="", status=None, connection=None, statuses=STATUSES,
                           registration_statuses=CHOICES["registration_statuses"], form_errors=errors,
                           form_values=request.form), 400


@bp.post("/charge-points/<charge_point_id>/settings")
@requires(users.ADMIN)
def change_charge_point(charge_point_id):
    charge_points.require(charge_point_id)
    form = {key: value for key, value in request.form.items() if value != "default"}
    body, errors = forms.load(ChargePointSettingsBody(), form)
    if errors:
        return _render_page(charge_point_id, 400, form_errors={"settings": errors}, form_values={"settings": request.form})
    for key in ("securityProfile", "validationMode"):  # "default": back to the server's setting
        if request.form.get(key) == "default":
            body[{"securityProfile": "security_profile", "validationMode": "validation_mode"}[key]] = None
    charge_points.change(charge_point_id, **body)
    flash("Settings saved; they apply from the charge point's next connection.")
    return redirect(url_for("console.charge_point_page", charge_point_id=charge_point_id))


@bp.post("/charge-points/<charge_point_id>/password")
@requires(users.ADMIN)
def set_charge_point_password(charge_point_id):
    charge_points.require(charge_point_id)
    if request.form.get("remove"):
        charge_points.change_password(charge_point_id, None)
        flash("Password removed.")
        return redirect(url_for("console.charge_point_page", charge_point_id=charge_point_id))
    body, errors = forms.load(PasswordBody(), request.form)
    if errors:
        return _render_page(charge_point_id, 400, form_errors={"password": errors}, form_values={"password": {}})
    charge_points.change_password(charge_point_id, body["password"])
    flash("Password set.")
    return redirect(url_for("console.charge_point_page", charge_point_id=charge_point_id))


@bp.post("/charge-points/<charge_point_id>/delete")
@requires(users.ADMIN)
def delete_charge_point(charge_point_id):
    if request.form.get("confirm") != charge_point_id:
        return _render_page(charge_point_id, 400, form_errors={"delete": {"confirm": [
            "Type the charge point's id to confirm."]}}, form_values={"delete": request.form})
    try:
        charge_points.delete(charge_point_id, force=bool(request.form.get("force")))
    except ServiceError as refusal:
        return _render_page(charge_point_id, 409, form_errors={"delete": {"force": [refusal.message]}},
                            form_values={"delete": request.form})
    flash(f"Charge point {charge_point_id} deleted.")
    return redirect(url_for("console.charge_point_list"))
