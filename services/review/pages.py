"""Pages of the review service: the queue of forwarders and reviewers (filters, overdue
marks), an application as readable tables with its findings, history and (for 総務省)
the matching results, the decision form, and the progress per prefecture and phase
against the schedule, drawn as server-rendered SVG.

A case is visible only to organisations it was routed to (and operators): every page
goes through ``cases.visible_case``, so another organisation's id is a 404.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from marshmallow import ValidationError
from flask import Blueprint, flash, redirect, render_template, request, url_for

from shared.formview import form_view
from shared.pages import html_errors, page_principal, require_page
from shared.pluginmanager import form_specs
from shared.service import context, plugins
from shared.vocabulary import status_name
from shared.web import ApiError
from services.review import cases, directory, schedule
from services.review import queue as review_queue
from services.review.schemas import PhaseSchema
from services.review.routing import ROLE_OF

bp = Blueprint("review_pages", __name__, url_prefix="/review", template_folder="templates")

REVIEW_ROLES = ("forwarder", "primary_reviewer", "secondary_reviewer", "operator")
OVERSEERS = cases.OVERSEERS

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県")


def prefecture_name(code: str | None) -> str:
    """"130001" → 東京都 (the first two digits are the JIS prefecture number)."""
    if not code or not (code[:2].isascii() and code[:2].isdigit()) or not 1 <= int(code[:2]) <= 47:
        return code or "（なし）"
    return PREFECTURES[int(code[:2]) - 1]


# Reviewing organisations review can name without intake's registry's names.
NATIONAL_REVIEWERS = {"JLIS": "地方公共団体情報システム機構", "MIC": "総務省"}


def _name_without_directory(org_id: str) -> str | None:
    """J-LIS, 総務省, a prefecture's 知事部局 by its JIS number; else None."""
    name = NATIONAL_REVIEWERS.get(org_id)
    if name is None and len(org_id) == 6 and org_id.isdigit() and org_id[2:5] == "000":
        name = prefecture_name(org_id)
    return name


def org_names(session, ids) -> dict[str, str]:
    """id → name of the organisations a page shows, in one query: the names intake's
    directory carries (``organisations.directory``), else those review knows itself."""
    wanted = {i for i in ids if i}
    found = directory.names(session, wanted)
    for org_id in wanted - found.keys():
        name = _name_without_directory(org_id)
        if name:
            found[org_id] = name
    return found


def reviewer_name(org_id: str | None, names: dict[str, str] | None = None) -> str:
    """An organisation as pages show it: 「name（code）」 where the name is known (from
    ``names``, see :func:`org_names`, or J-LIS, 総務省, a prefecture's 知事部局), else
    the code."""
    if not org_id:
        return ""
    name = (names or {}).get(org_id) or _name_without_directory(org_id)
    return f"{name}（{org_id}）" if name else org_id


def _case_org_ids(desc: dict, matching: list | None) -> set[str]:
    """Every organisation id the case page shows by code: the route's, the history's,
    the matching records' counterparts, delegators and confirming organisations."""
    ids = {r.get("org_id") for r in desc["routes"].values()}
    ids |= {h.get("org_id") for h in desc.get("history", [])}
    for r in matching or []:
        ids.add(r.get("counterpart"))
        ids |= set(r.get("delegators") or [])
        ids |= {c.get("org") for c in r.get("confirmations") or []}
    return {i for i in ids if isinstance(i, str) and i}


html_errors(bp)


# --- queue ---------------------------------------------------------------------------

@bp.get("/")
@require_page(*REVIEW_ROLES)
def queue():
    principal = page_principal()
    query, problems = review_queue.parse(request.args)
    unroutable = 0
    with context("review").reading() as session:
        if principal.role == "operator":
            unroutable = cases.unroutable_count(session)
        page = review_queue.search(session, principal, query)
    codes = list(form_specs(plugins()))
    return render_template("review/queue.html", page=page, query=query, problems=problems,
                           statuses=review_queue.STATUSES, codes=codes, scopes=review_queue.SCOPES,
                           sorts=review_queue.SORTS, unroutable=unroutable), 422 if problems else 200


@bp.get("/queue.csv")
@require_page(*REVIEW_ROLES)
def queue_csv():
    """The queue as CSV with the page's filters, for the page's session."""
    return review_queue.csv_response(request.args, page_principal())


# --- one application ------------------------------------------------------------------

def _render_case(session, app_id: int, *, error: str | None = None, comment: str = "",
                 result: str = "", status: int = 200):
    principal = page_principal()
    case, matching = cases.case_view(session, principal, app_id)
    desc = cases.describe(case, matching=matching, session=session)
    specs = form_specs(plugins())
    header = {"org_name": case.org.get("name", ""), "prefecture": prefecture_name(
        case.prefecture_code), "org_category": "地方公共団体", "org_class": ""}
    forms = [{"code": code, "title": specs[code].title if code in specs else code,
              "view": form_view(specs.get(code), data or {}, header, case.application_id),
              "findings": [f for f in case.findings or []
                           if str(f.get("location", "")).startswith(code)]}
             for code, data in sorted(case.forms.items())]
    names = org_names(session, _case_org_ids(desc, matching))
    summary = None
    if matching is not None:
        # 総務省 (and operators) read the 突合 first: how many records per outcome
        summary = sorted(Counter(r.get("status", "") for r in matching).items())
    return render_template(
        "review/application.html", case=desc, forms=forms, may_decide=cases.may_decide(
            principal, case), error=error, comment=comment, result=result,
        matching=matching, matching_summary=summary,
        prefecture=prefecture_name(case.prefecture_code),
        stage_role=ROLE_OF, org_names=names,
        reviewer_name=lambda org_id: reviewer_name(org_id, names),
        may_reroute=cases.may_reroute(principal, case)), status


@bp.get("/applications/<int:app_id>")
@require_page(*REVIEW_ROLES)
def application(app_id: int):
    with context("review").transaction() as session:
        return _render_case(session, app_id)


@bp.post("/applications/<int:app_id>/decision")
@require_page("forwarder", "primary_reviewer", "secondary_reviewer")
def decide(app_id: int):
    """Two steps, without JavaScript: the case page's form posts here and gets the
    confirmation page (what will happen; the same checks as the decision, so a 否認
    without a reason is refused before the question is asked); its 「承認する」 /
    「否認する」 posts again with ``confirmed`` and the decision is registered. 「戻る」
    shows the case page again with what was typed."""
    principal = page_principal()
    result = request.form.get("result", "")
    comment = request.form.get("comment", "")
    acknowledge = request.form.get("acknowledge_matching") == "yes"
    ctx = context("review")
    if request.form.get("back"):
        with ctx.transaction() as session:
            return _render_case(session, app_id, comment=comment, result=result)
    error = None
    if result not in cases.RESULTS:
        error = "判定（承認または否認）を選んでください。"
    elif request.form.get("confirmed") != "yes":
        with ctx.transaction() as session:
            case = cases.visible_case(session, principal, app_id)
            try:
                acknowledged = cases.check_decision(session, principal, case, result,
                                                    comment, acknowledge)
            except ApiError as exc:
                if exc.status == 404:
                    raise
                error = exc.message
            else:
                return render_template(
                    "review/decision_confirm.html", case=cases.describe(case, session=session),
                    result=result, comment=comment, acknowledge=acknowledge,
                    acknowledged=acknowledged or [], prefecture=prefecture_name(
                        case.prefecture_code))
    else:
        try:
            with ctx.transaction() as session:
                cases.decide(ctx, session, principal, app_id, result, comment, acknowledge)
        except ApiError as exc:
            if exc.status == 404:
                raise
            error = exc.message
    if error is not None:
        with ctx.transaction() as session:
            return _render_case(session, app_id, error=error, comment=comment, result=result,
                                status=422)
    label = "差し戻しました" if result == "否認" else "承認しました"
    if principal.role == "forwarder":
        label = "差し戻しました" if result == "否認" else "審査機関へ送りました"
    flash(f"申請を{label}。")
    return redirect(url_for(".queue"))


@bp.post("/applications/<int:app_id>/reroute")
@require_page(*REVIEW_ROLES)
def reroute(app_id: int):
    """The operator routes an unroutable case again (after the router was fixed)."""
    ctx = context("review")
    with ctx.transaction() as session:
        routed, case = cases.reroute_case(ctx, session, page_principal(), app_id)
        reviewer = "審査完了"
        if routed and case.reviewer_org_id:
            reviewer = reviewer_name(case.reviewer_org_id,
                                     org_names(session, [case.reviewer_org_id]))
        message = (f"振り分け直しました（{reviewer}）。" if routed
                   else f"まだ振り分けられません: {cases.routing_comment(case)}")
    if routed:
        flash(message)
    else:
        flash(message, "error")
    return redirect(url_for(".application", app_id=app_id))


# --- progress against the schedule (総務省, operators) -------------------------------------

# The chart's statuses, named as every page names them (shared.vocabulary).
BUCKETS = tuple((key, status_name(key), color) for key, color in (
    ("forwarding", "#8fb3de"), ("primary_review", "#4f86c6"), ("secondary_review", "#1f5fa8"),
    ("returned", "#e39b3b"), ("approved", "#3f9a55"), ("withdrawn", "#a0a6ad"),
    ("unroutable", "#c0392b")))


def _progress(session, kind_filter: str) -> dict[str, Any]:
    return {"rows": [{"code": code, "name": prefecture_name(code), "counts": counts}
                     for code, counts in cases.progress(session, kind_filter)]}


def bar_chart(rows: list[dict], width: int = 900) -> dict:
    """Geometry of a horizontal stacked bar per prefecture (the statuses of BUCKETS)."""
    left, bar_h, gap, top = 110, 18, 8, 30
    longest = max([r["counts"]["total"] for r in rows] or [1]) or 1
    scale = (width - left - 80) / longest
    bars = []
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        x = left
        segments = []
        for key, label, color in BUCKETS:
            n = r["counts"].get(key, 0)
            if n:
                segments.append({"x": x, "w": max(n * scale, 1), "color": color,
                                 "label": f"{r['name']} {label} {n}件"})
                x += n * scale
        bars.append({"y": y, "name": r["name"], "segments": segments, "end": x,
                     "total": r["counts"]["total"], "overdue": r["counts"].get("overdue", 0)})
    return {"width": width, "height": top + len(rows) * (bar_h + gap) + 10, "bars": bars,
            "bar_h": bar_h, "left": left, "legend": BUCKETS}


def timeline(phases: list[dict], today: dt.date, width: int = 900) -> dict | None:
    """Geometry of the schedule: one bar per phase on a date axis, and today's line."""
    dated = [p for p in phases if p["ends_on"]]
    if not dated:
        return None
    starts = [dt.date.fromisoformat(p["starts_on"] or p["ends_on"]) for p in dated]
    ends = [dt.date.fromisoformat(p["ends_on"]) for p in dated]
    first = min(starts + [today]) - dt.timedelta(days=3)
    last = max(ends + [today]) + dt.timedelta(days=3)
    left, bar_h, gap, top = 210, 16, 8, 30
    span = max((last - first).days, 1)
    scale = (width - left - 20) / span

    def x(d: dt.date) -> float:
        return left + (d - first).days * scale

    bars = []
    for i, (p, s, e) in enumerate(zip(dated, starts, ends)):
        late = today > e
        bars.append({"y": top + i * (bar_h + gap), "x": x(s), "w": max(x(e) - x(s), 3),
                     "name": p["name"], "label": f"{p['name']} {s.isoformat()}〜{e.isoformat()}",
                     "ends": e.isoformat(), "past": late})
    height = top + len(bars) * (bar_h + gap) + 10
    ticks = []
    d = first.replace(day=1)
    while d <= last:
        if d >= first:
            ticks.append({"x": x(d), "label": f"{d.month}月"})
        d = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return {"width": width, "height": height, "bars": bars, "today_x": x(today),
            "today": today.isoformat(), "ticks": ticks, "bar_h": bar_h}


@bp.get("/progress")
@require_page(*OVERSEERS)
def progress():
    kind = request.args.get("kind", "applications")
    if kind not in ("applications", "account"):
        kind = "applications"
    with context("review").transaction() as session:
        phases = schedule.describe(session)
        data = _progress(session, kind)
    today = schedule.today()
    return render_template("review/progress.html", phases=phases, rows=data["rows"],
                           chart=bar_chart(data["rows"]), timeline=timeline(phases, today),
                           today=today, kind=kind, buckets=BUCKETS)


@bp.post("/schedule")
@require_page("operator")
def save_schedule():
    """The operator sets the phases' dates (a phase left without 期限 is not changed)."""
    phases, problems = [], []
    for key, name in schedule.PHASES.items():
        raw_start = request.form.get(f"starts_{key}", "").strip()
        raw_end = request.form.get(f"ends_{key}", "").strip()
        if not raw_end:
            if raw_start:
                problems.append(f"{name}: 開始日だけでなく期限も入力してください。")
            continue
        # the rules of PUT /api/review/schedule, with their messages (PhaseSchema)
        try:
            phases.append(PhaseSchema().load({"phase": key, "starts_on": raw_start or None,
                                              "ends_on": raw_end}))
        except ValidationError as exc:
            problems.append(f"{name}: " + " ".join(dict.fromkeys(
                m for ms in exc.normalized_messages().values() for m in ms)))
    if problems:
        raise ApiError(422, "bad_schedule", " ".join(problems))
    ctx = context("review")
    with ctx.transaction() as session:
        schedule.replace(ctx, session, phases, page_principal().login)
    flash("スケジュールを保存しました。")
    return redirect(url_for(".progress"))
