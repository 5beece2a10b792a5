"""The idTag table that Authorize and StartTransaction check: listed, created, updated, deleted."""
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import IdTag
from app.services import lookups, system_log


def listing() -> list[IdTag]:
    return list(db.session.scalars(select(IdTag).order_by(IdTag.id_tag)))


def require(id_tag: str) -> IdTag:
    return lookups.require(IdTag, id_tag, "idTag", "idTag")


def save(id_tag: str, status: str, expiry_date: datetime | None, parent_id_tag: str | None) -> tuple[IdTag, bool]:
    """Create the idTag or replace its status, expiryDate and parentIdTag; True when it was created."""
    tag = db.session.get(IdTag, id_tag)
    created = tag is None
    if created:
        tag = IdTag(id_tag=id_tag)
        db.session.add(tag)
    tag.status, tag.expiry_date, tag.parent_id_tag = status, expiry_date, parent_id_tag
    db.session.commit()
    system_log.info("id_tag_saved", f"idTag {id_tag} {'created' if created else 'updated'}: {status}",
                    details={"idTag": id_tag, "status": status})
    return tag, created


def delete(id_tag: str) -> None:
    db.session.delete(require(id_tag))
    db.session.commit()
    system_log.info("id_tag_deleted", f"idTag {id_tag} deleted", details={"idTag": id_tag})
