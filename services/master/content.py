"""What an approved application contributes to the master: rows per table, by key.

A form present in the approved application replaces all of the organisation's rows in
the tables it feeds; tables fed by forms it does not include are left as they are (so a
変更申請 changes only what it changes).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

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
}
PUBLISHED_TABLES = tuple(TABLE_SOURCES)


def canonical(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_hash(table: str, key: str, data: Any) -> str:
    return hashlib.sha256(f"{table}\x1f{key}\x1f{canonical(data)}".encode()).hexdigest()


def rows_from(org: dict, forms: dict[str, dict], catalog_version: str | None = None,
              matching: list[dict] | None = None) -> dict[str, dict[str, dict]]:
    """{table: {key: data}} for the tables this application covers. Query affairs and
    provided information carry the catalog version the application was made against;
    delegation rows carry the matching status 総務省 saw when approving (when known)."""
    oid = org["id"]
    status = {(m.get("kind"), str(m.get("item")), m.get("counterpart")): m.get("status")
              for m in matching or ()}

    def matched(row: dict, kind: str, item, counterpart=None) -> dict:
        found = status.get((kind, str(item), counterpart))
        return {**row, "matching_status": found} if found else row

    out: dict[str, dict[str, dict]] = {
        "organisations": {oid: {k: org.get(k) for k in
                                ("id", "name", "kind", "branch", "prefecture_code", "parent_id")}}}
    f0201 = forms.get("02-01")
    if f0201 is not None:
        out["responsibility"] = {oid: {"org_id": oid, **{k: f0201.get(k) for k in
                                 ("system_chief", "system_manager", "staff")}}}
    f0202 = forms.get("02-02")
    if f0202 is not None:
        out["contact_chiefs"] = {oid: {"org_id": oid, **(f0202.get("contact_chief") or {})}}
        out["contacts"] = {
            f"{oid}|{c['priority']}": {"org_id": oid, **{k: c.get(k) for k in
                                       ("priority", "department", "name", "phone", "email")}}
            for c in f0202.get("normal_contacts", [])}
    f0307 = forms.get("03-07")
    if f0307 is not None:
        out["query_affairs"] = {
            f"{oid}|{r['item_no']}": {"org_id": oid, **r, "catalog_version": catalog_version}
            for r in f0307.get("query_affairs", [])}
        out["provided_info"] = {
            f"{oid}|{r['info_no']}": {"org_id": oid, **r, "catalog_version": catalog_version}
            for r in f0307.get("provided_info", [])}
    f0308 = forms.get("03-08")
    if f0308 is not None:
        out["query_delegations"] = {
            f"{oid}|{r.get('item_no')}": matched({"org_id": oid, **r}, "query", r.get("item_no"))
            for r in f0308.get("query_delegations", [])}
        out["provision_delegations"] = {
            f"{oid}|{r.get('info_no')}|{r.get('delegatee')}": matched(
                {"org_id": oid, **r}, "provision_delegation", r.get("info_no"), r.get("delegatee"))
            for r in f0308.get("provision_delegations", [])}
        out["provision_acceptances"] = {
            f"{oid}|{r.get('info_no')}|{r.get('delegator')}": matched(
                {"org_id": oid, **r}, "provision_acceptance", r.get("info_no"), r.get("delegator"))
            for r in f0308.get("provision_acceptances", [])}
    f0309 = forms.get("03-09")
    if f0309 is not None:
        out["independent_affairs"] = {f"{oid}|{r.get('case_no')}": {"org_id": oid, **r}
                                      for r in f0309.get("independent_affairs", [])}
    return out


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
