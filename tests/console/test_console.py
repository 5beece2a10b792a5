"""The operator console in a real browser: sign in, watch a charge point live, drive it, read its
transaction's chart, and the refusals (role, bad value, missing CSRF token, /api without a key)."""
import csv
import io
import re
from urllib.parse import quote

import httpx
import pytest
from ocpp.v16 import call
from playwright.async_api import expect

from tests.charge_points import connected, eventually, new_id, timestamp
from tests.console.conftest import API_KEY, PASSWORD
from tests.servers import start_server

expect.set_options(timeout=10_000)
# One event loop for the module: the browser (a session fixture) lives in it. The console's tests stay in
# this one file, which pytest-xdist runs in one process (--dist loadfile): one browser, and one console
# server on Redis, whose pub/sub channel every database number shares (another's pages would see its events).
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def boot(charge_point, connectors=(1,), status="Available"):
    await charge_point.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Console One"))
    for connector_id in connectors:
        await charge_point.call(call.StatusNotification(connector_id=connector_id, error_code="NoError",
                                                        status=status, timestamp=timestamp()))


async def status(charge_point, connector_id, value):
    await charge_point.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status=value,
                                                    timestamp=timestamp()))


async def mark_page(page):
    """A mark that a reload would erase: what follows happens without one. Waits for the page's event
    stream first."""
    await expect(page.locator("html[data-live=on]")).to_have_count(1)
    await page.evaluate("window.__notReloaded = true")


async def still_same_page(page) -> bool:
    return await page.evaluate("window.__notReloaded === true")


async def test_sign_in_refused_with_a_wrong_password_then_accepted(browser, console_server):
    # The server started on a database without accounts and said how to make the first.
    assert "No console account yet: make the first with `.venv/bin/flask --app wsgi user create" in console_server.log()
    context = await browser.new_context(base_url=console_server.api_url)
    page = await context.new_page()
    await page.goto("/charge-points")
    assert "/sign-in" in page.url  # not signed in: sent to sign in first
    await page.fill("input[name=name]", "otto")
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    await expect(page.locator("#sign-in-error")).to_contain_text("not right")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/charge-points$"))
    await expect(page.locator("h1")).to_have_text("Charge points")
    cookie = next(c for c in await context.cookies() if c["name"] == "ocpp_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    await context.close()
    # Behind a TLS proxy (its X-Forwarded-Proto trusted, as gunicorn trusts 127.0.0.1) the cookie is Secure.
    async with httpx.AsyncClient(base_url=console_server.api_url) as client:
        plain = await client.get("/sign-in")
        client.cookies.clear()
        proxied = await client.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "; secure" in proxied.headers["set-cookie"].lower()


async def test_a_charge_point_connects_and_starts_charging_live(sign_in, console_server, artefacts):
    page = await sign_in("otto")
    charge_point_id = new_id("LIVE")
    await page.goto(f"/charge-points?q={charge_point_id}")
    await expect(page.locator(".empty")).to_contain_text("No charge point matches")
    await expect(page.locator("html[data-live=on]")).to_have_count(1)
    await mark_page(page)
    async with connected(console_server, charge_point_id) as charge_point:
        await boot(charge_point, connectors=(1, 2))
        row = page.locator(f"[data-charge-point-row='{charge_point_id}']")
        await expect(row.locator(f"[data-connection='{charge_point_id}']")).to_have_text("connected")
        await expect(row.locator(f"[data-connector='{charge_point_id}/1']")).to_contain_text("Available")
        await status(charge_point, 1, "Charging")
        await expect(row.locator(f"[data-connector='{charge_point_id}/1']")).to_contain_text("Charging")
        await expect(row.locator(f"[data-connector='{charge_point_id}/2']")).to_contain_text("Available")
        assert await still_same_page(page)
        await page.screenshot(path=artefacts / f"charge-points-{console_server.database.kind}.png", full_page=True)
    await expect(row.locator(f"[data-connection='{charge_point_id}']")).to_have_text("offline")
    assert await still_same_page(page)


async def test_remote_start_chart_and_remote_stop(sign_in, console_server, artefacts):
    page = await sign_in("otto")
    overview = await sign_in("ada")  # a second page, the overview, follows the same events
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        await page.goto(f"/charge-points/{charge_point.id}")
        await mark_page(page)
        start = page.locator("#command-remote-start")
        await start.locator("input[name=idTag]").fill("CONSOLE-TAG")
        await start.locator("input[name=connectorId]").fill("1")
        await start.locator("button[type=submit]").click()
        await expect(page.locator("#command-answer")).to_contain_text("Remote start")
        answer = page.locator("#command-answer pre")
        await expect(answer).to_contain_text('"status": "Accepted"')
        assert await answer.get_attribute("data-answer-status") == "200"
        assert charge_point.received[-1] == ("RemoteStartTransaction", {"id_tag": "CONSOLE-TAG", "connector_id": 1})

        await mark_page(page)
        await overview.goto("/")
        await expect(overview.locator("html[data-live=on]")).to_have_count(1)
        running_before = int((await overview.locator("[data-total=active_transactions]").inner_text()).replace(",", ""))
        transaction_id = await charge_point.start_transaction(1, "CONSOLE-TAG", meter_start=1000)
        await status(charge_point, 1, "Charging")
        await expect(page.locator(f"[data-running-transaction='{transaction_id}']")).to_be_visible()
        await expect(overview.locator("[data-total=active_transactions]")).to_have_text(str(running_before + 1))
        assert await still_same_page(page)
        await page.screenshot(path=artefacts / f"charge-point-{console_server.database.kind}.png", full_page=True)

        readings = [(-240, 1000, 0), (-180, 1450, 7.2), (-120, 2000, 7.4), (-60, 2600, 7.1), (-1, 3100, 6.8)]
        for offset, wh, kw in readings:
            await charge_point.call(call.MeterValues(connector_id=1, transaction_id=transaction_id, meter_value=[{
                "timestamp": timestamp(offset), "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": str(kw), "measurand": "Power.Active.Import", "unit": "kW"}]}]))
        await page.click(f"[data-running-transaction='{transaction_id}']")
        await page.wait_for_url(re.compile(fr"/transactions/{transaction_id}$"))
        chart = page.locator("#transaction-chart")
        await expect(chart.locator("canvas")).to_have_count(1)
        await expect(chart).to_have_attribute("data-drawn", str(2 * len(readings)))
        drawn = await page.evaluate("JSON.parse(document.getElementById('chart-data').textContent)")
        assert [point[1] for point in drawn["energy"]] == [wh / 1000 for _, wh, _ in readings]
        assert [point[1] for point in drawn["power"]] == [kw for _, _, kw in readings]
        await expect(page.locator("#energy-delivered")).to_have_text("2.100 kWh")
        await page.screenshot(path=artefacts / f"transaction-{console_server.database.kind}.png", full_page=True)

        await page.goto(f"/charge-points/{charge_point.id}")
        stop = page.locator("#command-remote-stop")
        await stop.locator("select[name=transactionId]").select_option(str(transaction_id))
        await stop.locator("button[type=submit]").click()
        await expect(page.locator("#command-answer pre")).to_contain_text(f'"transactionId": {transaction_id}')
        assert charge_point.received[-1] == ("RemoteStopTransaction", {"transaction_id": transaction_id})
        await page.goto(f"/transactions/{transaction_id}")
        await mark_page(page)
        await charge_point.call(call.StopTransaction(transaction_id=transaction_id, meter_stop=3200,
                                                     timestamp=timestamp(), reason="Remote"))
        await expect(page.locator("#transaction-state")).to_have_text("complete")
        await expect(page.locator("#energy-delivered")).to_have_text("2.200 kWh")
        assert await still_same_page(page)
        await expect(overview.locator("[data-total=active_transactions]")).to_have_text(str(running_before))
        await overview.screenshot(path=artefacts / f"overview-{console_server.database.kind}.png", full_page=True)


async def test_a_command_that_times_out_or_fails_is_answered_as_the_api_answers(sign_in, console_server):
    page = await sign_in("otto")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        charge_point.silent.add("ClearCache")
        await page.goto(f"/charge-points/{charge_point.id}")
        await page.locator("#command-clear-cache button[type=submit]").click()
        await expect(page.locator("#command-answer")).to_contain_text("HTTP 504 charge_point_timeout")
        await expect(page.locator("#command-answer pre")).to_contain_text('"timeoutSeconds": 3')


async def test_a_viewer_is_refused_a_command(sign_in, console_server):
    page = await sign_in("vera")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        await page.goto(f"/charge-points/{charge_point.id}")
        reset = page.locator("#command-reset button[type=submit]")
        await expect(reset).to_have_attribute("aria-disabled", "true")  # shown as unavailable, yet the server decides
        async with page.expect_response(lambda r: r.request.method == "POST") as answered:
            await reset.click(force=True)
        assert (await answered.value).status == 403
        await expect(page.locator("#error-message")).to_contain_text("may not do this")
        assert charge_point.received == []  # nothing reached the charge point


async def test_a_bad_value_shows_the_field_error_next_to_the_field(sign_in, console_server):
    page = await sign_in("otto")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        await page.goto(f"/charge-points/{charge_point.id}")
        unlock = page.locator("#command-unlock-connector")
        await unlock.locator("input[name=connectorId]").fill("<b>one</b>")
        await unlock.locator("button[type=submit]").click()
        unlock = page.locator("#command-unlock-connector")
        error = unlock.locator("label:has(input[name=connectorId]) [data-field-error=connectorId]")
        await expect(error).to_have_text("Not a valid integer.")
        assert await unlock.locator("input[name=connectorId]").input_value() == "<b>one</b>"  # kept, as text
        assert charge_point.received == []


async def test_a_form_without_its_csrf_token_is_refused(sign_in, console_server):
    page = await sign_in("otto")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        url = f"/charge-points/{charge_point.id}/commands/clear-cache"
        refused = await page.request.post(url, form={"chargePointId": charge_point.id})
        assert refused.status == 400
        assert "security token" in await refused.text()
        forged = await page.request.post(url, form={"csrf_token": "guessed"})
        assert forged.status == 400
        assert charge_point.received == []
        await page.goto(f"/charge-points/{charge_point.id}")
        token = await page.locator("#command-clear-cache input[name=csrf_token]").input_value()
        accepted = await page.request.post(url, form={"csrf_token": token})
        assert accepted.status == 200
        assert charge_point.received == [("ClearCache", {})]


async def test_the_csv_export_holds_the_rows_shown(sign_in, console_server):
    page = await sign_in("otto")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        for n in range(3):
            transaction_id = await charge_point.start_transaction(1, f"CSV-{n}", meter_start=100 * n)
            await charge_point.call(call.StopTransaction(transaction_id=transaction_id, meter_stop=100 * n + 1500,
                                                         timestamp=timestamp()))
        await charge_point.start_transaction(1, "CSV-RUNNING", meter_start=0)
        await page.goto(f"/transactions?chargePointId={charge_point.id}&state=complete")
        rows = page.locator("#transactions-table tbody tr")
        await expect(rows).to_have_count(3)
        shown = [await row.get_attribute("data-transaction-row") for row in await rows.all()]
        response = await page.request.get(await page.locator("#csv-export").get_attribute("href"))
        assert response.status == 200 and response.headers["content-type"].startswith("text/csv")
        exported = list(csv.DictReader(io.StringIO(await response.text())))
        assert [row["transactionId"] for row in exported] == shown
        assert {row["energyDeliveredKWh"] for row in exported} == {"1.5"}
        assert {row["chargePointId"] for row in exported} == {charge_point.id}


async def test_the_console_session_opens_no_door_to_the_api(sign_in, console_server):
    page = await sign_in("ada")
    refused = await page.request.get("/api/charge-points")
    assert refused.status == 401
    allowed = await page.request.get("/api/charge-points", headers={"Authorization": f"Bearer {API_KEY}"})
    assert allowed.status == 200


async def test_pages_send_a_policy_that_forbids_inline_script_and_escape_what_they_show(sign_in, console_server):
    page = await sign_in("ada")
    hostile = "<script>alert(1)</script>"
    response = await page.goto(f"/charge-points?q={hostile}")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert await page.locator("input[name=q]").input_value() == hostile[:48]
    assert await page.locator("script:not([src]):not([type='application/json'])").count() == 0
    missing = await page.goto("/charge-points/NO-SUCH-CHARGE-POINT")
    assert missing.status == 404
    await expect(page.locator("#error-message")).to_contain_text("NO-SUCH-CHARGE-POINT is not known")
    assert (await page.goto("/transactions/99999999999")).status == 404


async def test_sign_in_attempts_are_limited(browser, console_server):
    context = await browser.new_context(base_url=console_server.api_url)
    page = await context.new_page()
    name = new_id("nobody")
    statuses = []
    for _ in range(6):
        await page.goto("/sign-in")
        await page.fill("input[name=name]", name)
        await page.fill("input[name=password]", "wrong password")
        async with page.expect_response(lambda r: r.request.method == "POST") as answered:
            await page.click("button[type=submit]")
        statuses.append((await answered.value).status)
    assert statuses == [401] * 5 + [429]
    await expect(page.locator("#sign-in-error")).to_contain_text("Too many failed attempts")
    await context.close()


PAGES = ["/", "/charge-points", "/transactions", "/id-tags", "/reservations", "/charging-profiles",
         "/file-transfers", "/logs", "/accounts"]


async def test_every_page_renders_without_a_script_error(sign_in, console_server):
    page = await sign_in("ada")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    for path in PAGES:
        response = await page.goto(path)
        assert response.status == 200, path
        await expect(page.locator("h1")).to_be_visible()
    assert errors == []  # no script error, no CSP violation


async def test_charging_profile_and_reservation_forms(sign_in, console_server):
    page = await sign_in("otto")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        await page.goto(f"/charge-points/{charge_point.id}")
        form = page.locator("#command-set-charging-profile")
        await form.locator("input[name=connectorId]").fill("1")
        await form.locator("select[name=chargingProfilePurpose]").select_option("TxDefaultProfile")
        await form.locator("input[name=stackLevel]").fill("2")
        await form.locator("input[name=limit]").fill("lots")
        await form.locator("button[type=submit]").click()
        form = page.locator("#command-set-charging-profile")
        await expect(form.locator("label:has(input[name=limit]) [data-field-error=limit]")).to_have_text(
            "Not a valid number.")
        assert charge_point.received == []
        await form.locator("input[name=limit]").fill("16")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#command-answer pre")).to_contain_text('"status": "Accepted"')
        action, payload = charge_point.received[-1]
        assert action == "SetChargingProfile" and payload["connector_id"] == 1
        assert payload["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"] == [
            {"start_period": 0, "limit": 16.0}]

        await page.goto("/reservations")
        await page.click("summary:has-text('Reserve now')")
        await page.fill("form[action$='/commands/reserve-now'] input[name=chargePointId]", charge_point.id)
        await page.fill("form[action$='/commands/reserve-now'] input[name=connectorId]", "1")
        await page.fill("form[action$='/commands/reserve-now'] input[name=idTag]", "RESERVER")
        await page.fill("form[action$='/commands/reserve-now'] input[name=expiryDate]", "2099-01-01T10:30")
        await page.click("form[action$='/commands/reserve-now'] button[type=submit]")
        await expect(page.locator("#command-answer pre")).to_contain_text('"status": "Accepted"')
        action, payload = charge_point.received[-1]
        offset = await page.evaluate("new Date(2099, 0, 1, 10, 30).getTimezoneOffset()")
        assert action == "ReserveNow" and payload["id_tag"] == "RESERVER"
        assert payload["expiry_date"].startswith("2099-01-01T") and offset is not None  # the browser's zone, sent as UTC
        await page.goto(f"/reservations?chargePointId={charge_point.id}")
        await expect(page.locator("table.list tbody tr")).to_have_count(1)
        await page.goto(f"/charging-profiles?chargePointId={charge_point.id}")
        await expect(page.locator("table.list tbody tr")).to_contain_text("Accepted")


async def test_id_tags_and_the_live_system_log(sign_in, console_server):
    page = await sign_in("otto")
    tail = await sign_in("vera")
    tag = new_id("T")[:20]
    await tail.goto("/logs?event=id_tag_saved")
    await mark_page(tail)
    await page.goto("/id-tags")
    form = page.locator("#id-tag-form")
    await form.locator("input[name=idTag]").fill(tag + "-much-too-long-for-ocpp")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#id-tag-form [data-field-error=idTag]")).to_have_text("Length must be between 1 and 20.")
    await page.locator("#id-tag-form input[name=idTag]").fill(tag)
    await page.locator("#id-tag-form button[type=submit]").click()
    await expect(page.locator("p.notice")).to_contain_text(f"idTag {tag} created")
    await expect(tail.locator("[data-log-tail] li").first).to_contain_text(f"idTag {tag} created")
    assert await still_same_page(tail)
    row = page.locator("tr", has=page.locator(f"code:text-is('{tag}')"))
    await row.locator("button:has-text('Block')").click()
    row = page.locator("tr", has=page.locator(f"code:text-is('{tag}')"))
    await expect(row.locator(".badge")).to_have_text("Blocked")
    await row.locator("button:has-text('Delete')").click()
    await expect(page.locator(f"code:text-is('{tag}')")).to_have_count(0)
    await tail.goto("/logs?event=console_action")
    await expect(tail.locator("[data-log-tail] li").first).to_contain_text("otto (operator): POST")


HOSTILE = ["", "-1", "99999999999999999999", "NaN", "<script>x</script>", "ü" * 600, "\x00", "2026-13-45T99:99"]


async def test_nothing_typed_gives_a_server_error(sign_in, console_server):
    page = await sign_in("ada")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        charge_point.silent.update({"Reset", "ClearCache"})  # answers are beside the point; keep it quick
        await page.goto(f"/charge-points/{charge_point.id}")
        token = await page.locator("input[name=csrf_token]").first.input_value()
        fields = ["idTag", "connectorId", "transactionId", "type", "requestedMessage", "keys", "key", "value",
                  "vendorId", "messageId", "data", "updateType", "expiryDate", "reservationId", "id", "location",
                  "retrieveDate", "limit", "stackLevel", "duration", "chargingRateUnit", "chargingProfilePurpose",
                  "chargingProfileKind", "tzOffset"]
        names = await page.eval_on_selector_all("form.command", "forms => forms.map(f => f.getAttribute('id').replace('command-', ''))")
        statuses = {}
        for name in names:
            if name in ("reset", "clear-cache"):
                continue
            for value in HOSTILE:
                response = await page.request.post(f"/charge-points/{charge_point.id}/commands/{name}",
                                                   form={"csrf_token": token, **{field: value for field in fields}})
                statuses[(name, value)] = response.status
        for path, form in [("/id-tags", {"idTag": "", "status": "", "expiryDate": "", "parentIdTag": ""}),
                           ("/local-lists/sync", {"chargePointId": "", "updateType": ""}),
                           ("/charge-points", {"id": "", "registrationStatus": "", "securityProfile": "", "password": ""}),
                           (f"/charge-points/{charge_point.id}/settings", {"securityProfile": "", "validationMode": ""}),
                           ("/transactions/1/close", {"finalEnergy": "", "reason": "", "confirm": ""}),
                           ("/accounts", {"name": "", "role": "", "password": ""})]:
            for value in HOSTILE:
                response = await page.request.post(path, form={"csrf_token": token, **{key: value for key in form}})
                statuses[(path, value)] = response.status
        for path in ["/charge-points?q={v}&status={v}&connection={v}&offset={v}", "/transactions?chargePointId={v}"
                     "&idTag={v}&since={v}&until={v}&state={v}&offset={v}", "/logs?level={v}&since={v}&until={v}&event={v}",
                     "/transactions.csv?since={v}", "/reports/energy.csv?startDate={v}&endDate={v}", "/id-tags/{v}",
                     "/charge-points/{v}", "/transactions/{v}"]:
            for value in HOSTILE:
                if value == "\x00":
                    continue  # refused before any lookup (tested with the API)
                response = await page.request.get(path.format(v=quote(value, safe="")))
                statuses[(path, value)] = response.status
    server_errors = {key: status for key, status in statuses.items() if status >= 500 and status not in (502, 504)}
    assert server_errors == {}
    assert sum(1 for status in statuses.values() if status == 400) > 60  # the bad values were refused as such


async def test_an_admin_registers_a_charge_point_and_makes_an_account(sign_in, console_server):
    page = await sign_in("ada")
    charge_point_id = new_id("REG")
    await page.goto("/charge-points")
    await page.click("summary:has-text('Register a charge point')")
    await page.fill("#register-form input[name=id]", charge_point_id)
    await page.fill("#register-form input[name=password]", "short")
    await page.click("#register-form button[type=submit]")
    await expect(page.locator("[data-field-error=password]")).to_have_text("Length must be between 16 and 40.")
    await page.fill("#register-form input[name=id]", charge_point_id)
    await page.fill("#register-form input[name=securityProfile]", "1")
    await page.fill("#register-form input[name=password]", "a-password-of-24-letters")
    await page.click("#register-form button[type=submit]")
    await page.wait_for_url(re.compile(fr"/charge-points/{charge_point_id}$"))
    await expect(page.locator("#cp-head")).to_contain_text("password set")
    registered = console_server.database.rows("SELECT security_profile, password_hash FROM charge_points WHERE id = :id",
                                              id=charge_point_id)
    assert registered[0]["security_profile"] == 1 and registered[0]["password_hash"].startswith("scrypt:")

    name = new_id("op")
    await page.goto("/accounts")
    await page.fill("#account-form input[name=name]", name)
    await page.select_option("#account-form select[name=role]", "operator")
    await page.fill("#account-form input[name=password]", "seven77")
    await page.click("#account-form button[type=submit]")
    await expect(page.locator("[data-field-error=password]")).to_have_text("at least 8 characters")
    await page.fill("#account-form input[name=name]", name)
    await page.fill("#account-form input[name=password]", "eight888")
    await page.click("#account-form button[type=submit]")
    await expect(page.locator("p.notice")).to_have_text(f"Account {name} created.")
    assert console_server.database.scalar("SELECT role FROM users WHERE name = :name", name=name) == "operator"


async def test_closing_a_transaction_needs_a_confirmation_and_the_energy_report_lists_it(sign_in, console_server):
    page = await sign_in("otto")
    async with connected(console_server) as charge_point:
        await boot(charge_point)
        transaction_id = await charge_point.start_transaction(1, "CLOSE-ME", meter_start=500)
    await page.goto(f"/transactions/{transaction_id}")
    await page.click("summary:has-text('Close this transaction')")
    await page.fill("#close-form input[name=finalEnergy]", "2.5")
    await page.click("#close-form button[type=submit]")
    await expect(page.locator("[data-field-error=confirm]")).to_have_text("Tick the box to confirm.")
    assert console_server.database.scalar("SELECT stop_timestamp FROM transactions WHERE id = :id",
                                          id=transaction_id) is None
    await page.check("#close-form input[name=confirm]")
    await page.fill("#close-form input[name=finalEnergy]", "2.5")
    await page.click("#close-form button[type=submit]")
    await expect(page.locator("#transaction-state")).to_have_text("complete")
    await expect(page.locator("#transaction-head")).to_contain_text("the central system")
    row = console_server.database.rows("SELECT meter_stop, stopped_by FROM transactions WHERE id = :id",
                                       id=transaction_id)[0]
    assert (row["meter_stop"], row["stopped_by"]) == (3000, "CentralSystem")
    today = await page.evaluate("new Date().toISOString().slice(0, 10)")
    report = await page.request.get(f"/reports/energy.csv?startDate={today}&endDate={today}")
    lines = list(csv.DictReader(io.StringIO(await report.text())))
    mine = [line for line in lines if line["transactionId"] == str(transaction_id)]
    assert len(mine) == 1 and mine[0]["energyDeliveredKWh"] == "2.5" and mine[0]["stoppedBy"] == "CentralSystem"
    bad = await page.request.get(f"/reports/energy.csv?startDate={today}&endDate=2000-01-01")
    assert bad.status == 400 and "endDate" in await bad.text()


@pytest.mark.parametrize("console_server", ["postgres"], indirect=True)
async def test_a_page_sees_a_charge_point_held_by_another_server(sign_in, console_server, tmp_path):
    """Two servers on one database and one Redis, as two hosts behind a load balancer: the page is served
    by one, the charge point connects to the other, and the events reach the page over Redis."""
    settings = {key: console_server.environment[key] for key in ("REDIS_URL", "API_KEYS", "BACKGROUND_JOBS")}
    other = start_server(console_server.database, tmp_path, **settings)
    try:
        page = await sign_in("otto")
        charge_point_id = new_id("ELSEWHERE")
        await page.goto(f"/charge-points?q={charge_point_id}")
        await mark_page(page)
        async with connected(other, charge_point_id) as charge_point:
            await boot(charge_point)
            row = page.locator(f"[data-charge-point-row='{charge_point_id}']")
            await expect(row.locator(f"[data-connection='{charge_point_id}']")).to_have_text("connected")
            await status(charge_point, 1, "Charging")
            await expect(row.locator(f"[data-connector='{charge_point_id}/1']")).to_contain_text("Charging")
            assert await still_same_page(page)
            await page.goto(f"/charge-points/{charge_point_id}")  # a command from this server reaches it there
            await page.locator("#command-clear-cache button[type=submit]").click()
            await expect(page.locator("#command-answer pre")).to_contain_text('"status": "Accepted"')
            assert charge_point.received == [("ClearCache", {})]
    finally:
        other.stop()
