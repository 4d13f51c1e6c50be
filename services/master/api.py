"""HTTP API of the master service (``/api/master``).

Versions, their diffs and exports are for 総務省 and operators; the directory of
通常連絡先 is for every logged-in user. Operators choose the publication mode, publish
prepared registrations (配信) and manage subscribers; a subscriber reaches its own
subscription (acknowledge, pull, delivery log) by signing its request with its secret,
as Standard Webhooks signs deliveries: headers ``webhook-id``, ``webhook-timestamp``
and ``webhook-signature`` over the request body (empty for GET).
"""
from __future__ import annotations

import functools
import json

from flask import Blueprint, Response, g, jsonify, request

from shared import webhooks
from shared.auth import current_principal, require
from shared.openapi import XLSX, ZIP, File, Reply, operation
from shared.service import context
from shared.web import ApiError, checked_outbound_url, json_body, not_found
from services.master import distribution, exports, registry
from services.master.models import MasterVersion, Subscriber
from services.master.schemas import (AckPostSchema, ContactsSchema, DeliveryListSchema,
                                     DiffQuerySchema, PublicationPutSchema, PublicationSchema,
                                     PullQuerySchema, PullSchema, SelfCheckSchema,
                                     SubscriptionCreatedSchema, SubscriptionListSchema,
                                     SubscriptionPostSchema, SubscriptionSchema,
                                     VersionContentSchema, VersionDiffSchema, VersionListSchema,
                                     VersionSchema)

bp = Blueprint("master_api", __name__, url_prefix="/api/master")

READERS = ("secondary_reviewer", "operator")


@bp.get("/versions")
@require(*READERS)
@operation("マスタの版の一覧（新しい順）", responses={200: VersionListSchema})
def versions():
    with context("master").transaction() as session:
        items = [{k: v[k] for k in ("number", "created_at", "checksum", "sources")}
                 for v in registry.versions(session, 500)]
    return jsonify({"items": items})


@bp.get("/versions/<int:number>")
@require(*READERS)
@operation("マスタの版の内容", responses={200: VersionContentSchema})
def version(number: int):
    with context("master").transaction() as session:
        v = registry.version(session, number)
        head = json.dumps(registry.describe_version(v), ensure_ascii=False)
        text = head[:-1] + ', "tables": ' + registry.content_json(session, number) + "}"
    return Response(text, mimetype="application/json")


@bp.get("/versions/<int:number>/diff")
@require(*READERS)
@operation("マスタの版の差分", query=DiffQuerySchema, responses={200: VersionDiffSchema},
           errors=(422,))
def version_diff(number: int):
    raw = request.args.get("from")
    if raw is None or not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise ApiError(422, "bad_parameter", "from に比較元のマスタ版番号を指定してください。")
    with context("master").transaction() as session:
        base = int(raw)
        registry.diff_versions(session, number, base)
        text = (f'{{"from": {base}, "to": {number}, "tables": '
                + registry.diff_json(session, base, number) + "}")
    return Response(text, mimetype="application/json")


@bp.get("/versions/<int:number>/export.<fmt>")
@require(*READERS)
@operation("マスタの版をファイルで出力する", path={"fmt": {"enum": list(exports.FORMATS)}},
           responses={200: Reply((VersionContentSchema, File(ZIP), File(XLSX)),
                                 "export.json: JSON, export.zip: 表ごとの CSV の zip, "
                                 "export.xlsx: ブック")})
def version_export(number: int, fmt: str):
    """The version as a file: ``export.json``, ``export.zip`` (one CSV per table) or
    ``export.xlsx``."""
    return exports.download(number, fmt)


@bp.get("/contacts")
@require()
@operation("通常連絡先の一覧（最新の公開版）", responses={200: ContactsSchema})
def contacts():
    """The directory: 通常連絡先 of every registered organisation in the newest published
    version, with the organisation's name (緊急連絡先 never appear here)."""
    with context("master").transaction() as session:
        number = registry.head(session).number
        if number == 0:
            return jsonify({"version": 0, "items": []})
        names = {row.key: (row.data or {}).get("name")
                 for row in registry.rows_at(session, number, ["organisations"])}
        items = [{**row.data, "org_name": names.get(row.org_id)}
                 for row in registry.rows_at(session, number, ["contacts"])]
        return jsonify({"version": number, "items": items})


@bp.get("/self-checks/<org_id>")
@require(*READERS)
@operation("様02-06 安全管理措置確認結果（総務省・運用者）", responses={200: SelfCheckSchema})
def self_check(org_id: str):
    """様02-06 安全管理措置確認結果 of an organisation as last approved: for 総務省 and
    operators only (never published, exported or delivered)."""
    from services.master.models import RestrictedSelfCheck

    with context("master").transaction() as session:
        found = session.get(RestrictedSelfCheck, org_id[:40])
        if found is None:
            raise not_found("安全管理措置確認結果")
        return jsonify({"org_id": found.org_id, "application_id": found.application_id,
                        "updated_at": found.updated_at.isoformat(), **found.data})


# --- publication (整備・配信) ----------------------------------------------------------

@bp.get("/publication")
@require("operator")
@operation("公開方式と配信待ちの登録（運用者）", responses={200: PublicationSchema})
def publication():
    with context("master").transaction() as session:
        return jsonify(registry.publication(session))


@bp.put("/publication")
@require("operator")
@operation("公開方式を切り替える（運用者）", body=PublicationPutSchema,
           responses={200: PublicationSchema}, errors=(409,))
def set_publication():
    """Switch between ``immediate`` (each approved application is a version at once)
    and ``batched`` (approved applications are prepared until an operator publishes)."""
    body = json_body()
    with context("master").transaction() as session:
        registry.switch_mode(session, body["mode"])
        return jsonify(registry.publication(session))


@bp.post("/publications")
@require("operator")
@operation("整備済みの登録を配信する（運用者）", responses={201: VersionSchema}, errors=(409,))
def publish():
    """配信: every prepared registration becomes one new version, delivered to every
    subscriber."""
    ctx = context("master")
    with ctx.transaction() as session:
        v = registry.publish(ctx, session)
        body = registry.describe_version(v)
    return jsonify(body), 201


# --- subscribers -----------------------------------------------------------------------

def subscriber_or_operator(view):
    """Admit an operator's token, or a request signed with the subscription's secret."""

    @functools.wraps(view)
    def wrapper(sub_id: int, *args, **kwargs):
        if request.headers.get("Authorization"):
            if current_principal().role != "operator":
                raise ApiError(403, "forbidden", "この操作を行う権限がありません。")
            g.master_subscriber = None
            return view(sub_id, *args, **kwargs)
        names = ("webhook-id", "webhook-timestamp", "webhook-signature")
        if not all(request.headers.get(n) for n in names):
            raise ApiError(401, "unauthenticated",
                           "認証が必要です。運用者のトークンか、購読のシークレットによる署名"
                           "（webhook-id, webhook-timestamp, webhook-signature）を付けてください。")
        with context("master").transaction() as session:
            sub = session.get(Subscriber, sub_id)
            secret = sub.secret if sub is not None and sub.active else None
        hdrs = {n: request.headers[n] for n in names}
        try:
            ok = secret is not None and webhooks.verify(secret, hdrs, request.get_data())
        except (ValueError, KeyError):
            ok = False
        if not ok:
            raise ApiError(401, "invalid_signature",
                           "署名が正しくないか、時刻が 5 分以上ずれています。")
        g.master_subscriber = sub_id
        return view(sub_id, *args, **kwargs)

    wrapper.nws_auth = ("operator", "subscriber")  # type: ignore[attr-defined]
    return wrapper


@bp.post("/subscriptions")
@require("operator")
@operation("購読（マスタの配信先）を登録する（運用者）", body=SubscriptionPostSchema,
           responses={201: SubscriptionCreatedSchema})
def create_subscription():
    body = json_body()
    ctx = context("master")
    principal = current_principal()
    url = checked_outbound_url(body["url"], ctx.settings)   # resolved, every address checked
    with ctx.transaction() as session:
        sub = distribution.subscribe(ctx, session, url, body["mode"], principal.login)
        out = {**distribution.describe_subscriber(sub), "secret": sub.secret}
    return jsonify(out), 201


@bp.get("/subscriptions")
@require("operator")
@operation("購読の一覧（運用者）", responses={200: SubscriptionListSchema})
def list_subscriptions():
    with context("master").transaction() as session:
        return jsonify({"items": distribution.subscribers(session)})


@bp.get("/subscriptions/<int:sub_id>")
@subscriber_or_operator
@operation("購読（運用者、または購読のシークレットで署名した購読者）",
           responses={200: SubscriptionSchema})
def get_subscription(sub_id: int):
    with context("master").transaction() as session:
        return jsonify(distribution.describe_subscriber(
            distribution.subscriber(session, sub_id, stopped=True)))


@bp.delete("/subscriptions/<int:sub_id>")
@require("operator")
@operation("購読を停止する（運用者）", responses={204: None})
def delete_subscription(sub_id: int):
    """Stop a subscription: nothing more is delivered (pending deliveries are
    cancelled when their turn comes)."""
    with context("master").transaction() as session:
        distribution.unsubscribe(session, distribution.subscriber(session, sub_id))
    return "", 204


@bp.get("/subscriptions/<int:sub_id>/deliveries")
@subscriber_or_operator
@operation("購読への配信記録", responses={200: DeliveryListSchema})
def list_deliveries(sub_id: int):
    """The delivery log: each version owed to the subscriber and every attempt."""
    with context("master").transaction() as session:
        distribution.subscriber(session, sub_id, stopped=True)
        return jsonify({"items": distribution.delivery_log(session, sub_id)})


@bp.post("/subscriptions/<int:sub_id>/ack")
@subscriber_or_operator
@operation("反映を終えた版を受領確認する", body=AckPostSchema, responses={200: SubscriptionSchema},
           errors=(409,))
def acknowledge(sub_id: int):
    """The subscriber has applied ``version`` (and, if given, its content has this
    checksum): diff deliveries start from it from now on."""
    body = json_body()
    with context("master").transaction() as session:
        sub = distribution.subscriber(session, sub_id)
        version = session.get(MasterVersion, body["version"])
        if version is None:
            raise ApiError(422, "unknown_version",
                           f"マスタ版 {body['version']} はありません。version を確認してください。")
        if body["checksum"] is not None and body["checksum"] != version.checksum:
            raise ApiError(409, "checksum_mismatch",
                           f"checksum がマスタ版 {version.number} のものと一致しません。"
                           "反映した内容を確認し、全体（snapshot）を取得し直してください。",
                           expected=version.checksum)
        distribution.acknowledge(session, sub, version,
                                 by_subscriber=g.master_subscriber is not None)
        return jsonify(distribution.describe_subscriber(sub))


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise ApiError(422, "bad_parameter", f"{name} にはマスタ版番号（0 以上の整数）を指定してください。")
    return int(raw)


@bp.get("/subscriptions/<int:sub_id>/pull")
@subscriber_or_operator
@operation("配信される文書をその場で取得する（配信と同じく署名付き）", query=PullQuerySchema,
           responses={200: Reply(PullSchema, "配信と同じ文書", headers={
               name: {"schema": {"type": "string"}, "description": "Standard Webhooks の署名"}
               for name in ("webhook-id", "webhook-timestamp", "webhook-signature")})},
           errors=(422,))
def pull(sub_id: int):
    """What a delivery would carry, on demand: the newest version (or ``version``) as a
    snapshot or as the diff from ``from`` (default: the last acknowledged version), per
    the subscription's mode unless ``mode`` says otherwise. Signed like deliveries."""
    mode = request.args.get("mode")
    if mode is not None and mode not in ("snapshot", "diff"):
        raise ApiError(422, "bad_parameter", "mode は「snapshot」または「diff」です。")
    number, base = _int_arg("version"), _int_arg("from")
    with context("master").transaction() as session:
        sub = distribution.subscriber(session, sub_id)
        if number is None:
            number = registry.head(session).number
            if number == 0:
                raise not_found("公開されたマスタ版")
        registry.diff_versions(session, number, base or 0)
        _meta, data = distribution.document(session, sub, number, mode=mode, base=base)
        secret = sub.secret
    return Response(data, mimetype="application/json",
                    headers=webhooks.headers([secret], distribution.request_id(), data))
