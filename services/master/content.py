"""What an approved application contributes to the master: rows per table, by key.

A 接続申請 (the first registration) replaces all of the organisation's rows in the
tables its forms feed. A 変更申請 changes the registered rows row by row: each row of a
list form (様03-07, 03-08, 03-09) carries its 申請区分, applied by key — 登録 adds,
変更 replaces, 削除 removes, 変更なし leaves the registered row alone — and rows the
change does not mention stay exactly as registered (shared.rowops). A single-record
form (02-01, 02-02) replaces its record when included. Tables fed by forms the
application does not include are left as they are.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from shared import rowops

# table -> the form that feeds it
TABLE_SOURCES = {
    "organisations": None,                    # every registration refreshes it
    "responsibility": "02-01",
    "contact_chiefs": "02-02",
    "contacts": "02-02",
    "query_affairs": "03-07",
    "provided_info": "03-07",
    "query_delegations": "03-08",
    "provision_delegations": "03-08",
    "provision_acceptances": "03-08",
    "independent_affairs": "03-09",
    "connections": "03-06",
}
PUBLISHED_TABLES = tuple(TABLE_SOURCES)
# list tables: (form, list field, the columns that key a row after the organisation)
LIST_TABLES = {
    "query_affairs": ("03-07", "query_affairs", ("item_no",)),
    "provided_info": ("03-07", "provided_info", ("info_no",)),
    "query_delegations": ("03-08", "query_delegations", ("item_no",)),
    "provision_delegations": ("03-08", "provision_delegations", ("info_no", "delegatee")),
    "provision_acceptances": ("03-08", "provision_acceptances", ("info_no", "delegator")),
    "independent_affairs": ("03-09", "independent_affairs", ("case_no",)),
}
# what the matching status of a delegation row is looked up by
MATCH_KINDS = {"query_delegations": ("query", "item_no", None),
               "provision_delegations": ("provision_delegation", "info_no", "delegatee"),
               "provision_acceptances": ("provision_acceptance", "info_no", "delegator")}


def canonical(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_hash(table: str, key: str, data: Any) -> str:
    return hashlib.sha256(f"{table}\x1f{key}\x1f{canonical(data)}".encode()).hexdigest()


@dataclasses.dataclass
class TableChange:
    """What one application does to one table of its organisation: ``whole`` replaces
    every row with ``rows``; otherwise ``rows`` are added or replaced by key and the
    keys in ``deleted`` removed."""

    rows: dict[str, dict]
    deleted: set[str] = dataclasses.field(default_factory=set)
    whole: bool = True


def rows_from(org: dict, forms: dict[str, dict], catalog_version: str | None = None,
              matching: list[dict] | None = None, kind: str = "connection"
              ) -> dict[str, TableChange]:
    """{table: TableChange} for the tables this application covers. Query affairs and
    provided information carry the catalog version the application was made against;
    delegation rows carry the matching status 総務省 saw when approving (when known).
    Rows are stored without their 申請区分."""
    oid = org["id"]
    status = {(m.get("kind"), str(m.get("item")), m.get("counterpart")): m.get("status")
              for m in matching or ()}
    change = kind == "change"

    out: dict[str, TableChange] = {
        "organisations": TableChange({oid: {k: org.get(k) for k in
                                            ("id", "name", "kind", "branch",
                                             "prefecture_code", "parent_id")}})}
    f0201 = forms.get("02-01")
    if f0201 is not None:
        out["responsibility"] = TableChange({oid: {"org_id": oid, **{k: f0201.get(k) for k in
                                            ("system_chief", "system_manager", "staff")}}})
    f0306 = forms.get("03-06")
    if f0306 is not None:
        # 有効開始日 is the master's: set when the connection is first registered
        # (services/master/registry.py), kept by later changes
        out["connections"] = TableChange({oid: {
            "org_id": oid, "address": f0306.get("address"),
            "uses_interface_asp": f0306.get("uses_interface_asp"),
            "valid_from": None,
            "valid_to_undetermined": f0306.get("valid_to_undetermined"),
            "valid_to": f0306.get("valid_to")}})
    f0202 = forms.get("02-02")
    if f0202 is not None:
        out["contact_chiefs"] = TableChange({oid: {"org_id": oid,
                                                   **(f0202.get("contact_chief") or {})}})
        out["contacts"] = TableChange({
            f"{oid}|{c['priority']}": {"org_id": oid, **{k: c.get(k) for k in
                                       ("priority", "department", "name", "phone", "email")}}
            for c in f0202.get("normal_contacts", [])})
    for table, (code, field, columns) in LIST_TABLES.items():
        form = forms.get(code)
        if form is None:
            continue
        found = TableChange({}, whole=not change)
        for row in form.get(field) or []:
            key = f"{oid}|{rowops.key_of(row, columns)}"
            op = rowops.row_type(row)
            if op == rowops.DELETE:
                found.deleted.add(key)
                continue
            if op == rowops.KEEP and change:
                continue
            data = {"org_id": oid, **rowops.content(row)}
            if table in ("query_affairs", "provided_info"):
                data["catalog_version"] = catalog_version
            if table in MATCH_KINDS:
                match_kind, item, other = MATCH_KINDS[table]
                seen = status.get((match_kind, str(row.get(item)),
                                   row.get(other) if other else None))
                if seen:
                    data["matching_status"] = seen
            found.rows[key] = data
        out[table] = found
    return out


def matching_keys(org_id: str, records: list[dict]) -> dict[tuple[str, str], str]:
    """{(table, key): status} of the delegation rows matching reports on."""
    tables = {kind: (table, other) for table, (kind, _item, other) in MATCH_KINDS.items()}
    out = {}
    for r in records or ():
        found = tables.get(r.get("kind"))
        if found is None or not r.get("status"):
            continue
        table, other = found
        key = f"{org_id}|{r.get('item')}" + (f"|{r.get('counterpart')}" if other else "")
        out[(table, key)] = r["status"]
    return out


def self_check(forms: dict[str, dict]) -> dict | None:
    """様02-06 安全管理措置確認結果 as the master keeps it (restricted: 総務省 and operators
    read it, it is never versioned, exported or delivered)."""
    f0206 = forms.get("02-06")
    if f0206 is None:
        return None
    return {"reporter": f0206.get("reporter"), "checks": list(f0206.get("checks") or []),
            "application_date": f0206.get("application_date")}


def emergency_contacts(forms: dict[str, dict]) -> list[dict] | None:
    f0202 = forms.get("02-02")
    return None if f0202 is None else list(f0202.get("emergency_contacts", []))


MOD = 2 ** 256


def combine(checksum: str, added: list[str], removed: list[str]) -> str:
    """The content checksum: the sum of every current row's hash modulo 2^256, so a
    registration updates it from the rows it changes alone."""
    value = int(checksum, 16)
    value = (value + sum(int(h, 16) for h in added) - sum(int(h, 16) for h in removed)) % MOD
    return f"{value:064x}"
