"""What the central system answers for an idTag (idTagInfo), from the id_tags table."""
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from ocpp.v16.enums import AuthorizationStatus
from sqlalchemy import select

from app.extensions import db
from app.models import IdTag, Transaction
from app.timeutil import utcnow


@dataclass(frozen=True)
class IdTagVerdict:
    status: AuthorizationStatus
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.accepted


def verdict(id_tag: str, *, check_concurrent: bool = True,
            ignore_transaction_id: int | None = None, now: datetime | None = None) -> IdTagVerdict:
    """The idTagInfo for id_tag.

    Unknown tags are Invalid; a stored Blocked/Expired/Invalid status stands; an Accepted tag past its
    expiryDate is Expired; an Accepted tag already in a running transaction (other than
    ignore_transaction_id), or with OCPP_CONCURRENT_TX_PER_GROUP one whose group (parentIdTag) is, is
    ConcurrentTx when check_concurrent is set.
    """
    tag = db.session.get(IdTag, id_tag)
    if tag is None:
        return IdTagVerdict(AuthorizationStatus.invalid)
    status = AuthorizationStatus(tag.status)
    if status == AuthorizationStatus.accepted:
        if tag.expiry_date is not None and tag.expiry_date <= (now or utcnow()):
            status = AuthorizationStatus.expired
        elif check_concurrent and _in_running_transaction(_tags_sharing_transactions(tag), ignore_transaction_id):
            status = AuthorizationStatus.concurrent_tx
    return IdTagVerdict(status, tag.expiry_date, tag.parent_id_tag)


def for_authorize(id_tag: str) -> IdTagVerdict:
    """The idTagInfo of Authorize: the tag's own status (Accepted, Blocked, Expired, Invalid) with its
    parentIdTag, never ConcurrentTx. OCPP 1.6 (7.2) says ConcurrentTx is "only relevant for a
    StartTransaction.req"; and a charge point asks Authorize when a card of the same group
    (parentIdTag) is presented to stop a running session, which ConcurrentTx would refuse."""
    return verdict(id_tag, check_concurrent=False)


def _tags_sharing_transactions(tag: IdTag) -> list[str]:
    """The tag, and with OCPP_CONCURRENT_TX_PER_GROUP the other tags of its parentIdTag group."""
    if not (current_app.config["OCPP_CONCURRENT_TX_PER_GROUP"] and tag.parent_id_tag):
        return [tag.id_tag]
    group = db.session.scalars(select(IdTag.id_tag).where(IdTag.parent_id_tag == tag.parent_id_tag))
    return [*group, tag.parent_id_tag]


def _in_running_transaction(id_tags: list[str], ignore_transaction_id: int | None) -> bool:
    query = select(Transaction.id).where(Transaction.id_tag.in_(id_tags), Transaction.stop_timestamp.is_(None))
    if ignore_transaction_id is not None:
        query = query.where(Transaction.id != ignore_transaction_id)
    return db.session.scalar(query.limit(1)) is not None
