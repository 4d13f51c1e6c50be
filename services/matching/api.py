"""HTTP API of the matching service (``/api/matching``)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from shared.auth import current_principal, require
from shared.service import context
from shared.web import not_found
from services.matching.matcher import describe, records_of
from services.matching.models import MatchedApplication

bp = Blueprint("matching_api", __name__, url_prefix="/api/matching")


@bp.get("/applications/<int:app_id>")
@require()
def application_records(app_id: int):
    principal = current_principal()
    with context("matching").transaction() as session:
        known = session.get(MatchedApplication, app_id)
        if known is None:
            raise not_found("申請")
        records = records_of(session, app_id)
        involved = {known.org_id} | {r.counterpart for r in records}
        if (principal.org_id not in involved
                and principal.role not in ("secondary_reviewer", "operator")):
            raise not_found("申請")
        return jsonify({"records": [describe(r) for r in records]})
