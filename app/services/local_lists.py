"""Local authorization lists (SendLocalList, GetLocalListVersion), kept from the idTag table.

For each charge point the central system remembers the list version it holds and the entries of that
version: a Differential update sends exactly what changed since (new or changed tags with their
idTagInfo, removed tags without), a Full update everything. A charge point that reports another
version, or answers VersionMismatch, gets a Full update.

Where the charge point's last known configuration gives SendLocalListMaxLength, an update longer than
that goes in several messages: the first Full (or Differential) one, then Differential ones, each
raising the version; what an accepted message applied is remembered at once, so that a failure half
way leaves the central system knowing what the charge point holds.
A list longer than its LocalAuthListMaxLength is refused before anything is sent.
"""
from flask import current_app
from gevent.pool import Pool
from ocpp.v16 import call
from ocpp.v16.enums import Action, UpdateStatus, UpdateType
from sqlalchemy import delete, select

from app.extensions import db
from app.models import IdTag, LocalListEntry
from app.services import charge_points, commands, configuration, system_log
from app.services.commands import CommandOutcome
from app.services.connections import connections
from app.services.errors import Conflict, ServiceError
from app.spec.datatypes import isoformat, parse_timestamp
from app.spec.failures import CommandFailed, NotConnected

Entry = tuple[str, object, str | None]  # (status, expiryDate, parentIdTag)
SYNC_SIDE_BY_SIDE = 20  # charge points synced at once by sync_connected


def wanted() -> dict[str, Entry]:
    """The list every charge point should hold: every idTag with its status (Blocked ones too, so that
    a charge point offline refuses them)."""
    return {tag.id_tag: (tag.status, _as_sent(tag.expiry_date), tag.parent_id_tag)
            for tag in db.session.scalars(select(IdTag).order_by(IdTag.id_tag))}


def _as_sent(moment):
    """A moment as a SendLocalList carries it (milliseconds), and as held() reads it back: compared at
    a finer precision, a tag whose expiry has microseconds would differ from what the charge point
    holds at every sync, and be sent again each time."""
    return parse_timestamp(isoformat(moment)) if moment is not None else None


def held(charge_point_id: str) -> dict[str, Entry]:
    return {entry.id_tag: (entry.status, entry.expiry_date, entry.parent_id_tag)
            for entry in db.session.scalars(select(LocalListEntry).where(LocalListEntry.charge_point_id == charge_point_id))}


def _authorization_data(id_tag: str, entry: Entry | None) -> dict:
    """An AuthorizationData; without idTagInfo it removes the tag (in a Differential update)."""
    if entry is None:
        return {"id_tag": id_tag}
    status, expiry_date, parent_id_tag = entry
    return {"id_tag": id_tag, "id_tag_info": {"status": status, "expiry_date": isoformat(expiry_date),
                                              "parent_id_tag": parent_id_tag or None}}


def _entries(request: call.SendLocalList) -> list[tuple[str, Entry | None]]:
    """What a SendLocalList applies, by idTag (None: removed); the reverse of _authorization_data."""
    def entry(info: dict | None) -> Entry | None:
        if info is None:
            return None
        expiry_date = info.get("expiry_date")
        return info["status"], parse_timestamp(expiry_date) if expiry_date else None, info.get("parent_id_tag")
    return [(data["id_tag"], entry(data.get("id_tag_info"))) for data in request.local_authorization_list or []]


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[tuple[str, Entry | None]]:
    """What turns `before` into `after`: new or changed tags with their entry, removed ones with None."""
    added_or_changed = [(tag, entry) for tag, entry in after.items() if before.get(tag) != entry]
    removed = [(tag, None) for tag in before if tag not in after]
    return added_or_changed + removed


def _in_messages(updates: list, per_message: int | None) -> list[list]:
    """The updates split as the charge point takes them; a Full update of nothing is one empty message."""
    if not per_message or len(updates) <= per_message:
        return [updates]
    return [updates[start:start + per_message] for start in range(0, len(updates), per_message)]


def sync(charge_point_id: str, update_type: str | None = None) -> CommandOutcome:
    """Bring the charge point's local list up to date: Differential where its version is known, Full
    otherwise or when asked (update_type "Full")."""
    charge_point = charge_points.require(charge_point_id)
    version, target = charge_point.local_list_version, wanted()
    full = update_type == UpdateType.full or version is None
    _check_capacity(charge_point_id, len(target))
    updates = list(target.items()) if full else changes(held(charge_point_id), target)
    if not updates and not full:
        return CommandOutcome(Action.send_local_list, charge_point_id, True,
                              f"the local list of {charge_point_id} (version {version}) is up to date", {})
    messages = _in_messages(updates, configuration.positive_integer(charge_point_id, "SendLocalListMaxLength"))
    for number, part in enumerate(messages):
        version = (version or 0) + 1
        kind = UpdateType.full if full and number == 0 else UpdateType.differential
        outcome = send_local_list(charge_point_id, call.SendLocalList(
            list_version=version, update_type=kind,
            local_authorization_list=[_authorization_data(tag, entry) for tag, entry in part]))
        if outcome.status == UpdateStatus.version_mismatch and kind == UpdateType.differential and number == 0:
            return sync(charge_point_id, UpdateType.full)
        if outcome.status != UpdateStatus.accepted:
            break
    progress = f", message {number + 1} of {len(messages)}" if len(messages) > 1 else ""
    outcome.message += f" ({'Full' if full else 'Differential'} update to version {version}, {len(updates)} entries{progress})"
    return outcome


@commands.recorded_by(Action.send_local_list)
def send_local_list(charge_point_id: str, request: call.SendLocalList) -> CommandOutcome:
    """One SendLocalList; what an accepted one applied is remembered at once, with its version.

    The recorded-command policy (commands.send_recorded) for a record that is the charge point's list:
    not sent (not connected), nothing changes; sent but no valid answer, the charge point may or may
    not hold the new version, so the version it holds becomes unknown and the next sync is Full."""
    try:
        outcome = commands.send(charge_point_id, request)
    except NotConnected:
        raise
    except CommandFailed:
        _version_unknown(charge_point_id)
        raise
    if outcome.status == UpdateStatus.accepted:
        _remember(charge_point_id, request.list_version, _entries(request),
                  full=request.update_type == UpdateType.full)
    return outcome


def _version_unknown(charge_point_id: str) -> None:
    charge_points.require(charge_point_id).local_list_version = None
    db.session.commit()


def _check_capacity(charge_point_id: str, size: int) -> None:
    """A list longer than the charge point holds would be answered Failed: say why before sending."""
    capacity = configuration.positive_integer(charge_point_id, "LocalAuthListMaxLength")
    if capacity is not None and size > capacity:
        raise Conflict(f"the local list has {size} idTags and {charge_point_id} holds at most {capacity} "
                       f"(LocalAuthListMaxLength)", {"entries": size, "localAuthListMaxLength": capacity})


def _remember(charge_point_id: str, version: int, part: list[tuple[str, Entry | None]], full: bool) -> None:
    """The charge point accepted `part` as `version`: a Full update replaces what it held."""
    forget = delete(LocalListEntry).where(LocalListEntry.charge_point_id == charge_point_id)
    if not full:
        forget = forget.where(LocalListEntry.id_tag.in_([tag for tag, _ in part]))
    db.session.execute(forget)
    db.session.add_all(LocalListEntry(charge_point_id=charge_point_id, id_tag=tag, status=entry[0], expiry_date=entry[1],
                                      parent_id_tag=entry[2]) for tag, entry in part if entry is not None)
    charge_points.require(charge_point_id).local_list_version = version
    db.session.commit()


def get_version(charge_point_id: str) -> CommandOutcome:
    """Ask the charge point its list version; one that is not ours makes the next sync Full."""
    return get_local_list_version(charge_point_id, call.GetLocalListVersion())


@commands.recorded_by(Action.get_local_list_version)
def get_local_list_version(charge_point_id: str, request: call.GetLocalListVersion) -> CommandOutcome:
    ours = charge_points.require(charge_point_id).local_list_version
    outcome = commands.send(charge_point_id, request)
    reported = outcome.response.list_version
    if reported != (ours or 0):
        _version_unknown(charge_point_id)
        system_log.warning("local_list_version", f"the charge point holds local list version {reported}, the "
                           f"central system sent {ours}: the next sync is a Full update", charge_point_id=charge_point_id)
    return outcome


def sync_connected(update_type: str | None = None) -> list[tuple[str, CommandOutcome | CommandFailed | ServiceError]]:
    """sync() each connected charge point, SYNC_SIDE_BY_SIDE at a time (one after the other, a thousand
    charge points would outlast any HTTP timeout); the outcome or failure of each, by charge point id."""
    app = current_app._get_current_object()

    def sync_one(charge_point_id: str):
        with app.app_context():  # a session of its own: sessions are per app context
            try:
                return charge_point_id, sync(charge_point_id, update_type)
            except (CommandFailed, ServiceError) as failure:  # one charge point's failure does not stop the others
                db.session.rollback()
                return charge_point_id, failure

    charge_point_ids = sorted(connections().connected_ids())
    db.session.close()
    return list(Pool(SYNC_SIDE_BY_SIDE).imap(sync_one, charge_point_ids))
