"""HTTP API of the master service (``/api/master``)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from shared.auth import require
from shared.service import context
from shared.web import ApiError, not_found
from services.master import registry
from services.master.models import MasterHead, MasterVersion

bp = Blueprint("master_api", __name__, url_prefix="/api/master")

READERS = ("secondary_reviewer", "operator")


@bp.get("/versions")
@require(*READERS)
def versions():
    with context("master").transaction() as session:
        rows = session.scalars(select(MasterVersion).order_by(MasterVersion.number.desc())
                               .limit(500))
        items = [{"number": v.number, "created_at": v.created_at.isoformat(),
                  "checksum": v.checksum, "sources": v.sources} for v in rows]
    return jsonify({"items": items})


def _version(session, number: int) -> MasterVersion:
    version = session.get(MasterVersion, number)
    if version is None:
        raise not_found(f"マスタ版 {number} ")
    return version


@bp.get("/versions/<int:number>")
@require(*READERS)
def version(number: int):
    with context("master").transaction() as session:
        v = _version(session, number)
        return jsonify({**registry.describe_version(v),
                        "tables": registry.content(session, number)})


@bp.get("/versions/<int:number>/diff")
@require(*READERS)
def version_diff(number: int):
    raw = request.args.get("from")
    if raw is None or not raw.isdigit():
        raise ApiError(422, "bad_parameter", "from に比較元のマスタ版番号を指定してください。")
    with context("master").transaction() as session:
        _version(session, number)
        base = int(raw)
        if base != 0:
            _version(session, base)
        return jsonify({"from": base, "to": number,
                        "tables": registry.diff(session, base, number)})


@bp.get("/contacts")
@require()
def contacts():
    """通常連絡先 of every registered organisation (緊急連絡先 never appear here)."""
    with context("master").transaction() as session:
        head = session.get(MasterHead, 1)
        if head is None:
            return jsonify({"version": 0, "items": []})
        items = [row.data for row in registry.rows_at(session, head.number, ["contacts"])]
        return jsonify({"version": head.number, "items": items})
