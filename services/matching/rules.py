"""The rules one delegation record is checked against on its own, with no other record:
its legal basis is statutory, nobody delegates to itself, a declared chain is whole.

Everything here works on plain dicts (the 様03-08 rows as they arrive in messages), so
the same functions serve the service, the tests and the benchmark.

A finding is a dict ``{"code", "message", ...}`` with a stable English code and a
Japanese message; the status of a record is derived from its findings (:func:`status_of`).
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Iterable

from shared import legal

QUERY = "query"
DELEGATION = "provision_delegation"      # 様03-08 (2), filed by the 委任元
ACCEPTANCE = "provision_acceptance"      # 様03-08 (3), filed by the 委任先
TWIN = {DELEGATION: ACCEPTANCE, ACCEPTANCE: DELEGATION}
FAMILY = {QUERY: "query", DELEGATION: "provision", ACCEPTANCE: "provision"}
KIND_LABEL = {QUERY: "情報照会事務の委任（様03-08(1)）",
              DELEGATION: "情報提供の委任（様03-08(2)）",
              ACCEPTANCE: "情報提供の受任（様03-08(3)）"}

# The articles of the 地方自治法 in the 様03-08 pull-down; other statutory bases (a law,
# a cabinet or ministerial order, an ordinance, a rule, a 規約) are accepted too.
LOCAL_AUTONOMY_ARTICLES = ("地方自治法第180条の2", "地方自治法第180条の7",
                           "地方自治法第252条の14", "地方自治法第252条の17の2",
                           "地方自治法第284条")
STATUTORY = re.compile(r"(法|法律|政令|省令|府令|条例|規則|規約)")

# Status of a record from the worst of its findings, worst first.
SEVERITY = {
    "non_statutory_basis": "error", "missing_basis": "error", "self_delegation": "error",
    "cycle": "error", "broken_chain": "error", "no_delegator": "error",
    "mismatch": "mismatched",
    "undeclared_chain_basis": "chain_incomplete", "undeclared_delegator": "chain_incomplete",
    "chain_basis_differs": "mismatched",
    "disputed": "disputed",
    "counterpart_missing": "counterpart_missing",
    "awaiting_confirmation": "awaiting_confirmation",
}
STATUS_ORDER = ("error", "mismatched", "chain_incomplete", "disputed", "counterpart_missing",
                "awaiting_confirmation")


def norm(value) -> str:
    """Text as compared: NFKC (full-width digits become half-width), no spaces."""
    if value is None:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def basis_of(row: dict | None) -> tuple[str, str]:
    row = row or {}
    return norm(row.get("article")), norm(row.get("rule_title"))


def basis_label(article: str, rule_title: str = "") -> str:
    return f"{article}（{rule_title}）" if rule_title else (article or "根拠未記載")


def check_basis(basis: dict | None, where: str) -> list[dict]:
    """A basis must name a statute (law, ordinance, rule or 規約); 要綱・通知・要領 are
    refused. An instrument is judged by its kind, which its title's ending tells
    (shared.legal), never by a word inside it: 「…通知に関する事務の委任に関する規則」 is a
    規則."""
    article, rule_title = basis_of(basis)
    if not article:
        return [{"code": "missing_basis", "location": where,
                 "message": f"{where}: 委任の根拠となる法令が記載されていません。"}]
    kinds = ((article, legal.instrument_kind(legal.article_instrument(article))),
             (rule_title, legal.instrument_kind(rule_title) if rule_title else ""))
    for text, kind in kinds:
        if kind in legal.NON_STATUTORY_KINDS:
            return [{"code": "non_statutory_basis", "location": where,
                     "article": article, "rule_title": rule_title,
                     "message": f"{where}: 「{text}」は{kind}による委任です。要綱・通知・要領などによる"
                                "委任では情報提供ネットワークシステムを利用できません"
                                "（法律・条例・規則・規約に基づく委任が必要です）。"}]
    if not STATUTORY.search(article):
        return [{"code": "non_statutory_basis", "location": where, "article": article,
                 "rule_title": rule_title,
                 "message": f"{where}: 「{article}」は法令による根拠として認められません。"
                            "地方自治法第252条の14 などの条項を記載してください。"}]
    return []


def edges_of(kind: str, org: str, row: dict) -> list[tuple[str, str, str, str]]:
    """The delegation edges (from, to, article, rule_title) a record declares."""
    out = []
    for entry in row.get("chain") or []:
        article, rule_title = basis_of(entry)
        out.append((str(entry.get("from") or ""), str(entry.get("to") or ""), article,
                    rule_title))
    article, rule_title = basis_of(row.get("basis"))
    if kind == QUERY:
        if not out:
            out = [(str(d), org, article, rule_title) for d in row.get("delegators") or []]
    elif kind == ACCEPTANCE:
        delegator = str(row.get("delegator") or "")
        if delegator and not any(f == delegator and t == org for f, t, _a, _r in out):
            out.append((delegator, org, article, rule_title))
    elif kind == DELEGATION:
        delegatee = str(row.get("delegatee") or "")
        if delegatee:
            out.append((org, delegatee, article, rule_title))
    return out


def local_findings(kind: str, org: str, row: dict) -> list[dict]:
    """What is wrong with one record by itself."""
    out: list[dict] = []
    if kind == QUERY:
        delegators = [str(d) for d in row.get("delegators") or []]
        if not delegators:
            out.append({"code": "no_delegator", "location": "delegators",
                        "message": "委任元機関が記載されていません。"})
        if org in delegators:
            out.append({"code": "self_delegation", "location": "delegators", "org": org,
                        "message": f"委任元機関に自機関（{org}）が含まれています。"
                                   "自機関への委任はできません。"})
        out += check_basis(row.get("basis"), "委任の根拠")
    elif kind == ACCEPTANCE:
        if str(row.get("delegator") or "") == org:
            out.append({"code": "self_delegation", "location": "delegator", "org": org,
                        "message": f"委任元が自機関（{org}）です。自機関からの受任はできません。"})
        out += check_basis(row.get("basis"), "受任の根拠")
    elif kind == DELEGATION:
        if str(row.get("delegatee") or "") == org:
            out.append({"code": "self_delegation", "location": "delegatee", "org": org,
                        "message": f"委任先が自機関（{org}）です。自機関への委任はできません。"})
        if row.get("basis"):
            out += check_basis(row.get("basis"), "委任の根拠")
    chain = row.get("chain") or []
    for i, entry in enumerate(chain):
        where = f"委任の経路 {i + 1} 段目（{entry.get('from')}→{entry.get('to')}）"
        if entry.get("from") == entry.get("to"):
            out.append({"code": "self_delegation", "location": f"chain[{i}]",
                        "org": entry.get("from"),
                        "message": f"{where}: 委任元と委任先が同じ機関です。"})
        out += check_basis(entry, where)
    if chain:
        out += _chain_shape(kind, org, row, chain)
    return out


def _chain_shape(kind: str, org: str, row: dict, chain: list[dict]) -> list[dict]:
    out = []
    nodes = {str(e.get("from")) for e in chain} | {str(e.get("to")) for e in chain}
    if kind == QUERY:
        # (3) rows add the edge from their delegator themselves (edges_of); a query
        # row with a chain must spell out every step, ending at the filer.
        if not any(str(e.get("to")) == org for e in chain):
            out.append({"code": "broken_chain", "location": "chain",
                        "message": f"委任の経路が申請機関（{org}）に至っていません。"})
        delegators = [str(d) for d in row.get("delegators") or []]
        for d in delegators:
            if d and d not in nodes:
                out.append({"code": "undeclared_chain_basis", "location": "chain", "org": d,
                            "message": f"委任元機関 {d} からの委任の根拠が委任の経路に記載"
                                       "されていません。"})
        for node in sorted(nodes - set(delegators) - {org}):
            out.append({"code": "undeclared_delegator", "location": "delegators", "org": node,
                        "message": f"委任の経路にある {node} が委任元機関に記載されていません"
                                   "（委任元機関はすべて記載してください）。"})
    direct = [basis_of(e) for e in chain if str(e.get("to")) == org]
    own = basis_of(row.get("basis"))
    if direct and own[0] and own not in direct:
        out.append({"code": "mismatch", "field": "basis", "location": "basis",
                    "message": f"委任の根拠（{basis_label(*own)}）が委任の経路の申請機関への"
                               f"委任の根拠（{basis_label(*direct[0])}）と異なります。"})
    return out


def fingerprint(kind: str, org: str, row: dict) -> str:
    """What a 委任元 confirmed: a change of any of it asks for a new confirmation."""
    body = {"kind": kind, "org": org, "item": norm(row.get("item_no")),
            "procedure": norm(row.get("procedure")), "basis": basis_of(row.get("basis")),
            "delegators": sorted(str(d) for d in row.get("delegators") or []),
            "chain": [(str(e.get("from")), str(e.get("to")), *basis_of(e))
                      for e in row.get("chain") or []]}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True)
                          .encode()).hexdigest()[:32]


def status_of(kind: str, findings: Iterable[dict]) -> str:
    seen = {SEVERITY.get(f["code"], "error") for f in findings}
    for status in STATUS_ORDER:
        if status in seen:
            return status
    return "confirmed" if kind == QUERY else "matched"
