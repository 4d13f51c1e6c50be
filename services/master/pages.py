"""Pages of the master service: versions, their content and diffs, the publication
mode and 配信 of prepared registrations, subscribers and their delivery logs. For
総務省 (reading) and operators (reading and publishing)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from shared.pages import html_errors, require_page
from shared.service import context
from shared.web import ApiError
from services.master import distribution, exports, registry

bp = Blueprint("master_pages", __name__, url_prefix="/master", template_folder="templates")

READERS = ("secondary_reviewer", "operator")
TABLE_LABELS = {"organisations": "機関", "responsibility": "責任者（様02-01）",
                "contact_chiefs": "連絡窓口責任者（様02-02）", "contacts": "通常連絡先（様02-02）",
                "query_affairs": "情報照会事務（様03-07）", "provided_info": "情報提供（様03-07）",
                "query_delegations": "情報照会事務の委任（様03-08）",
                "provision_delegations": "情報提供の委任（様03-08）",
                "provision_acceptances": "情報提供の受任（様03-08）",
                "independent_affairs": "独自利用事務（様03-09）",
                "connections": "接続開始（様03-06）"}
MAX_ROWS_SHOWN = 500


html_errors(bp)


@bp.get("/")
@require_page(*READERS)
def index():
    with context("master").transaction() as session:
        publication = registry.publication(session)
        versions = registry.versions(session, 100)
        subscribers = distribution.subscribers(session, stopped=True)
        return render_template("master/index.html", mode=publication["mode"],
                               current=publication["version"], versions=versions,
                               pending=publication["pending"], subscribers=subscribers,
                               labels=TABLE_LABELS)


@bp.get("/versions/<int:number>")
@require_page(*READERS)
def version(number: int):
    with context("master").transaction() as session:
        v = registry.describe_version(registry.version(session, number))
        tables = registry.content(session, number)
    return render_template("master/version.html", version=v, tables=tables,
                           labels=TABLE_LABELS, limit=MAX_ROWS_SHOWN)


@bp.get("/versions/<int:number>/export.<fmt>")
@require_page(*READERS)
def version_export(number: int, fmt: str):
    """The version as a file, with the page session (the API's export, no token)."""
    return exports.download(number, fmt)


@bp.get("/versions/<int:number>/diff")
@require_page(*READERS)
def version_diff(number: int):
    raw = request.args.get("from", "")
    with context("master").transaction() as session:
        registry.version(session, number)
        if raw == "":
            base = number - 1
        elif not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
            raise ApiError(422, "bad_parameter", "比較元には 0 以上のマスタ版番号を指定してください。")
        else:
            base = int(raw)
        registry.diff_versions(session, number, base)
        changes = registry.diff(session, base, number)
    return render_template("master/diff.html", number=number, base=base, changes=changes,
                           labels=TABLE_LABELS)


@bp.post("/publication")
@require_page("operator")
def set_mode():
    with context("master").transaction() as session:
        registry.switch_mode(session, request.form.get("mode", ""))
    flash("公開方式を変更しました。")
    return redirect(url_for(".index"))


@bp.post("/publications")
@require_page("operator")
def publish():
    ctx = context("master")
    with ctx.transaction() as session:
        number = registry.publish(ctx, session).number
    flash(f"マスタ版 {number} を配信しました。")
    return redirect(url_for(".version", number=number))


@bp.get("/subscribers/<int:sub_id>")
@require_page("operator")
def subscriber(sub_id: int):
    with context("master").transaction() as session:
        sub = distribution.subscriber(session, sub_id, stopped=True)
        return render_template(
            "master/subscriber.html", sub=distribution.describe_subscriber(sub),
            deliveries=distribution.delivery_log(session, sub_id))
