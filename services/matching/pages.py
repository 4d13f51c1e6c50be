"""Pages of the matching service: the delegation records of an application and their
outcome, the 委任情報確認依頼 an organisation must answer, and (for 総務省 and operators)
a picture of an organisation's delegation graph drawn as server-rendered SVG.

Who may see what is one rule, ``matcher.may_see``, which the API calls too: another organisation's
application is a 404 here too.
"""
from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, flash, redirect, render_template, request, url_for

from shared import listing
from shared.pages import html_errors, page_principal, require_page
from shared.service import context
from shared.web import not_found
from services.matching import confirmations as confirmation_list
from services.matching import matcher
from services.matching.matcher import APPLICANT_ROLES, OVERSEERS
from services.matching.models import (Confirmation, DelegationEdge, DelegationRecord,
                                      MatchedApplication)
from services.matching.schemas import ANSWERS

bp = Blueprint("matching_pages", __name__, url_prefix="/matching", template_folder="templates")

MAX_GRAPH_EDGES = 300


html_errors(bp)


@bp.get("/applications/<int:app_id>")
@require_page()
def application(app_id: int):
    principal = page_principal()
    with context("matching").transaction() as session:
        known = session.get(MatchedApplication, app_id)
        if known is None:
            # Not (yet) received: only the owner's own pages link here, so say so
            # without telling anything about other organisations' ids.
            if principal.role in OVERSEERS or principal.role in APPLICANT_ROLES:
                return render_template("matching/application.html", app_id=app_id,
                                       known=None, records=[]), 404
            raise not_found("突合結果")
        if not matcher.may_see(principal, known):
            raise not_found("突合結果")
        return render_template("matching/application.html", app_id=app_id, known=known,
                               records=matcher.results_of(session, app_id))


@bp.get("/confirmations")
@require_page(*APPLICANT_ROLES)
def confirmations():
    """The requests to the visitor's organisation: search, status, sort by column, pages
    of 50, CSV (services.matching.confirmations, as the API)."""
    query, problems = confirmation_list.parse(request.args)
    with context("matching").transaction() as session:
        page = confirmation_list.search(session, page_principal(), query)
    return _render_list(page, query, problems=problems), 422 if problems else 200


def _render_list(page, query, *, problems=(), error=None, error_id=None, answer="",
                 reason=""):
    return render_template("matching/confirmations.html", page=page, query=query,
                           problems=list(problems), names=confirmation_list.STATUS_NAMES,
                           sorts=confirmation_list.SORTS, error=error, error_id=error_id,
                           answer=answer, reason=reason)


@bp.get("/confirmations.csv")
@require_page(*APPLICANT_ROLES)
def confirmations_csv():
    """The list as CSV with the page's filters, for the page's session."""
    return confirmation_list.csv_response(request.args, page_principal())


@bp.post("/confirmations/<int:confirmation_id>")
@require_page(*APPLICANT_ROLES)
def answer(confirmation_id: int):
    principal = page_principal()
    answer_text = request.form.get("answer", "")
    reason = request.form.get("reason", "").strip()[:1000]
    ctx = context("matching")
    error = None
    if answer_text not in ANSWERS:
        error = "「確認」または「異議」を選んでください。"
    elif answer_text == "異議" and not reason:
        error = "異議の場合は理由を記入してください。"
    if error is None:
        with ctx.transaction() as session:
            c = session.get(Confirmation, confirmation_id)
            if c is None or c.delegator_org != principal.org_id:
                raise not_found("委任情報確認依頼")
            matcher.answer(ctx, session, c, ANSWERS[answer_text], reason or None,
                           principal.actor())
        flash("委任情報確認依頼に回答しました。")
        return redirect(url_for(".confirmations"))
    with ctx.transaction() as session:
        c = session.get(Confirmation, confirmation_id)
        if c is None or c.delegator_org != principal.org_id:
            raise not_found("委任情報確認依頼")
        items = [confirmation_list.view(c, session.get(DelegationRecord, c.record_id))]
    query = confirmation_list.ConfirmationQuery(status="all")
    page = listing.Page(items=items, total=1, query=query)
    return _render_list(page, query, error=error, error_id=confirmation_id,
                        answer=answer_text, reason=reason), 422


# --- the delegation graph of an organisation --------------------------------------------

def layout_graph(org_id: str, edges: list[DelegationEdge]) -> dict:
    """Nodes in columns by their longest distance from a delegating organisation
    (委任元 on the left, 委任先 on the right); one arrow per pair with its items."""
    succ: dict[str, set[str]] = defaultdict(set)
    nodes: set[str] = {org_id}
    labels: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in edges:
        nodes.update((e.from_org, e.to_org))
        if e.from_org != e.to_org:
            succ[e.from_org].add(e.to_org)
        tag = f"{'照会' if e.family == 'query' else '提供'}:{e.item}"
        if tag not in labels[(e.from_org, e.to_org)]:
            labels[(e.from_org, e.to_org)].append(tag)
    depth = {n: 0 for n in nodes}
    for _ in range(len(nodes)):  # longest path, bounded (cycles stop growing)
        changed = False
        for src, dsts in succ.items():
            for dst in dsts:
                if depth[dst] < depth[src] + 1 and depth[src] + 1 < len(nodes):
                    depth[dst] = depth[src] + 1
                    changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = defaultdict(list)
    for n in sorted(nodes):
        columns[depth[n]].append(n)
    col_w, row_h, box_w, box_h, pad = 220, 60, 150, 30, 20
    pos = {}
    for c, names in sorted(columns.items()):
        for r, n in enumerate(names):
            pos[n] = (pad + c * col_w, pad + 20 + r * row_h)
    width = pad * 2 + (max(columns) + 1) * col_w
    height = pad * 2 + 20 + max(len(v) for v in columns.values()) * row_h
    arrows = []
    for (src, dst), tags in sorted(labels.items()):
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        if src == dst:
            continue
        sx, sy = x1 + box_w, y1 + box_h / 2
        ex, ey = x2, y2 + box_h / 2
        if x2 <= x1:  # a back edge (cycle): draw it under the boxes
            sx, sy, ex, ey = x1 + box_w / 2, y1 + box_h, x2 + box_w / 2, y2 + box_h
        shown = "、".join(tags[:3]) + (f" ほか{len(tags) - 3}" if len(tags) > 3 else "")
        arrows.append({"x1": sx, "y1": sy, "x2": ex, "y2": ey, "label": shown,
                       "title": f"{src} → {dst}: {'、'.join(tags)}",
                       "lx": (sx + ex) / 2, "ly": (sy + ey) / 2 - 4, "back": x2 <= x1})
    return {"width": width, "height": height, "box_w": box_w, "box_h": box_h,
            "nodes": [{"id": n, "x": x, "y": y, "focus": n == org_id} for n, (x, y) in
                      sorted(pos.items())], "arrows": arrows}


@bp.get("/graph")
@require_page(*OVERSEERS)
def graph():
    org_id = request.args.get("org", "").strip()
    family = request.args.get("family", "")
    if family not in ("", "query", "provision"):
        family = ""
    picture, edges = None, []
    with context("matching").transaction() as session:
        if org_id:
            edges = matcher.graph_of(session, org_id, family or None, limit=MAX_GRAPH_EDGES)
            if edges:
                picture = layout_graph(org_id, edges)
            rows = [{"from": e.from_org, "to": e.to_org, "family": e.family, "item": e.item,
                     "basis": " ".join(x for x in (e.article, e.rule_title) if x),
                     "declared_by": e.declared_by, "application_id": e.application_id}
                    for e in edges]
        else:
            rows = []
    return render_template("matching/graph.html", org_id=org_id, family=family,
                           picture=picture, rows=rows, limit=MAX_GRAPH_EDGES)
