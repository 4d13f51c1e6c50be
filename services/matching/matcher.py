"""Delegation cross-matching (突合) of the 様03-08 records of every submitted application.

What happens when an application's delegation records arrive (``delegations.submitted``)
or leave (``delegations.withdrawn``), or a 委任元 answers a confirmation request:

1. the application's records, their delegation edges and confirmation requests are
   replaced (an answer carries over while what was confirmed is unchanged);
2. only what those records touch is matched again: the 情報提供 records that name the
   filing organisation or that its old and new records named, and, per touched item, the
   connected part of the delegation graph around it (:mod:`services.matching.graph`);
3. every record whose outcome changed, and the filing application itself, get fresh
   ``matching.results`` to review (MIC sees them before deciding).

:func:`rematch_all` matches every stored record from scratch with the same evaluation
(the benchmark compares the two).
"""
from __future__ import annotations

from collections import defaultdict, deque
from typing import Iterable

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session

from shared import audit
from shared.db import advisory_xact_lock, utcnow
from shared.auth import Principal
from shared.messaging import ServiceContext
from shared.web import ApiError
from services.matching import rules
from services.matching.graph import Edge, analyse
from services.matching.models import (Confirmation, DelegationEdge, DelegationRecord,
                                      MatchedApplication)
from services.matching.pairing import ProvisionIndex, pair_findings
from services.matching.rules import ACCEPTANCE, DELEGATION, FAMILY, QUERY, TWIN

OVERSEERS = ("secondary_reviewer", "operator")
APPLICANT_ROLES = ("applicant", "forwarder")


def may_see(principal: Principal, known) -> bool:
    """Whether ``principal`` may read the delegation records and matching outcome of the
    application ``known`` (a MatchedApplication): 総務省's overseers, the organisation
    that filed it, and the 首長部局 that forwards a 教育委員会's (ORG-BOE by ORG)."""
    if principal.role in OVERSEERS:
        return True
    if principal.role not in APPLICANT_ROLES:
        return False
    if principal.org_id == known.org_id:
        return True
    return (principal.role == "forwarder" and known.org_id.endswith("-BOE")
            and principal.org_id == known.org_id.removesuffix("-BOE"))

LINKING = {"query": {QUERY}, "provision": {ACCEPTANCE}}
Key = tuple[str, str]   # (family, item)


# --- building records from a message ---------------------------------------------------

def _text(value, size: int = 40) -> str:
    """A value as stored in a key column (the row itself keeps it whole in ``data``)."""
    return "" if value is None else str(value)[:size]


def _rows(payload: dict, name: str) -> list[dict]:
    return [r for r in payload.get(name) or [] if isinstance(r, dict)]


def build_records(payload: dict) -> list[DelegationRecord]:
    base = dict(application_id=payload["application_id"], round=payload["round"],
                org_id=payload["org_id"])
    org = payload["org_id"]
    names = payload.get("org_names") or {}
    out = []
    for row in _rows(payload, "query_delegations"):
        if not isinstance(row.get("delegators"), list):
            row = {**row, "delegators": [row["delegators"]] if row.get("delegators") else []}
        # the 委任元 by name for the pages (intake's registry; never part of what is
        # matched or confirmed: rules.fingerprint reads the codes)
        row = {**row, "delegator_names": {str(d): str(names[str(d)])[:200]
                                          for d in row["delegators"] if str(d) in names}}
        out.append(DelegationRecord(**base, kind=QUERY, item=_text(row.get("item_no")),
                                    counterpart=None, data=row, status="pending",
                                    fingerprint=rules.fingerprint(QUERY, org, row)))
    for row in _rows(payload, "provision_delegations"):
        out.append(DelegationRecord(**base, kind=DELEGATION, item=_text(row.get("info_no")),
                                    counterpart=_text(row.get("delegatee")) or None, data=row,
                                    status="pending"))
    for row in _rows(payload, "provision_acceptances"):
        out.append(DelegationRecord(**base, kind=ACCEPTANCE, item=_text(row.get("info_no")),
                                    counterpart=_text(row.get("delegator")) or None, data=row,
                                    status="pending"))
    return out


def build_edges(record: DelegationRecord) -> list[DelegationEdge]:
    return [DelegationEdge(record_id=record.id, application_id=record.application_id,
                           family=FAMILY[record.kind], item=record.item, from_org=src[:40],
                           to_org=dst[:40], article=article[:200], rule_title=rule[:200],
                           declared_by=record.org_id)
            for src, dst, article, rule in rules.edges_of(record.kind, record.org_id,
                                                           record.data)
            if src and dst]


def _delegators(record: DelegationRecord) -> list[str]:
    seen: list[str] = []
    for d in record.data.get("delegators") or []:
        d = _text(d)
        if d and d != record.org_id and d not in seen:
            seen.append(d)
    return seen


# --- what a change touches ----------------------------------------------------------------

class Touched:
    """What records of one organisation (old and new) reach."""

    def __init__(self) -> None:
        self.orgs: set[str] = set()                          # filers
        self.keys: dict[Key, set[str]] = defaultdict(set)    # graph seeds per item
        self.pairs: set[tuple[str, str]] = set()             # (counterpart, item) named

    def add(self, records: Iterable[DelegationRecord]) -> None:
        for r in records:
            self.orgs.add(r.org_id)
            key = (FAMILY[r.kind], r.item)
            self.keys[key].add(r.org_id)
            for src, dst, *_ in rules.edges_of(r.kind, r.org_id, r.data):
                self.keys[key].update(o for o in (src, dst) if o)
            if r.kind in TWIN and r.counterpart:
                self.pairs.add((r.counterpart, r.item))


def _components(session: Session, seeds: dict[Key, set[str]]) -> dict[Key, tuple[set[str], list[Edge]]]:
    """The connected part of each item's graph around its seed organisations."""
    nodes = {k: set(v) for k, v in seeds.items()}
    found: dict[Key, dict[int, Edge]] = {k: {} for k in seeds}
    frontier = {k: set(v) for k, v in seeds.items() if v}
    columns = (DelegationEdge.id, DelegationEdge.family, DelegationEdge.item,
               DelegationEdge.from_org, DelegationEdge.to_org, DelegationEdge.article,
               DelegationEdge.rule_title, DelegationEdge.declared_by)
    while frontier:
        families = {k[0] for k in frontier}
        items = {k[1] for k in frontier}
        orgs = set().union(*frontier.values())
        # One query per end, each on its (family, item, org) index.
        rows = [row for end in (DelegationEdge.from_org, DelegationEdge.to_org)
                for row in session.execute(select(*columns).where(
                    DelegationEdge.family.in_(families), DelegationEdge.item.in_(items),
                    end.in_(orgs)))]
        grown: dict[Key, set[str]] = defaultdict(set)
        for row in rows:
            key = (row.family, row.item)
            edge_front = frontier.get(key)
            if not edge_front or (row.from_org not in edge_front
                                  and row.to_org not in edge_front):
                continue
            found[key][row.id] = Edge(row.from_org, row.to_org, row.article, row.rule_title,
                                      row.declared_by)
            for org in (row.from_org, row.to_org):
                if org not in nodes[key]:
                    nodes[key].add(org)
                    grown[key].add(org)
        frontier = dict(grown)
    return {k: (nodes[k], list(found[k].values())) for k in seeds}


def _records_where(session: Session, *conditions) -> list[DelegationRecord]:
    return list(session.scalars(select(DelegationRecord).where(*conditions)))


def _by_id(records: Iterable[DelegationRecord]) -> dict[int, DelegationRecord]:
    return {r.id: r for r in records}


# --- evaluation (shared by incremental and full matching) ----------------------------------

def chain_findings(records: Iterable[DelegationRecord],
                   edges: dict[Key, list[Edge]]) -> dict[tuple[Key, str], list[dict]]:
    """Graph findings per (item, organisation), for the items in ``edges``."""
    linking: dict[Key, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in records:
        key = (FAMILY[r.kind], r.item)
        if key in edges and r.kind in LINKING[key[0]]:
            named = (_delegators(r) if r.kind == QUERY
                     else [r.counterpart] if r.counterpart else [])
            linking[key][r.org_id].update(named)
    out: dict[tuple[Key, str], list[dict]] = {}
    for key, key_edges in edges.items():
        for org, found in analyse(key_edges, dict(linking.get(key, {})),
                                  family=key[0]).items():
            out[(key, org)] = found
    return out


def confirmation_findings(confirmations: Iterable[Confirmation]) -> list[dict]:
    out, pending = [], []
    for c in sorted(confirmations, key=lambda c: c.delegator_org):
        if c.status == "pending":
            pending.append(c.delegator_org)
        elif c.status == "disputed":
            out.append({"code": "disputed", "org": c.delegator_org, "reason": c.reason,
                        "message": f"委任元機関 {c.delegator_org} が委任情報に異議を申し立てて"
                                   f"います（理由: {c.reason}）。"})
    if pending:
        out.append({"code": "awaiting_confirmation", "orgs": pending,
                    "message": f"委任元機関 {'、'.join(pending)} の委任情報確認が済んでいません。"})
    return out


def _dedupe(findings: list[dict]) -> list[dict]:
    seen, out = set(), []
    for f in findings:
        key = (f["code"], f.get("field"), f.get("org"), f.get("party"), f.get("from"),
               f.get("to"), f.get("location"))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def evaluate(record: DelegationRecord, index: ProvisionIndex,
             chains: dict[tuple[Key, str], list[dict]],
             confirmations: list[Confirmation]) -> list[dict]:
    found = rules.local_findings(record.kind, record.org_id, record.data)
    if record.kind in TWIN:
        found += pair_findings(record, index) if record.counterpart else []
    key = (FAMILY[record.kind], record.item)
    for f in chains.get((key, record.org_id), ()):
        if f["code"] == "cycle" or record.kind in LINKING[key[0]]:
            found.append(f)
    if record.kind == QUERY:
        found += confirmation_findings(confirmations)
    return sorted(_dedupe(found), key=_finding_order)


def _finding_order(f: dict) -> tuple:
    rank = {s: i for i, s in enumerate(rules.STATUS_ORDER)}
    return (rank.get(rules.SEVERITY.get(f["code"], "error"), 0), f["code"],
            *(str(f.get(k) or "") for k in ("field", "org", "party", "from", "to",
                                            "location")),
            f["message"])


def _apply(record: DelegationRecord, findings: list[dict]) -> bool:
    """Store the outcome; True when it changed."""
    status = rules.status_of(record.kind, findings)
    detail = findings[0]["message"][:400] if findings else None
    if status == record.status and (record.findings or []) == findings:
        return False
    record.status, record.findings, record.detail = status, findings, detail
    return True


# --- incremental matching --------------------------------------------------------------

def rematch(session: Session, touched: Touched,
            extra: Iterable[DelegationRecord] = ()) -> set[int]:
    """Match again what ``touched`` reaches; returns the applications whose results
    changed.

    Re-evaluated: the given records, the 情報提供 records whose pairing reads the changed
    organisation's records, and in the touched part of each item's graph the records
    whose chain findings can change (those that link, and those on or leaving a cycle).
    """
    components = _components(session, dict(touched.keys))
    affected: dict[int, DelegationRecord] = _by_id(extra)
    provision = list(TWIN)
    if touched.orgs:
        affected.update(_by_id(_records_where(
            session, DelegationRecord.kind.in_(provision),
            DelegationRecord.counterpart.in_(touched.orgs))))
    if touched.pairs:
        wanted = touched.pairs
        for r in _records_where(session, DelegationRecord.org_id.in_({o for o, _ in wanted}),
                                DelegationRecord.item.in_({i for _, i in wanted})):
            if r.kind in TWIN and (r.org_id, r.item) in wanted:
                affected[r.id] = r
        # Second hand: whether X's record about N is paired decides whether it stands
        # against the other records that name X about N (a parties mismatch).
        for r in _records_where(session, DelegationRecord.counterpart.in_({o for o, _ in wanted}),
                                DelegationRecord.item.in_({i for _, i in wanted})):
            if r.kind in TWIN and (r.counterpart, r.item) in wanted:
                affected[r.id] = r
    # Items of affected records outside the touched graphs: evaluated, not widened.
    missing: dict[Key, set[str]] = defaultdict(set)
    for r in affected.values():
        key = (FAMILY[r.kind], r.item)
        if key not in components:
            missing[key].add(r.org_id)
    if missing:
        components.update(_components(session, dict(missing)))
    in_graph: dict[int, DelegationRecord] = {}
    by_item: dict[str, set[str]] = defaultdict(set)
    for (_family, item), (nodes, _edges) in components.items():
        by_item[item] |= nodes
    all_nodes = set().union(*by_item.values()) if by_item else set()
    if all_nodes:
        # On the (org_id, item) index: an item number alone is shared by the whole country.
        for r in _records_where(session, DelegationRecord.org_id.in_(all_nodes),
                                DelegationRecord.item.in_(set(by_item))):
            key = (FAMILY[r.kind], r.item)
            if key in components and r.org_id in components[key][0]:
                in_graph[r.id] = r
    for r in affected.values():
        in_graph.setdefault(r.id, r)
    chains = chain_findings(in_graph.values(), {k: e for k, (_n, e) in components.items()})
    for r in in_graph.values():
        key = (FAMILY[r.kind], r.item)
        if r.id in affected or key in missing:
            continue
        if (r.kind in LINKING[key[0]]
                or any(f["code"] == "cycle" for f in r.findings or ())
                or any(f["code"] == "cycle" for f in chains.get((key, r.org_id), ()))):
            affected[r.id] = r
    records = list(affected.values())
    index = _provision_index(session, [r for r in records if r.kind in TWIN])
    confirmations = _confirmations(session, [r.id for r in records if r.kind == QUERY])
    changed: set[int] = set()
    for r in records:
        if _apply(r, evaluate(r, index, chains, confirmations.get(r.id, []))):
            changed.add(r.application_id)
    session.flush()
    # How much one change cost (read by the benchmark).
    session.info["matching_evaluated"] = len(records)
    return changed


def _provision_index(session: Session, records: list[DelegationRecord]) -> ProvisionIndex:
    if not records:
        return ProvisionIndex([])
    provision = list(TWIN)
    orgs = {r.org_id for r in records} | {r.counterpart for r in records if r.counterpart}
    items = {r.item for r in records}
    # What pair_findings looks at: records between two of these organisations (any
    # item), records of these organisations about these items, and records naming the
    # affected organisations about their items.
    loaded = _records_where(session, DelegationRecord.kind.in_(provision),
                            DelegationRecord.org_id.in_(orgs),
                            DelegationRecord.counterpart.in_(orgs))
    loaded += _records_where(session, DelegationRecord.kind.in_(provision),
                             DelegationRecord.org_id.in_(orgs), DelegationRecord.item.in_(items))
    wanted = {(r.item, r.org_id) for r in records}
    loaded += [r for r in _records_where(
        session, DelegationRecord.kind.in_(provision),
        DelegationRecord.counterpart.in_({o for _, o in wanted}),
        DelegationRecord.item.in_(items)) if (r.item, r.counterpart) in wanted]
    return ProvisionIndex(list(_by_id(records + loaded).values()))


def _confirmations(session: Session, record_ids: list[int]) -> dict[int, list[Confirmation]]:
    out: dict[int, list[Confirmation]] = defaultdict(list)
    for start in range(0, len(record_ids), 500):
        chunk = record_ids[start:start + 500]
        for c in session.scalars(select(Confirmation).where(Confirmation.record_id.in_(chunk))):
            out[c.record_id].append(c)
    return out


# --- message handlers --------------------------------------------------------------------

MATCHING_LOCK = 0x6E77736D   # "nwsm"


def take_turn(session: Session) -> None:
    """Matching decides from other organisations' records: two changes matched at the same
    time could each miss the other. On PostgreSQL a transaction-scoped advisory lock makes
    them take turns; SQLite already admits one writer at a time (BEGIN IMMEDIATE)."""
    advisory_xact_lock(session, MATCHING_LOCK)


def _remove(session: Session, application_id: int, touched: "Touched") -> None:
    touched.add(_records_where(session, DelegationRecord.application_id == application_id))
    for model in (Confirmation, DelegationEdge):
        session.execute(delete(model).where(model.application_id == application_id))
    session.execute(delete(DelegationRecord).where(
        DelegationRecord.application_id == application_id))


def receive(ctx: ServiceContext, session: Session, payload: dict) -> None:
    """An application's (re)submission: replace its records and match what they touch.

    A 変更申請 carries the organisation's whole delegation rows as they will be once it
    is registered, and names the registered application it ``supersedes``: that one's
    records leave (it is ``superseded``) and its confirmation answers carry over to
    unchanged records; a withdrawn change gives them back (:func:`withdraw`)."""
    take_turn(session)
    app_id = payload["application_id"]
    known = session.get(MatchedApplication, app_id)
    if known is None:
        known = MatchedApplication(application_id=app_id, org_id=payload["org_id"],
                                   round=payload["round"], status="active")
        session.add(known)
    elif known.status == "withdrawn" or known.round > payload["round"]:
        return  # withdrawn, or a newer round is already here
    else:
        known.round, known.org_id, known.status = payload["round"], payload["org_id"], "active"
    supersedes = [i for i in payload.get("supersedes") or [] if i != app_id]
    known.supersedes = supersedes or None
    known.payload = payload
    answers = {(c.delegator_org, c.fingerprint): (c.status, c.reason, c.answered_by,
                                                   c.answered_at)
               for c in session.scalars(select(Confirmation).where(
                   Confirmation.application_id.in_([app_id, *supersedes])))
               if c.status != "pending"}
    touched = Touched()
    _remove(session, app_id, touched)
    for old_id in supersedes:
        old = session.get(MatchedApplication, old_id)
        if old is not None and old.status == "active":
            old.status = "superseded"
            _remove(session, old_id, touched)
    new = store_records(session, payload, answers)
    request_confirmations(ctx, session, payload)
    touched.add(new)
    changed = rematch(session, touched, extra=new) | {app_id}
    for application_id in sorted(changed):
        report(ctx, session, application_id)


def request_confirmations(ctx: ServiceContext, session: Session, payload: dict) -> int:
    """Tell each delegator asked to confirm (委任情報確認依頼 still pending) of this
    round, once per organisation: identity notifies its accounts."""
    delegators = sorted(set(session.scalars(select(Confirmation.delegator_org).where(
        Confirmation.application_id == payload["application_id"],
        Confirmation.status == "pending"))))
    for org_id in delegators:
        ctx.emit(session, "identity", "notification.requested", {
            "kind": "confirmation_requested", "org_id": org_id,
            "application_id": payload["application_id"], "number": payload.get("number"),
            "subject_org_name": payload.get("org_name") or payload["org_id"],
            "link": "/matching/confirmations"})
    return len(delegators)


def store_records(session: Session, payload: dict,
                  answers: dict | None = None) -> list[DelegationRecord]:
    """Store one round's records with their edges and confirmation requests (answers
    given earlier to an unchanged record carried over), without matching them."""
    new = build_records(payload)
    session.add_all(new)
    session.flush()
    for record in new:
        session.add_all(build_edges(record))
        if record.kind == QUERY:
            for delegator in _delegators(record):
                status, reason, by, at = (answers or {}).get(
                    (delegator, record.fingerprint), ("pending", None, None, None))
                session.add(Confirmation(
                    record_id=record.id, application_id=record.application_id,
                    delegatee_org=record.org_id, delegator_org=delegator[:40],
                    item=record.item, fingerprint=record.fingerprint, status=status,
                    reason=reason, answered_by=by, answered_at=at,
                    number=(payload.get("number") or None) and str(payload["number"])[:40],
                    delegatee_name=(payload.get("org_name") or None)
                    and str(payload["org_name"])[:200],
                    affair=str(record.data.get("affair") or "")[:400] or None))
    session.flush()
    return new


def withdraw(ctx: ServiceContext, session: Session, payload: dict) -> None:
    """An application was withdrawn: its records go (a withdrawn 変更申請 gives back the
    records of the registered application it superseded), its counterparts are matched
    again."""
    take_turn(session)
    app_id = payload["application_id"]
    known = session.get(MatchedApplication, app_id)
    if known is None:
        # Withdrawn before its records arrived: remember it, so they are never matched.
        session.add(MatchedApplication(application_id=app_id, org_id=payload["org_id"],
                                       round=0, status="withdrawn", withdrawn_at=utcnow()))
        return
    if known.status == "withdrawn":
        return
    known.status, known.withdrawn_at = "withdrawn", utcnow()
    # answers given meanwhile (carried over from the superseded records, or new) go back
    # with the restored records they still fit
    answers = {(c.delegator_org, c.fingerprint): (c.status, c.reason, c.answered_by,
                                                   c.answered_at)
               for c in session.scalars(select(Confirmation).where(
                   Confirmation.application_id == app_id)) if c.status != "pending"}
    touched = Touched()
    _remove(session, app_id, touched)
    restored: list[DelegationRecord] = []
    for old_id in known.supersedes or ():
        old = session.get(MatchedApplication, old_id)
        if old is not None and old.status == "superseded" and old.payload:
            old.status = "active"
            restored += store_records(session, old.payload, answers)
    touched.add(restored)
    session.flush()
    changed = rematch(session, touched, extra=restored) | {app_id}
    for application_id in sorted(changed):
        report(ctx, session, application_id)


def answer(ctx: ServiceContext, session: Session, confirmation: Confirmation, status: str,
           reason: str | None, actor: dict) -> None:
    """A 委任元's answer to a confirmation request: the record's outcome follows."""
    take_turn(session)
    try:
        session.refresh(confirmation)
    except InvalidRequestError:
        # Deleted since it was read: the delegatee resubmitted without this delegator,
        # or withdrew. An answer, not a server error.
        raise ApiError(409, "confirmation_gone",
                       "この委任情報確認依頼は、委任先機関の再提出または取り下げにより取り消されました。"
                       "一覧を更新して確認してください。") from None
    confirmation.status = status
    confirmation.reason = reason
    confirmation.answered_by = actor
    confirmation.answered_at = utcnow()
    session.flush()
    audit.record(session, "confirmation.answered", f"confirmation:{confirmation.id}",
                 {"answer": status, "application_id": confirmation.application_id,
                  "item": confirmation.item, "delegator": confirmation.delegator_org,
                  "reason": (reason or "")[:200]},
                 subject_org=confirmation.delegatee_org)
    record = session.get(DelegationRecord, confirmation.record_id)
    touched = Touched()
    touched.add([record])
    rematch(session, touched, extra=[record])
    report(ctx, session, record.application_id)


# --- full matching (benchmark, repair) ----------------------------------------------------

def rematch_all(session: Session) -> int:
    """Match every stored record from scratch; returns how many outcomes changed."""
    records = list(session.scalars(select(DelegationRecord)))
    edges: dict[Key, list[Edge]] = defaultdict(list)
    for row in session.execute(select(
            DelegationEdge.family, DelegationEdge.item, DelegationEdge.from_org,
            DelegationEdge.to_org, DelegationEdge.article, DelegationEdge.rule_title,
            DelegationEdge.declared_by)):
        edges[(row.family, row.item)].append(Edge(row.from_org, row.to_org, row.article,
                                                  row.rule_title, row.declared_by))
    chains = chain_findings(records, edges)
    index = ProvisionIndex([r for r in records if r.kind in TWIN])
    confirmations: dict[int, list[Confirmation]] = defaultdict(list)
    for c in session.scalars(select(Confirmation)):
        confirmations[c.record_id].append(c)
    changes = []
    for r in records:
        found = evaluate(r, index, chains, confirmations.get(r.id, []))
        status = rules.status_of(r.kind, found)
        if status != r.status or (r.findings or []) != found:
            detail = found[0]["message"][:400] if found else None
            changes.append({"id": r.id, "status": status, "findings": found, "detail": detail})
    session.expunge_all()
    for start in range(0, len(changes), 5000):
        session.execute(update(DelegationRecord), changes[start:start + 5000])
    return len(changes)


# --- reading ---------------------------------------------------------------------------------

def records_of(session: Session, application_id: int) -> list[DelegationRecord]:
    return list(session.scalars(select(DelegationRecord).where(
        DelegationRecord.application_id == application_id).order_by(DelegationRecord.id)))


def describe(record: DelegationRecord, confirmations: list[Confirmation] = ()) -> dict:
    findings = record.findings or []
    field = next((f["field"] for f in findings if f.get("field")), None)
    body = {"id": record.id, "kind": record.kind, "item": record.item,
            "item_name": record.data.get("affair") if record.kind == QUERY
            else record.data.get("info_name"),
            "counterpart": record.counterpart, "status": record.status,
            "field": field if record.status == "mismatched" else None,
            "detail": record.detail, "findings": findings}
    if record.kind == QUERY:
        body["delegators"] = _delegators(record)
        body["confirmations"] = [confirmation_view(c) for c in
                                 sorted(confirmations, key=lambda c: c.delegator_org)]
        body["confirmed_by"] = [c["org"] for c in body["confirmations"]
                                if c["status"] == "confirmed"]
        body["not_confirmed"] = [c["org"] for c in body["confirmations"]
                                 if c["status"] != "confirmed"]
    return body


def confirmation_view(c: Confirmation) -> dict:
    return {"id": c.id, "org": c.delegator_org, "status": c.status, "reason": c.reason,
            "answered_by": c.answered_by,
            "answered_at": c.answered_at.isoformat() if c.answered_at else None}


def results_of(session: Session, application_id: int) -> list[dict]:
    records = records_of(session, application_id)
    confirmations = _confirmations(session, [r.id for r in records if r.kind == QUERY])
    return [describe(r, confirmations.get(r.id, [])) for r in records]


def report(ctx: ServiceContext, session: Session, application_id: int) -> None:
    known = session.get(MatchedApplication, application_id)
    seq = 0
    if known is not None:
        # Reports are made under take_turn, so the numbers follow the commit order.
        known.reports = (known.reports or 0) + 1
        seq = known.reports
    body = {"application_id": application_id, "round": known.round if known else 0,
            "seq": seq, "records": results_of(session, application_id)}
    ctx.emit(session, "review", "matching.results", body)
    if known is not None and known.status == "active":
        # the master refreshes the matching status of registered rows in its next version
        ctx.emit(session, "master", "matching.results", {**body, "org_id": known.org_id})


def graph_of(session: Session, org_id: str, family: str | None = None, *,
             limit: int = 300) -> list[DelegationEdge]:
    """The edges reachable from ``org_id`` (both directions), at most ``limit`` (the
    delegation graph page)."""
    seen_orgs, queue, edges = {org_id}, deque([org_id]), {}
    while queue and len(edges) < limit:
        org = queue.popleft()
        stmt = select(DelegationEdge).where(or_(DelegationEdge.from_org == org,
                                                DelegationEdge.to_org == org))
        if family:
            stmt = stmt.where(DelegationEdge.family == family)
        for e in session.scalars(stmt.limit(limit)):
            edges.setdefault(e.id, e)
            for other in (e.from_org, e.to_org):
                if other not in seen_orgs:
                    seen_orgs.add(other)
                    queue.append(other)
    return sorted(edges.values(), key=lambda e: e.id)[:limit]
