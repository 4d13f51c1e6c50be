"""HTTP API of the organisation registry, the legal catalog and the selection
(``/api/intake``; DESIGN §7)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from shared.auth import current_principal, require
from shared.openapi import operation
from shared.service import context
from shared.web import ApiError
from services.intake import applications as apps
from services.intake.api import json_document
from services.intake import catalog, registry, selection
from services.intake.models import Organisation
from services.intake.schemas import (ORGANISATION_PATCH_BODY, SELECTION_BODY, UNION_BODY,
                                     AuditSchema, CatalogQuerySchema, CatalogSchema,
                                     CatalogVersionListSchema, OrganisationListSchema,
                                     OrganisationQuerySchema, OrganisationSchema, SelectionSchema)

bp = Blueprint("intake_catalog_api", __name__, url_prefix="/api/intake")

OWN_ORG_ROLES = ("applicant", "forwarder")
MAX_OFFSET = 2 ** 31 - 1


def _registry_error(exc: registry.RegistryError) -> ApiError:
    details = [{"location": loc, "message": msg} for loc, msg in exc.problems]
    first = exc.problems[0]
    return ApiError(422, "invalid_organisation",
                    f"入力内容に誤りがあります: {first[0]}: {first[1]}"
                    + (f"（ほか{len(details) - 1}件）" if len(details) > 1 else ""),
                    details=details)


# --- Catalog -------------------------------------------------------------------------

@bp.get("/catalog")
@require()
@operation("機関が選択できる事務と特定個人情報（法令カタログ）", query=CatalogQuerySchema,
           responses={200: CatalogSchema}, errors=(403, 409, 422))
def get_catalog():
    """The affairs and information the organisation may select (DESIGN §7)."""
    principal = current_principal()
    org_id = request.args.get("org", "").strip()
    if not org_id:
        if principal.role not in OWN_ORG_ROLES:
            raise ApiError(422, "org_required", "org（機関ID）を指定してください。")
        org_id = principal.org_id
    with context("intake").transaction() as session:
        org = session.get(Organisation, org_id)
        if org is None:
            raise ApiError(422, "unknown_org", f"機関 {org_id} は機関マスタに登録されていません。",
                           details=[{"location": "org", "message": f"機関 {org_id} は登録されていません。"}])
        if principal.role in OWN_ORG_ROLES and org.id != principal.org_id:
            raise ApiError(403, "forbidden", "自機関以外のカタログは参照できません。")
        try:
            cat = catalog.catalog_for(session, org)
        except catalog.CatalogError:
            raise ApiError(409, "no_catalog",
                           "法令カタログが読み込まれていません（運用者に連絡してください）。") from None
        return jsonify(catalog.describe_catalog(registry.describe_org(session, org), cat))


@bp.get("/catalog/versions")
@require()
@operation("法令カタログの版の一覧", responses={200: CatalogVersionListSchema})
def catalog_versions():
    with context("intake").transaction() as session:
        items = catalog.versions(session)
    return jsonify({"items": items})


# --- Selection -----------------------------------------------------------------------

@bp.put("/applications/<int:app_id>/selection")
@require("applicant")
@operation("申請の選択（照会する事務・提供する情報）を保存する", json=SELECTION_BODY,
           responses={200: SelectionSchema}, errors=(409,))
def put_selection(app_id: int):
    body = json_document()
    principal = current_principal()
    with context("intake").transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        apps.save_selection(session, principal, app, body)
        return jsonify(selection.describe_selection(session, app))


@bp.get("/applications/<int:app_id>/selection")
@require("applicant")
@operation("申請の選択", responses={200: SelectionSchema}, errors=(409,))
def get_selection(app_id: int):
    with context("intake").transaction() as session:
        app = apps.get_owned(session, current_principal(), app_id)
        return jsonify(selection.describe_selection(session, app))


# --- Organisation registry -------------------------------------------------------------

@bp.get("/organisations")
@require()
@operation("機関マスタを検索する", query=OrganisationQuerySchema,
           responses={200: OrganisationListSchema}, errors=(422,))
def list_organisations():
    """Search the registry: ?q= (part of the id or of the name), kind=, branch=,
    prefecture= or pref= (6-digit code, 2-digit number or name), applying=1 (only those
    that can apply), limit= (≤500), offset=. The pages' organisation picker uses the same
    search (``registry.search_organisations``)."""
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 500)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError:
        raise ApiError(422, "validation_failed", "limit と offset は整数で指定してください。") from None
    if offset > MAX_OFFSET:     # beyond any registry, and beyond what the database takes
        raise ApiError(422, "validation_failed",
                       f"offset は 0 以上 {MAX_OFFSET} 以下の整数で指定してください。")
    pref = (request.args.get("prefecture") or request.args.get("pref") or "").strip()
    with context("intake").transaction() as session:
        return jsonify(registry.search_organisations(
            session, q=request.args.get("q", ""),
            # a value naming no prefecture matches nothing, as before
            prefecture=(registry.prefecture_code(session, pref) or pref) if pref else None,
            kind=request.args.get("kind", "").strip(),
            branch=request.args.get("branch", "").strip(),
            applying_only=request.args.get("applying", "") in ("1", "true"),
            limit=limit, offset=offset))


@bp.get("/organisations/<org_id>")
@require()
@operation("機関", responses={200: OrganisationSchema})
def get_organisation(org_id: str):
    with context("intake").transaction() as session:
        return jsonify(registry.describe_org(session, apps.org_of(session, org_id)))


@bp.post("/organisations")
@require("operator")
@operation("一部事務組合・広域連合を構成団体とともに登録する（運用者）", json=UNION_BODY,
           responses={201: OrganisationSchema}, errors=(409,))
def register_organisation():
    """Register a 一部事務組合・広域連合 with its members."""
    body = json_document()
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_organisation", "JSON オブジェクトで送ってください。")
    with context("intake").transaction() as session:
        try:
            org = registry.register_union(session, current_principal().actor(), body)
        except registry.RegistryError as exc:
            raise _registry_error(exc) from None
        registry.announce_directory(context("intake"), session)
        return jsonify(registry.describe_org(session, org)), 201


@bp.patch("/organisations/<org_id>")
@require("operator")
@operation("機関の属性を変更する（運用者）", json=ORGANISATION_PATCH_BODY,
           responses={200: OrganisationSchema})
def patch_organisation(org_id: str):
    body = json_document()
    with context("intake").transaction() as session:
        org = apps.org_of(session, org_id)
        try:
            registry.update_org(session, current_principal().actor(), org, body)
        except registry.RegistryError as exc:
            raise _registry_error(exc) from None
        return jsonify(registry.describe_org(session, org))


@bp.get("/organisations/<org_id>/audit")
@require("operator")
@operation("機関の変更履歴（運用者）", responses={200: AuditSchema})
def organisation_audit(org_id: str):
    with context("intake").transaction() as session:
        apps.org_of(session, org_id)
        return jsonify({"items": registry.audit_of(session, org_id)})
