"""Authorize, and the idTagInfo that Authorize, StartTransaction and StopTransaction answer."""
from ocpp.v16 import call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action

from app.ocpp.router import router
from app.services import authorization
from app.services.authorization import IdTagVerdict
from app.spec.datatypes import isoformat


def id_tag_info(verdict: IdTagVerdict) -> IdTagInfo:
    return IdTagInfo(status=verdict.status, parent_id_tag=verdict.parent_id_tag,
                     expiry_date=isoformat(verdict.expiry_date))


@router.on(Action.authorize)
def on_authorize(charge_point_id, id_tag, **_):
    return call_result.Authorize(id_tag_info=id_tag_info(authorization.for_authorize(id_tag)))
