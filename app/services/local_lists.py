"""Local authorization lists (SendLocalList, GetLocalListVersion), kept from the idTag table.

For each charge point the central system remembers the list version it holds and the entries of that
version: a Differential update sends exactly what changed since (new or changed tags with their
idTagInfo, removed tags without), a Full update everything. A charge point that reports another
version, or answers VersionMismatch, gets a Full update.
"""
from ocpp.v16.enums import Action, UpdateStatus, UpdateType
from sqlalchemy import delete, select

from app.extensions import db
from app.models import IdTag, LocalListEntry
from app.ocpp.failures import CommandFailed
from app.services import charge_points, commands, system_log
from app.services.commands import CommandOutcome
from app.services.connections import connections
from app.services.errors import ServiceError
from app.timeutil import isoformat

Entry = tuple[str, object, str | None]  # (status, expiryDate, parentIdTag)


def wanted() -> dict[str, Entry]:
    """The list every charge point should hold: every idTag with its status (Blocked ones too, so that
    a charge point offline refuses them)."""
    return {tag.id_tag: (tag.status, tag.expiry_date, tag.parent_id_tag)
            for tag in db.session.scalars(select(IdTag).order_by(IdTag.id_tag))}


def held(charge_point_id: str) -> dict[str, Entry]:
    return {entry.id_tag: (entry.status, entry.expiry_date, entry.parent_id_tag)
            for entry in db.session.scalars(select(LocalListEntry).where(LocalListEntry.charge_point_id == charge_point_id))}


def _authorization_data(id_tag: str, entry: Entry | None) -> dict:
    """An AuthorizationData; without idTagInfo it removes the tag (in a Differential update)."""
    if entry is None:
        return {"idTag": id_tag}
    status, expiry_date, parent_id_tag = entry
    info = {"status": status}
    if expiry_date is not None:
        info["expiryDate"] = isoformat(expiry_date)
    if parent_id_tag:
        info["parentIdTag"] = parent_id_tag
    return {"idTag": id_tag, "idTagInfo": info}


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[dict]:
    added_or_changed = [_authorization_data(tag, entry) for tag, entry in after.items() if before.get(tag) != entry]
    removed = [_authorization_data(tag, None) for tag in before if tag not in after]
    return added_or_changed + removed


def sync(charge_point_id: str, update_type: str | None = None) -> CommandOutcome:
    """Bring the charge point's local list up to date: Differential where its version is known, Full
    otherwise or when asked (update_type "Full")."""
    charge_point = charge_points.require(charge_point_id)
    version, target = charge_point.local_list_version, wanted()
    full = update_type == UpdateType.full or version is None
    entries = [_authorization_data(tag, entry) for tag, entry in target.items()] if full \
        else changes(held(charge_point_id), target)
    if not full and not entries:
        return CommandOutcome(Action.send_local_list, charge_point_id, True,
                              f"the local list of {charge_point_id} (version {version}) is up to date", {})
    new_version = (version or 0) + 1
    outcome = commands.send(charge_point_id, Action.send_local_list, {
        "listVersion": new_version, "updateType": UpdateType.full if full else UpdateType.differential,
        "localAuthorizationList": entries})
    status = outcome.reply["status"]
    if status == UpdateStatus.accepted:
        _remember(charge_point_id, new_version, target)
    elif status == UpdateStatus.version_mismatch and not full:
        return sync(charge_point_id, UpdateType.full)
    outcome.message += f" ({'Full' if full else 'Differential'} update to version {new_version}, {len(entries)} entries)"
    return outcome


def _remember(charge_point_id: str, version: int, entries: dict[str, Entry]) -> None:
    db.session.execute(delete(LocalListEntry).where(LocalListEntry.charge_point_id == charge_point_id))
    db.session.add_all(LocalListEntry(charge_point_id=charge_point_id, id_tag=tag, status=status, expiry_date=expiry,
                                      parent_id_tag=parent) for tag, (status, expiry, parent) in entries.items())
    charge_points.require(charge_point_id).local_list_version = version
    db.session.commit()


def get_version(charge_point_id: str) -> CommandOutcome:
    """Ask the charge point its list version; one that is not ours makes the next sync Full."""
    charge_point = charge_points.require(charge_point_id)
    ours = charge_point.local_list_version
    outcome = commands.send(charge_point_id, Action.get_local_list_version, {})
    reported = outcome.reply["listVersion"]
    if reported != (ours or 0):
        charge_points.require(charge_point_id).local_list_version = None
        db.session.commit()
        system_log.warning("local_list_version", f"the charge point holds local list version {reported}, the "
                           f"central system sent {ours}: the next sync is a Full update", charge_point_id=charge_point_id)
    return outcome


def sync_connected(update_type: str | None = None) -> list[tuple[str, CommandOutcome | CommandFailed | ServiceError]]:
    """sync() each connected charge point, one after the other; the outcome or failure of each."""
    results = []
    for charge_point_id in sorted(connections().connected_ids()):
        try:
            results.append((charge_point_id, sync(charge_point_id, update_type)))
        except (CommandFailed, ServiceError) as failure:  # one charge point's failure does not stop the others
            db.session.rollback()
            results.append((charge_point_id, failure))
    return results
