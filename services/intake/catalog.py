"""The legal reference catalog, versioned, and what it allows each organisation.

Affairs side: the rows of the 番号法 別表 (``refdata/bangouhou_beppyo_*.csv``), each with
a condition on organisations from the reviewed mapping ``refdata/beppyo_conditions.csv``.
Provider side: 特定個人情報 and who provides them, from an operator-supplied CSV (format in
docs/reference-data.md; the repository ships only an example that is not law).

Conditions are small expressions (grammar in docs/reference-data.md)::

    expr := term ("|" term)*        term := atom ("&" atom)*
    atom := ROLE | "attr:" KEY | "org:" CODE | "none"

A condition evaluates to True (follows from the organisation), None (depends on a fact
the registry does not know: the applicant chooses explicitly) or False.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit
from shared.db import utcnow
from services.intake.models import CatalogAffair, CatalogInfo, CatalogVersion, Organisation
from services.intake.registry import (ATTRIBUTES, MUNICIPAL_KINDS, REFDATA, UNION_KINDS,
                                      attribute_value, members_of)

BEPPYO_CSV = REFDATA / "bangouhou_beppyo_riyou_jimu_2025-09-24.csv"
CONDITIONS_CSV = REFDATA / "beppyo_conditions.csv"
EXAMPLE_PROVIDED_INFO_CSV = REFDATA / "EXAMPLE_provided_info_NOT_LAW.csv"
EXAMPLE_PROCEDURES_CSV = REFDATA / "EXAMPLE_procedures_NOT_LAW.csv"

# Roles a condition can name: (branch, organisation kinds).
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "都道府県知事": ("executive", ("都道府県",)),
    "市町村長": ("executive", MUNICIPAL_KINDS),              # 特別区の区長を含む (番号法第7条)
    "市長": ("executive", ("政令指定都市", "特別区", "市")),  # 特別区の区長を含む
    "指定都市長": ("executive", ("政令指定都市",)),
    "町村長": ("executive", ("町", "村")),
    "都道府県教育委員会": ("board_of_education", ("都道府県",)),
    "市町村教育委員会": ("board_of_education", MUNICIPAL_KINDS),
    "後期高齢者医療広域連合": ("union", ("後期高齢者医療広域連合",)),
    "一部事務組合": ("union", ("一部事務組合",)),
    "広域連合": ("union", ("広域連合", "後期高齢者医療広域連合")),
}


class CatalogError(ValueError):
    """Reference data that cannot be loaded (a message for the operator)."""


# --- Conditions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """A parsed condition: a disjunction of conjunctions of atoms."""

    source: str
    terms: tuple[tuple[str, ...], ...]

    def evaluate(self, org: Organisation) -> bool | None:
        result: bool | None = False
        for term in self.terms:
            value = _and(_atom(atom, org) for atom in term)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    def unknown_attributes(self, org: Organisation) -> list[str]:
        """The attributes that keep a None result undecided (for the reason text)."""
        keys: list[str] = []
        for term in self.terms:
            values = [(_atom(a, org), a) for a in term]
            if any(v is False for v, _ in values):
                continue
            keys += [a[5:] for v, a in values if v is None and a[5:] not in keys]
        return keys

    @property
    def never(self) -> bool:
        return self.terms == (("none",),)


def _and(values: Iterable[bool | None]) -> bool | None:
    result: bool | None = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _atom(atom: str, org: Organisation) -> bool | None:
    if atom == "none":
        return False
    if atom.startswith("attr:"):
        return attribute_value(org, atom[5:])
    if atom.startswith("org:"):
        return org.branch == "executive" and org.lg_code == atom[4:]
    branch, kinds = ROLES[atom]
    return org.branch == branch and org.kind in kinds


@functools.lru_cache(maxsize=1024)
def parse_condition(text: str) -> Condition:
    """Parse and check a condition; CatalogError names what is wrong (parsed conditions
    are immutable and cached)."""
    terms = []
    for raw_term in text.split("|"):
        atoms = tuple(a.strip() for a in raw_term.split("&"))
        for atom in atoms:
            if not atom:
                raise CatalogError(f"empty operand in condition {text!r}")
            if atom == "none":
                if len(atoms) > 1 or "|" in text:
                    raise CatalogError(f"'none' must stand alone in {text!r}")
            elif atom.startswith("attr:"):
                if atom[5:] not in ATTRIBUTES:
                    raise CatalogError(f"unknown attribute {atom[5:]!r} in {text!r}")
            elif atom.startswith("org:"):
                if not atom[4:].isdigit() or len(atom[4:]) != 6:
                    raise CatalogError(f"org: needs a 6-digit code in {text!r}")
            elif atom not in ROLES:
                raise CatalogError(f"unknown role {atom!r} in {text!r}")
        terms.append(atoms)
    return Condition(text.strip(), tuple(terms))


# --- Loading a version ------------------------------------------------------------------

def _read_csv(path: Path) -> tuple[bytes, list[dict]]:
    """The file's bytes (for the checksum) and its rows; lines starting with '#' are
    comments."""
    if not path.exists():
        raise CatalogError(f"{path}: file not found")
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return raw, list(csv.DictReader(io.StringIO("\n".join(lines))))


def _require_columns(path: Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    if rows and not set(columns) <= set(rows[0]):
        raise CatalogError(f"{path.name}: needs columns {', '.join(columns)}")


def read_catalog(beppyo: Path = BEPPYO_CSV, conditions: Path = CONDITIONS_CSV,
                 provided_info: Path | None = EXAMPLE_PROVIDED_INFO_CSV,
                 procedures: Path | None = EXAMPLE_PROCEDURES_CSV
                 ) -> tuple[str, list[dict], list[dict], list[dict]]:
    """Read and check the files: (checksum, affairs, info, sources). ``procedures`` lists
    the individual procedures (手続) of 別表 items where the operator knows them."""
    digest = hashlib.sha256()
    sources = []
    raw_b, law = _read_csv(beppyo)
    raw_c, mapping = _read_csv(conditions)
    _require_columns(beppyo, law, ("項番", "行政機関等（上欄）", "事務（下欄）"))
    _require_columns(conditions, mapping, ("項番", "行政機関等（上欄、照合用）", "condition", "note"))
    files = [(beppyo, raw_b), (conditions, raw_c)]
    by_item = {}
    for r in mapping:
        if r["項番"] in by_item:
            raise CatalogError(f"{conditions.name}: 項番 {r['項番']} appears twice")
        by_item[r["項番"]] = r
    affairs = []
    for seq, r in enumerate(law, 1):
        item_no = r["項番"]
        m = by_item.pop(item_no, None)
        if m is None:
            raise CatalogError(f"{conditions.name}: no condition for 別表 項番 {item_no}")
        if m["行政機関等（上欄、照合用）"] != r["行政機関等（上欄）"]:
            raise CatalogError(f"{conditions.name}: 項番 {item_no} was reviewed against another "
                               f"上欄 text; review the mapping against the law again")
        cond = parse_condition(m["condition"])
        affairs.append({"seq": seq, "item_no": item_no, "authority": r["行政機関等（上欄）"],
                        "affair": r["事務（下欄）"], "condition": cond.source,
                        "note": m["note"]})
    if by_item:
        raise CatalogError(f"{conditions.name}: 項番 not in the 別表: {', '.join(by_item)}")
    if procedures is not None:
        raw_x, listed = _read_csv(procedures)
        _require_columns(procedures, listed, ("項番", "手続", "note"))
        files.append((procedures, raw_x))
        by_no = {a["item_no"]: a for a in affairs}
        for seq, r in enumerate(listed, 1):
            item_no, name = (r["項番"] or "").strip(), (r["手続"] or "").strip()
            where = f"{procedures.name} row {seq} ({item_no})"
            if item_no not in by_no:
                raise CatalogError(f"{where}: 別表 項番 not in the 別表")
            if not name:
                raise CatalogError(f"{where}: 手続 is required")
            held = by_no[item_no].setdefault("procedures", [])
            if name in held:
                raise CatalogError(f"{where}: 手続 appears twice")
            held.append(name)
    info = []
    if provided_info is not None:
        raw_p, provided = _read_csv(provided_info)
        _require_columns(provided_info, provided,
                         ("info_no", "info_name", "provider", "item_nos", "note"))
        files.append((provided_info, raw_p))
        items = {a["item_no"] for a in affairs}
        seen = set()
        for seq, r in enumerate(provided, 1):
            info_no = (r["info_no"] or "").strip()
            where = f"{provided_info.name} row {seq} ({info_no})"
            if not info_no or not (r["info_name"] or "").strip():
                raise CatalogError(f"{where}: info_no and info_name are required")
            if info_no in seen:
                raise CatalogError(f"{where}: info_no appears twice")
            seen.add(info_no)
            cond = parse_condition(r["provider"] or "")
            item_nos = (r["item_nos"] or "").split()
            unknown = [i for i in item_nos if i not in items]
            if unknown:
                raise CatalogError(f"{where}: 別表 項番 not in the 別表: {', '.join(unknown)}")
            info.append({"seq": seq, "info_no": info_no, "info_name": r["info_name"].strip(),
                         "provider": cond.source, "item_nos": item_nos,
                         "note": r["note"] or ""})
    for path, raw in files:
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        sources.append({"file": path.name, "sha256": hashlib.sha256(raw).hexdigest(),
                        "example": path.name.startswith("EXAMPLE")})
    return digest.hexdigest(), affairs, info, sources


def load_catalog(session: Session, **files) -> dict:
    """Load the catalog; the same content keeps its version, changed content makes a new
    one (which becomes current). Applications keep the version they were made against."""
    checksum, affairs, info, sources = read_catalog(**files)
    existing = session.scalar(select(CatalogVersion).where(CatalogVersion.checksum == checksum))
    current = current_version(session)
    if existing is not None:
        if current is not None and current.id != existing.id:
            existing.activated_at = utcnow()
            return {"version": existing.id, "status": "reactivated"}
        return {"version": existing.id, "status": "unchanged"}
    seq = (session.scalar(select(CatalogVersion.seq).order_by(CatalogVersion.seq.desc())
                          .limit(1)) or 0) + 1
    version = CatalogVersion(id=f"v{seq}-{checksum[:10]}", seq=seq, checksum=checksum,
                             sources=sources, activated_at=utcnow())
    session.add(version)
    session.flush()
    session.add_all(CatalogAffair(version_id=version.id, **a) for a in affairs)
    session.add_all(CatalogInfo(version_id=version.id, **i) for i in info)
    session.flush()
    return {"version": version.id, "status": "loaded", "affairs": len(affairs),
            "provided_info": len(info), "example_files": [s["file"] for s in sources
                                                          if s["example"]]}


def current_version(session: Session) -> CatalogVersion | None:
    return session.scalar(select(CatalogVersion).order_by(
        CatalogVersion.activated_at.desc(), CatalogVersion.seq.desc()).limit(1))


def versions(session: Session) -> list[dict]:
    """Every catalog version, oldest first, with which one is current (the API's list
    and the operator's reference-data page)."""
    current = current_version(session)
    return [{"version": v.id, "created_at": v.created_at.isoformat(),
             "activated_at": v.activated_at.isoformat(), "checksum": v.checksum,
             "sources": v.sources, "current": current is not None and v.id == current.id}
            for v in session.scalars(select(CatalogVersion).order_by(CatalogVersion.seq))]


# --- What an organisation may select ---------------------------------------------------

@dataclass(frozen=True)
class AffairRow:
    item_no: str
    authority: str
    affair: str
    condition: str
    procedures: tuple[str, ...] = ()


@dataclass(frozen=True)
class InfoRow:
    info_no: str
    info_name: str
    provider: str
    item_nos: tuple[str, ...]


# A version's rows never change once loaded, and its id carries its content's checksum,
# so they are cached per process.
_ROWS: dict[str, tuple[dict[str, AffairRow], dict[str, InfoRow]]] = {}


def version_rows(session: Session, version_id: str
                 ) -> tuple[dict[str, AffairRow], dict[str, InfoRow]]:
    """The affairs (by 項番) and information (by 番号) of a version, in file order."""
    cached = _ROWS.get(version_id)
    if cached is None:
        affairs = {a.item_no: AffairRow(a.item_no, a.authority, a.affair, a.condition,
                                        tuple(a.procedures or ()))
                   for a in session.scalars(select(CatalogAffair).where(
                       CatalogAffair.version_id == version_id).order_by(CatalogAffair.seq))}
        info = {i.info_no: InfoRow(i.info_no, i.info_name, i.provider, tuple(i.item_nos))
                for i in session.scalars(select(CatalogInfo).where(
                    CatalogInfo.version_id == version_id).order_by(CatalogInfo.seq))}
        cached = _ROWS[version_id] = (affairs, info)
    return cached


@dataclass
class Entry:
    """One catalog row as it applies to one organisation."""

    row: AffairRow | InfoRow
    automatic: bool
    reason: str = ""


@dataclass
class OrgCatalog:
    version: str
    affairs: dict[str, Entry]      # item_no -> entry (only rows allowed for the org)
    info: dict[str, Entry]         # info_no -> entry
    all_affairs: dict[str, AffairRow]
    all_info: dict[str, InfoRow]


def _reason(cond: Condition, org: Organisation) -> str:
    keys = cond.unknown_attributes(org)
    labels = "・".join(f"「{ATTRIBUTES[k].label}」" for k in keys)
    return (f"{labels}機関に限られます。機関マスタに登録がないため、該当する場合は選択してください。"
            if labels else "該当する場合は選択してください。")


def _classify(cond: Condition, org: Organisation, members: list[Organisation]
              ) -> tuple[bool | None, str] | None:
    """(automatic?, reason) or None when the row is not for the organisation."""
    value = cond.evaluate(org)
    if value is True:
        return True, ""
    if value is None:
        return False, _reason(cond, org)
    if org.kind in UNION_KINDS and members:
        names = [m.name for m in members if cond.evaluate(m) is not False]
        if names:
            shown = "、".join(names[:3]) + (f" ほか{len(names) - 3}団体" if len(names) > 3 else "")
            return False, (f"構成団体（{shown}）の事務です。組合・広域連合が処理する場合は"
                           "選択してください。")
    return None


def catalog_for(session: Session, org: Organisation, version_id: str | None = None
                ) -> OrgCatalog:
    """The rows of ``version_id`` (default: current) split into automatic and
    needs-choice for ``org``. A 一部事務組合・広域連合 gets the rows it is named for as
    automatic, and the rows of its members as needs-choice."""
    if version_id is None:
        current = current_version(session)
        if current is None:
            raise CatalogError("no catalog loaded (run `nws refdata load`)")
        version_id = current.id
    elif version_id not in _ROWS and session.get(CatalogVersion, version_id) is None:
        raise CatalogError(f"catalog version {version_id} is not loaded")
    members: list[Organisation] = []
    if org.kind in UNION_KINDS:
        ids = members_of(session, org.id)
        members = list(session.scalars(select(Organisation).where(Organisation.id.in_(ids))))
    all_affairs, all_info = version_rows(session, version_id)

    def entries(rows: dict, attr: str) -> dict[str, Entry]:
        out = {}
        for key, row in rows.items():
            found = _classify(parse_condition(getattr(row, attr)), org, members)
            if found is not None:
                out[key] = Entry(row, found[0], found[1])
        return out

    return OrgCatalog(version_id, entries(all_affairs, "condition"),
                      entries(all_info, "provider"), all_affairs, all_info)


def describe_catalog(org_desc: dict, cat: OrgCatalog) -> dict:
    """The answer of ``GET /api/intake/catalog`` (DESIGN §7)."""
    def affair(e: Entry) -> dict:
        d = {"item_no": e.row.item_no, "affair": e.row.affair}
        if not e.automatic:
            d["reason"] = e.reason
        return d

    def info(e: Entry) -> dict:
        d = {"info_no": e.row.info_no, "info_name": e.row.info_name}
        if not e.automatic:
            d["reason"] = e.reason
        return d

    return {
        "org": org_desc, "catalog_version": cat.version,
        "query_affairs": {"automatic": [affair(e) for e in cat.affairs.values() if e.automatic],
                          "needs_choice": [affair(e) for e in cat.affairs.values()
                                           if not e.automatic]},
        "provided_info": {"automatic": [info(e) for e in cat.info.values() if e.automatic],
                          "needs_choice": [info(e) for e in cat.info.values()
                                           if not e.automatic]},
    }


def load_refdata(session: Session, provided_info: Path | None = None,
                 procedures: Path | None = None) -> dict:
    """``nws refdata load``: the organisation registry and the catalog (both idempotent).
    ``provided_info`` is the operator's provider-side file and ``procedures`` the
    procedures of 別表 items; without them the shipped EXAMPLE files (not law) are used."""
    from services.intake.registry import load_registry

    files = {"provided_info": provided_info} if provided_info is not None else {}
    if procedures is not None:
        files["procedures"] = procedures
    result = {"organisations": load_registry(session), "catalog": load_catalog(session, **files)}
    orgs = result["organisations"]
    if orgs.get("inserted") or orgs.get("updated") or result["catalog"]["status"] != "unchanged":
        audit.record(session, "refdata.loaded", "refdata", {
            "organisations": orgs,
            "catalog": {k: result["catalog"].get(k) for k in ("version", "status")},
            "files": {k: Path(v).name for k, v in files.items()}})
    return result
