"""HTTP API of the caller's notifications (お知らせ) and mail settings, under
/api/auth/notifications (routed to the identity service like the rest of /api/auth)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from shared.auth import current_principal, require
from shared.openapi import operation
from shared.service import context
from shared.web import json_body
from services.identity import notifications
from services.identity.models import Account
from services.identity.schemas import (InboxResponseSchema, NotificationSettingsPutSchema,
                                       NotificationSettingsResponseSchema,
                                       ReadAllResponseSchema, UnreadResponseSchema)

bp = Blueprint("identity_notifications_api", __name__, url_prefix="/api/auth/notifications")


def own_account(session, account_id: int | None = None) -> Account:
    """The caller's account (the API's bearer, or ``account_id`` of a page's visitor)."""
    return notifications.account_of(session, account_id or current_principal().account_id)


@bp.get("")
@require()
@operation("自分へのお知らせ（新しい順）と未読の件数", responses={200: InboxResponseSchema})
def inbox():
    with context("identity").transaction() as session:
        return jsonify(notifications.inbox(session, current_principal().account_id))


@bp.get("/unread")
@require()
@operation("未読のお知らせの件数（ページの見出しに表示）", responses={200: UnreadResponseSchema})
def unread():
    with context("identity").reading() as session:
        return jsonify({"unread": notifications.unread_count(
            session, current_principal().account_id)})


@bp.record_once
def _register_counter(state) -> None:
    """This process runs identity: page headers count unread notices in-process."""
    from shared.pages import UNREAD_COUNTER

    services = state.app.extensions["nws.services"]

    def count(account_id: int) -> int:
        with services["identity"].reading() as session:   # every page render: no write lock
            return notifications.unread_count(session, account_id)

    state.app.extensions[UNREAD_COUNTER] = count


@bp.post("/<int:notification_id>/read")
@require()
@operation("お知らせを 1 件既読にする", responses={204: None})
def read_one(notification_id: int):
    with context("identity").transaction() as session:
        notifications.mark_read(session, current_principal().account_id, notification_id)
    return "", 204


@bp.post("/read-all")
@require()
@operation("お知らせをすべて既読にする", responses={200: ReadAllResponseSchema})
def read_all():
    with context("identity").transaction() as session:
        marked = notifications.mark_all_read(session, current_principal().account_id)
    return jsonify({"marked": marked})


@bp.get("/settings")
@require()
@operation("通知メールの宛先と、メールで受け取る種類", responses={200: NotificationSettingsResponseSchema})
def get_settings():
    with context("identity").transaction() as session:
        return jsonify(notifications.settings_of(own_account(session)))


@bp.put("/settings")
@require()
@operation("通知メールの宛先と、メールで受け取る種類を変更する",
           body=NotificationSettingsPutSchema,
           responses={200: NotificationSettingsResponseSchema})
def put_settings():
    """``email`` (null or empty removes it) and ``mail_kinds`` (the kinds mailed; the
    others are not). A bad address is a 422 that changes nothing."""
    body = json_body()
    with context("identity").transaction() as session:
        account = own_account(session)
        notifications.change_settings(account, email=body.get("email", ...),
                                      mail_kinds=body.get("mail_kinds"))
        return jsonify(notifications.settings_of(account))
