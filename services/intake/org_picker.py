"""The organisation picker of the pages: 都道府県 → 機関, searched by part of the name or
of the code, the chosen organisations echoed by name with their code.

One Jinja macro renders it (``_org_picker.html``: ``org_picker(picker, label, ...)``),
from a :class:`Picker` this module builds, for any page form that needs an organisation
(委任元 and 相手方 of the 申請前情報選択, the アカウント発行申請's 機関, and every
organisation field of the 様式 web forms: :func:`for_form`).
Its fields, for a picker named N:

- ``N``: the chosen organisation ids (checkboxes when ``multiple``, radio buttons when not);
- ``N__pref`` and ``N__q``: the prefecture and the text to search;
- the 「検索」 button ``org_search=N`` posts the whole form: the page renders itself again,
  keeping everything typed, with the matches offered as more checkboxes / radio buttons,
  and stores nothing.

Without JavaScript that is the whole picker. With it, ``/static/org_picker.js`` searches
as the visitor types, against the page twin of ``GET /api/intake/organisations``
(``/intake/organisations.json``, the same :func:`registry.search_organisations`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from services.intake import registry

SEARCH_BUTTON = "org_search"


@dataclass
class Picker:
    name: str
    multiple: bool = False
    chosen: list[dict] = field(default_factory=list)     # [{"id", "name", "known"}]
    pref: str = ""                                       # 6-digit code or ""
    q: str = ""
    searched: bool = False
    results: list[dict] = field(default_factory=list)
    total: int = 0
    error: str = ""
    prefectures: list[dict] = field(default_factory=list)
    search_url: str | None = None                        # JSON search (with JavaScript)
    applying_only: bool = False
    wrong: bool = False                                  # the page says its choice is wrong
    anchor: str = ""                                     # its element id, when the page names it

    @property
    def ids(self) -> list[str]:
        return [c["id"] for c in self.chosen]

    @property
    def open(self) -> bool:
        """Whether the search part shows without a click: a search was made, or the
        choice is wrong and must be made again."""
        return self.searched or bool(self.error) or self.wrong

    @property
    def dom_id(self) -> str:
        return self.anchor or "org-" + self.name.replace("_", "-")


def chosen_ids(form, name: str) -> list[str]:
    """The ids posted for picker ``name``, in order, without blanks or repeats."""
    return list(dict.fromkeys(v.strip() for v in form.getlist(name) if v.strip()))


class Pickers:
    """The pickers of one page, built together so that the names of every chosen
    organisation come from one query."""

    def __init__(self, session: Session, *, search_url: str | None = None,
                 applying_only: bool = False) -> None:
        self.session = session
        self.search_url = search_url
        self.applying_only = applying_only
        self._prefectures: list[dict] | None = None

    @property
    def prefectures(self) -> list[dict]:
        if self._prefectures is None:
            self._prefectures = registry.prefectures(self.session)
        return self._prefectures

    def build(self, chosen: dict[str, list[str]], *, multiple: dict[str, bool],
              form=None) -> dict[str, Picker]:
        """A picker for each name of ``chosen`` ({name: [ids]}); ``form`` (the posted
        page) gives what was typed in each search and, when its 「検索」 was pressed,
        the matches."""
        orgs = registry.names_of(self.session, [i for ids in chosen.values() for i in ids])
        searched = form.get(SEARCH_BUTTON, "") if form is not None else ""
        out = {}
        for name, ids in chosen.items():
            p = Picker(name=name, multiple=multiple.get(name, False),
                       prefectures=self.prefectures, search_url=self.search_url,
                       applying_only=self.applying_only)
            p.chosen = [{"id": i, "name": orgs[i].name if i in orgs else "",
                         "known": i in orgs,
                         "prefecture_code": orgs[i].prefecture_code if i in orgs else None}
                        for i in ids]
            if form is not None:
                typed_pref = form.get(f"{name}__pref", "")
                p.pref = registry.prefecture_code(self.session, typed_pref) or ""
                p.q = form.get(f"{name}__q", "").strip()[:100]
                if searched == name:
                    self._search(p)
            out[name] = p
        return out

    def _search(self, p: Picker) -> None:
        p.searched = True
        found = registry.search_organisations(
            self.session, q=p.q, prefecture=p.pref or None, applying_only=p.applying_only,
            limit=registry.PICKER_LIMIT)
        chosen = set(p.ids)
        p.results = [o for o in found["items"] if o["id"] not in chosen]
        p.total = found["total"]


def for_form(session: Session, view, *, form=None, search_url: str | None = None) -> None:
    """Give every organisation field (``widget: "org"``) of a 様式 web form (a
    ``shared.webform.WebForm``) its picker: named by the field's posted name, with the
    field's element id (so the findings summary links to it), multiple for a list field,
    its search open where the field has an error. ``form``: the posted page (what was
    typed in each search; the matches of the one whose 「検索」 was pressed)."""
    pickers = Pickers(session, search_url=search_url)
    # the blank rows of the script's 「行を追加」 (their names are those of a row 0)
    blank = [c for row in view.templates() for c in row.cells if c.widget == "org"]
    for controls, posted in (([c for c in view.controls() if c.widget == "org"], form),
                             (blank, None)):
        if not controls:
            continue
        built = pickers.build({c.name: c.codes for c in controls},
                              multiple={c.name: c.org_list for c in controls}, form=posted)
        for c in controls:
            p = built[c.name]
            p.anchor, p.wrong = c.id, c.invalid
            c.picker = p


def unknown_in_form(view) -> list[dict]:
    """A finding (at its field) for each organisation field of a web form (pickers
    attached by :func:`for_form`) holding a code the registry does not know."""
    out = []
    for c in view.controls():
        unknown = [o["id"] for o in (c.picker.chosen if c.picker is not None else [])
                   if not o["known"]]
        if unknown:
            codes = "」「".join(unknown)
            out.append({"severity": "error", "location": c.path,
                        "message": f"機関「{codes}」は機関マスタに登録されていません。"
                                   "機関を検索して選び直してください。"})
    return out


def prefecture_name(prefectures: list[dict], code: str | None) -> str:
    return next((p["name"] for p in prefectures if p["code"] == code), "")


def check_single(p: Picker, what: str) -> str:
    """The error of a single picker's choice: an id not in the registry, or one outside
    the prefecture the visitor chose (it was picked before the prefecture changed)."""
    if not p.chosen:
        return ""
    c = p.chosen[0]
    if not c["known"]:
        return f"{what}「{c['id']}」は機関マスタに登録されていません。検索して選び直してください。"
    if p.pref and c["prefecture_code"] != p.pref:
        return (f"{c['name']}（{c['id']}）は選択した都道府県"
                f"（{prefecture_name(p.prefectures, p.pref)}）の機関ではありません。"
                "都道府県を選び直すか、機関を選び直してください。")
    return ""
