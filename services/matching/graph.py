"""The delegation graph of one item across organisations, and what it asks of the
organisation that actually links.

Nodes are organisations; an edge ``A → B`` says A delegated the item (a 別表 affair for
情報照会, a 特定個人情報 for 情報提供) to B, with a basis, as declared by one organisation
in one record. The graph of an item is the union of every organisation's declarations, so
a chain 県A → 市B → 一部事務組合C is seen whole even if each organisation filed only its
own step. Pure functions over plain tuples: the service, its tests and the benchmark
call the same code.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, NamedTuple

from services.matching.rules import basis_label


class Edge(NamedTuple):
    src: str
    dst: str
    article: str
    rule_title: str
    declared_by: str


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one organisation (each one holds a
    cycle), every component sorted; found with an iterative Tarjan."""
    adj: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if e.src != e.dst:
            adj[e.src].add(e.dst)
            adj.setdefault(e.dst, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(adj):
        if root in index:
            continue
        work = [(root, iter(sorted(adj[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adj[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def analyse(edges: list[Edge], linking: dict[str, set[str]], *,
            family: str) -> dict[str, list[dict]]:
    """Findings per organisation for one item's graph (or a connected part of it).

    ``linking`` maps each organisation that filed a record which makes it link (a
    情報照会 delegation, or a 情報提供 受任) to the 委任元 it named. An organisation links
    when it passes the item on to nobody; it must then declare every edge on every chain
    that leads to it through an edge it declared, and (for 情報照会) name every
    organisation on them as a 委任元.
    Organisations on a cycle get a ``cycle`` finding.
    """
    out: dict[str, list[dict]] = defaultdict(list)
    for component in cycles(edges):
        path = "→".join(component + component[:1])
        for org in component:
            out[org].append({"code": "cycle", "orgs": component,
                             "message": f"委任が循環しています（{path} を含む循環）。"
                                        "委任の経路を確認してください。"})
    into: dict[str, list[Edge]] = defaultdict(list)
    passes_on: set[str] = set()
    for e in edges:
        if e.src != e.dst:
            into[e.dst].append(e)
            passes_on.add(e.src)
    for org, named in linking.items():
        if org in passes_on:
            continue
        # The chains that end in an edge this organisation declared itself: an edge into
        # it that only the other side filed is a pairing matter, not a chain one.
        required: dict[tuple[str, str], list[Edge]] = defaultdict(list)
        seen, todo = {org}, []
        for e in into.get(org, ()):
            if e.declared_by == org:
                required[(e.src, e.dst)].append(e)
                if e.src not in seen:
                    seen.add(e.src)
                    todo.append(e.src)
        for e in into.get(org, ()):
            if e.declared_by != org and (e.src, e.dst) in required:
                required[(e.src, e.dst)].append(e)
        while todo:
            node = todo.pop()
            for e in into.get(node, ()):
                required[(e.src, e.dst)].append(e)
                if e.src not in seen:
                    seen.add(e.src)
                    todo.append(e.src)
        declared: dict[tuple[str, str], tuple[str, str]] = {}
        for e in edges:
            if e.declared_by == org:
                declared.setdefault((e.src, e.dst), (e.article, e.rule_title))
        for (src, dst), found in sorted(required.items()):
            others = [(e.article, e.rule_title) for e in found
                      if e.declared_by != org and e.article]
            if (src, dst) not in declared:
                known = others[0] if others else ("", "")
                out[org].append({
                    "code": "undeclared_chain_basis", "from": src, "to": dst,
                    "article": known[0], "rule_title": known[1],
                    "message": f"委任の経路 {src}→{dst} の根拠"
                               f"（{basis_label(*known) if known[0] else '根拠未申告'}）が"
                               "申請されていません。実際に情報連携を行う機関は経路上の"
                               "すべての委任の根拠を記載してください。"})
                continue
            mine = declared[(src, dst)]
            if mine[0] and others and not any(_same_basis(mine, o) for o in others):
                out[org].append({
                    "code": "chain_basis_differs", "field": "basis", "from": src, "to": dst,
                    "article": others[0][0], "rule_title": others[0][1],
                    "message": f"委任の経路 {src}→{dst} の根拠が、申請した内容"
                               f"（{basis_label(*mine)}）と他機関の申請"
                               f"（{basis_label(*others[0])}）とで異なります。"})
        if family == "query":
            for upstream in sorted(seen - {org} - named):
                out[org].append({
                    "code": "undeclared_delegator", "org": upstream,
                    "message": f"委任の経路にある {upstream} が委任元機関に記載されていません"
                               "（委任元機関はすべて記載してください）。"})
    return out


def _same_basis(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Same article, and the same rule where both name one."""
    return a[0] == b[0] and (not a[1] or not b[1] or a[1] == b[1])
