"""Pairing of 情報提供 delegation records: the 委任元's (2) with the 委任先's (3).

A record is paired with the other side's record of the opposite kind for the same
特定個人情報 that names it back. Without one, the record is *mismatched* when an unpaired
record of the other kind disagrees with it (the same 特定個人情報 with another party: field
``parties``; another 特定個人情報 between the same two organisations: field ``item``),
and otherwise its counterpart is *missing*. A pair whose names or bases differ is *mismatched* too
(``item`` or ``basis``).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Protocol

from services.matching.rules import ACCEPTANCE, DELEGATION, TWIN, basis_label, basis_of, norm

ROLE = {DELEGATION: "委任先", ACCEPTANCE: "委任元"}
FORM = {DELEGATION: "様03-08(3) 受任情報", ACCEPTANCE: "様03-08(2) 委任情報"}


class RecordLike(Protocol):
    org_id: str
    kind: str
    item: str
    counterpart: str | None
    data: dict


class ProvisionIndex:
    """The 情報提供 records at hand, looked up by who filed them and whom they name."""

    def __init__(self, records: Iterable[RecordLike]) -> None:
        self.by_pair: dict[tuple[str, str | None], list[RecordLike]] = defaultdict(list)
        self.by_org_item: dict[tuple[str, str], list[RecordLike]] = defaultdict(list)
        self.by_item_counterpart: dict[tuple[str, str | None], list[RecordLike]] = \
            defaultdict(list)
        seen: set[int] = set()
        for r in records:
            if r.kind not in TWIN or id(r) in seen:
                continue
            seen.add(id(r))
            self.by_pair[(r.org_id, r.counterpart)].append(r)
            self.by_org_item[(r.org_id, r.item)].append(r)
            self.by_item_counterpart[(r.item, r.counterpart)].append(r)

    def twins(self, r: RecordLike) -> list[RecordLike]:
        return [x for x in self.by_pair.get((r.counterpart or "", r.org_id), ())
                if x.kind == TWIN[r.kind] and x.item == r.item]

    def has_twin(self, r: RecordLike) -> bool:
        return bool(self.twins(r))


def _name(r: RecordLike) -> str:
    return norm(r.data.get("info_name"))


def pair_findings(r: RecordLike, index: ProvisionIndex) -> list[dict]:
    """The pairing findings of one (2) or (3) record (empty when it is matched)."""
    other = r.counterpart or ""
    role = ROLE[r.kind]
    twins = index.twins(r)
    if twins:
        best = None
        for twin in sorted(twins, key=lambda x: getattr(x, "id", 0) or 0):
            diffs = _differences(r, twin)
            if not diffs:
                return []
            best = best or diffs
        return best or []
    out = []
    # Only the other side's records that are not paired themselves can be meant for this
    # one: a union legitimately receives the same 特定個人情報 from several members.
    # The counterpart filed this 特定個人情報 with another party.
    for x in index.by_org_item.get((other, r.item), ()):
        if x.kind == TWIN[r.kind] and x.counterpart != r.org_id and not index.has_twin(x):
            out.append({"code": "mismatch", "field": "parties", "org": other,
                        "party": x.counterpart, "message": f"{other} は特定個人情報 {r.item} について {x.counterpart} を"
                                   f"{ROLE[x.kind]}として申請しています（{r.org_id} ではありません）。"})
    # Someone else filed this 特定個人情報 naming this organisation.
    for x in index.by_item_counterpart.get((r.item, r.org_id), ()):
        if x.kind == TWIN[r.kind] and x.org_id != other and not index.has_twin(x):
            out.append({"code": "mismatch", "field": "parties", "org": x.org_id,
                        "party": other, "message": f"特定個人情報 {r.item} について、{x.org_id} が {r.org_id} を"
                                   f"{ROLE[x.kind]}として申請しています（申請した{role}は {other}）。"})
    if out:
        return out
    # The counterpart filed, with this organisation, another 特定個人情報 that has no pair.
    loose = [x for x in index.by_pair.get((other, r.org_id), ())
             if x.kind == TWIN[r.kind] and not index.has_twin(x)]
    if loose:
        items = "、".join(sorted({x.item for x in loose}))
        return [{"code": "mismatch", "field": "item", "org": other,
                 "message": f"{other} は {r.org_id} との間で特定個人情報 {r.item} ではなく "
                            f"{items} を申請しています。"}]
    return [{"code": "counterpart_missing", "org": other,
             "message": f"{role} {other} の{FORM[r.kind]}（特定個人情報 {r.item}）が"
                        "まだ申請されていません。"}]


def _differences(r: RecordLike, twin: RecordLike) -> list[dict]:
    out = []
    if _name(r) and _name(twin) and _name(r) != _name(twin):
        out.append({"code": "mismatch", "field": "item", "org": twin.org_id,
                    "message": f"特定個人情報 {r.item} の名称が異なります（{r.org_id}:「"
                               f"{r.data.get('info_name')}」、{twin.org_id}:「"
                               f"{twin.data.get('info_name')}」）。"})
    mine, theirs = basis_of(r.data.get("basis")), basis_of(twin.data.get("basis"))
    if mine[0] and theirs[0] and (mine[0] != theirs[0]
                                  or (mine[1] and theirs[1] and mine[1] != theirs[1])):
        out.append({"code": "mismatch", "field": "basis", "org": twin.org_id,
                    "message": f"特定個人情報 {r.item} の委任の根拠が異なります（{r.org_id}: "
                               f"{basis_label(*mine)}、{twin.org_id}: {basis_label(*theirs)}）。"})
    return out
