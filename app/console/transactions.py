"""Transactions: the filtered list and its CSV, one transaction with its energy and power over time, the
administrator's close, and the energy report's CSV."""
import csv
import io
from datetime import date

from flask import Response, flash, g, redirect, render_template, request, stream_with_context, url_for

from app.console import forms
from app.console.auth import requires
from app.console.blueprint import bp
from app.schemas import CloseTransactionBody, EnergyReportQuery
from app.services import charging, fleet, meter_values, reports, users
from app.services.errors import ServiceError
from app.spec.datatypes import isoformat

PAGE_SIZE = 50
CSV_COLUMNS = ["transactionId", "chargePointId", "connectorId", "idTag", "idTagStatus", "startTimestamp",
               "stopTimestamp", "meterStart", "meterStop", "energyDeliveredKWh", "stopReason", "stoppedBy",
               "offlineFlaggedAt"]


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _wanted() -> fleet.TransactionFilter:
    return fleet.TransactionFilter(
        charge_point_id=request.args.get("chargePointId", "").strip()[:48] or None,
        id_tag=request.args.get("idTag", "").strip()[:20] or None,
        since=_day("since"), until=_day("until"),
        state=request.args.get("state") if request.args.get("state") in ("running", "complete") else None,
        offline_flagged=request.args.get("offlineFlagged") == "on")


@bp.get("/transactions")
def transaction_list():
    raw = request.args.get("offset", "")
    offset = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    wanted = _wanted()
    return render_template("transactions.html", page=fleet.search_transactions(wanted, PAGE_SIZE, offset),
                           wanted=wanted)


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(["" if value is None else value for value in values])
    return out.getvalue()


def _transaction_row(transaction: dict) -> list:
    return [transaction["transaction_id"], transaction["charge_point_id"], transaction["connector_id"],
            transaction["id_tag"], transaction["id_tag_status"], isoformat(transaction["start_timestamp"]),
            isoformat(transaction["stop_timestamp"]), transaction["meter_start"], transaction["meter_stop"],
            transaction["energy_delivered"], transaction["stop_reason"], transaction["stopped_by"],
            isoformat(transaction["offline_flagged_at"])]


def _csv_response(lines, filename: str) -> Response:
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/transactions.csv")
def transactions_csv():
    wanted = _wanted()

    def lines():
        yield _csv_line(CSV_COLUMNS)
        for batch in fleet.transactions_in_batches(wanted):
            yield "".join(_csv_line(_transaction_row(transaction)) for transaction in batch)
    return _csv_response(lines(), "transactions.csv")


@bp.get("/reports/energy.csv")
def energy_report_csv():
    query, errors = forms.load(EnergyReportQuery(), request.args)
    if errors:
        return render_template("error.html", title="Not valid", message="The energy report needs "
                               + "; ".join(f"{key}: {' '.join(text)}" for key, text in errors.items())), 400
    report = reports.energy_report(query["start_date"], query["end_date"])

    def lines():
        yield _csv_line(CSV_COLUMNS[:-1])
        for transaction in report["transactions"]:
            yield _csv_line(_transaction_row({**transaction, "is_complete": transaction["complete"]})[:-1])
        yield _csv_line(["total", "", "", "", "", "", "", "", "", report["total_energy_delivered"]])
    return _csv_response(lines(), f"energy-{query['start_date']}-{query['end_date']}.csv")


def chart_series(samples) -> dict:
    """Energy (kWh, from the register) and power (kW) over time, as the chart draws them."""
    energy, power = [], []
    for sample in samples:
        if sample.phase:
            continue
        at = sample.timestamp.timestamp()
        if sample.measurand == meter_values.ENERGY_REGISTER:
            wh = meter_values.energy_register_wh(sample)
            if wh is not None:
                energy.append([at, round(wh / 1000, 3)])
        elif sample.measurand == meter_values.POWER:
            watts = meter_values.power_w(sample)
            if watts is not None:
                power.append([at, round(watts / 1000, 3)])
    return {"energy": energy, "power": power}


@bp.get("/transactions/<int:transaction_id>")
def transaction_page(transaction_id):
    return _render_transaction(transaction_id)


def _render_transaction(transaction_id: int, status: int = 200, errors: dict | None = None):
    transaction = charging.details(transaction_id)
    samples = meter_values.of_transaction(transaction_id)
    return render_template("transaction.html", t=transaction, samples=samples[-200:], sample_count=len(samples),
                           chart=chart_series(samples), form_errors=errors or {}), status


@bp.post("/transactions/<int:transaction_id>/close")
@requires(users.OPERATOR)
def close_transaction(transaction_id):
    charging.require(transaction_id)
    body, errors = forms.load(CloseTransactionBody(), request.form, transactionId=transaction_id)
    if not errors and request.form.get("confirm") != "yes":
        errors = {"confirm": ["Tick the box to confirm."]}
    if errors:
        return _render_transaction(transaction_id, 400, errors)
    try:
        charging.close_by_administrator(transaction_id, body["reason"], f"console account {g.user.name}",
                                        body.get("final_energy"))
    except ServiceError as refusal:
        return _render_transaction(transaction_id, 409, {"confirm": [refusal.message]})
    flash(f"Transaction {transaction_id} closed.")
    return redirect(url_for("console.transaction_page", transaction_id=transaction_id))
