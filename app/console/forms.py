"""Forms validated by the API's own marshmallow schemas: the text a form posts becomes the JSON the API
would take (numbers, lists, times in the browser's zone), and the schema's field errors go back next to
the fields they name."""
import re
from datetime import timedelta, timezone

from marshmallow import Schema, ValidationError, fields

from app.schemas import Timestamp

WHOLE_NUMBER = re.compile(r"[+-]?\d{1,15}")
NAIVE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
TIME_ZONE_FIELD = "tzOffset"  # minutes behind UTC, as the browser's Date.getTimezoneOffset() says


def _browser_zone(form) -> timezone:
    raw = form.get(TIME_ZONE_FIELD, "")
    minutes = int(raw) if WHOLE_NUMBER.fullmatch(raw) and abs(int(raw)) <= 14 * 60 else 0
    return timezone(-timedelta(minutes=minutes))


def _value(field: fields.Field, raw: str, zone: timezone):
    if isinstance(field, fields.Integer) and WHOLE_NUMBER.fullmatch(raw):
        return int(raw)
    if isinstance(field, fields.Float):
        try:
            return float(raw)
        except ValueError:
            return raw
    if isinstance(field, fields.Boolean):
        return raw.lower() in ("on", "true", "1", "yes")
    if isinstance(field, fields.List):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(field, Timestamp) and NAIVE_TIME.fullmatch(raw):
        offset = zone.utcoffset(None)
        sign, offset = ("-", -offset) if offset < timedelta(0) else ("+", offset)
        hours, minutes = divmod(int(offset.total_seconds()) // 60, 60)
        return f"{raw}{sign}{hours:02d}:{minutes:02d}"
    return raw


def load(schema: Schema, form, **given) -> tuple[dict | None, dict[str, list[str]]]:
    """(the loaded body, {}) or (None, field errors by the form's field name). Empty fields are absent."""
    zone = _browser_zone(form)
    data = {}
    for name, field in schema.fields.items():
        key = field.data_key or name
        raw = form.get(key)
        if raw is None or not raw.strip() or field.dump_only:
            continue
        data[key] = _value(field, raw.strip(), zone)
    data.update(given)
    try:
        return schema.load(data), {}
    except ValidationError as error:
        return None, _flat(error.messages)


def load_nested(schema: Schema, data: dict) -> tuple[dict | None, dict[str, list[str]]]:
    """For a form whose flat fields the view has put in the schema's nested shape: the errors come back
    by the innermost field's name, the name of the form's field."""
    try:
        return schema.load(data), {}
    except ValidationError as error:
        return None, _by_leaf(error.messages)


def whole_number_or_text(raw: str | None):
    raw = (raw or "").strip()
    return int(raw) if WHOLE_NUMBER.fullmatch(raw) else raw


def number_or_text(raw: str | None):
    try:
        return float(raw)
    except (TypeError, ValueError):
        return (raw or "").strip()


def _by_leaf(messages, found=None) -> dict[str, list[str]]:
    found = {} if found is None else found
    for key, problems in (messages.items() if isinstance(messages, dict) else [("_schema", messages)]):
        if isinstance(problems, dict):
            _by_leaf(problems, found)
        else:
            found.setdefault(str(key), []).extend(map(str, problems if isinstance(problems, list) else [problems]))
    return found


def _flat(messages) -> dict[str, list[str]]:
    if not isinstance(messages, dict):
        return {"_schema": [str(messages)]}
    flat = {}
    for key, problems in messages.items():
        if isinstance(problems, dict):
            problems = [f"{inner}: {' '.join(map(str, text)) if isinstance(text, list) else text}"
                        for inner, text in problems.items()]
        flat[key] = [str(problem) for problem in problems] if isinstance(problems, list) else [str(problems)]
    return flat
