"""Fill a form plugin's web form in the browser as a clerk would, from a dict of form data.

The page is generated from the plugin's FormSpec by :mod:`shared.webform`; this helper
walks the same description, so it fills the page of any form plugin, present or future:

- the rows a table needs are made with the page's own buttons (「行を追加」 posts the
  page and shows it again with a blank row; 「削除」 removes one), child tables inside
  their parent row included; rows the page builds from the selection (tables that cannot
  grow) are matched to the data by their automatic cells (項番, 事務名 …);
- then each control whose shown value differs from the data is typed, chosen from its
  pull-down or checked (organisation fields through :func:`fill_org`), found by the id
  :func:`shared.webform.anchor_for` gives its path (the view :func:`shared.webform.build`
  makes of the data is the list of controls, their widgets and the text each shows).

Nothing is saved: the caller presses 「保存」 (``#save-form``) as the user does.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from shared import webform
from shared import workbook as wbk


def fill_org(page, control: webform.Control) -> None:
    """An organisation field (委任元 / 委任先 / 相手方): the organisation picker
    (shared/templates/_org_picker.html), whose fieldset has the field's id. Each wanted
    organisation is searched by its code as one types and ticked among the matches; one
    no longer wanted is unticked (a radio picker replaces its choice by the new one)."""
    wanted = [code for code in str(control.value or "").split("、") if code]
    box = page.locator(f"#{control.id}")
    chosen = box.locator(".org-chosen input:checked").evaluate_all(
        "els => els.map(e => e.value)")
    if sorted(chosen) == sorted(wanted):
        return
    if box.get_attribute("data-kind") == "checkbox":
        for code in chosen:
            if code not in wanted:
                box.locator(f'.org-chosen input[value="{code}"]').uncheck()
    for code in wanted:
        if code in chosen:
            continue
        search = box.locator("details.org-search")
        if search.get_attribute("open") is None:
            search.locator("summary").click()
        box.locator(".org-q").fill(code)
        match = box.locator(f'.org-results input[value="{code}"]').first
        match.wait_for()
        match.check()
        assert code in box.locator(".org-chosen").inner_text(), (control.id, code)


def _add_buttons(page, list_path: str):
    return page.locator(f'button[name="{webform.ACTION}"][value="add:{list_path}"]')


def _page_rows(page, list_path: str) -> int:
    """How many rows the page shows in the list at ``list_path``."""
    markers = page.locator(f'input[name="{webform.ROW_MARKER}"]').evaluate_all(
        "els => els.map(e => e.value)")
    pattern = re.compile(re.escape(list_path) + r"\[\d+\]")
    return sum(1 for m in markers if pattern.fullmatch(m))


def _set_rows(page, list_path: str, wanted: int) -> None:
    """Make the page show ``wanted`` rows in the list at ``list_path`` with its buttons."""
    have = _page_rows(page, list_path)
    while have < wanted:
        _add_buttons(page, list_path).click()
        page.wait_for_load_state()
        have, before = _page_rows(page, list_path), have
        assert have == before + 1, f"「行を追加」 did not add a row to {list_path}"
    while have > wanted:
        page.locator(f'button[name="{webform.ACTION}"]'
                     f'[value="remove:{list_path}[{have - 1}]"]').click()
        page.wait_for_load_state()
        have = _page_rows(page, list_path)


def _texts(page, ids: list[str]) -> list[str]:
    """The shown text of each element by id ("" where there is none), in one call."""
    return page.evaluate("ids => ids.map(i => { const e = document.getElementById(i);"
                         " return e ? e.innerText.trim() : ''; })", ids)


def auto_rows(page, layout: wbk.Layout, table_path: str) -> list[tuple[str, ...]]:
    """The automatic cells (項番, 事務名 …) of each row the page shows in a top table."""
    t = next(t for t in layout.tables if t.path == table_path)
    autos = [c for c in t.columns if c.kind == wbk.AUTO]
    shown = _page_rows(page, t.path)
    texts = _texts(page, [webform.anchor_for(f"{t.path}[{i}].{c.path}")
                          for i in range(shown) for c in autos])
    return [tuple(texts[i * len(autos):(i + 1) * len(autos)]) for i in range(shown)]


def _aligned(page, layout: wbk.Layout, data: dict) -> dict:
    """``data`` with the rows of each table the page builds itself (from the selection)
    in the page's order, matched by their automatic cells; every such page row must be
    in the data (the user cannot remove it)."""
    data = copy.deepcopy(data)
    for t in layout.tables:
        if t.parent is not None or webform._growable(t):
            continue
        autos = [c for c in t.columns if c.kind == wbk.AUTO]
        rows = list(wbk.get_path(data, t.path) or [])
        ordered = []
        for key in auto_rows(page, layout, t.path):
            match = next((r for r in rows if tuple(
                webform._shown(wbk.get_path(r, c.path), c.type) for c in autos) == key), None)
            assert match is not None, f"no data for the page's row {key} of {t.path}"
            rows.remove(match)
            ordered.append(match)
        assert not rows, f"rows of {t.path} the page does not offer: {rows}"
        wbk.set_path(data, t.path, ordered)
    return data


def fill_form(page, spec, data: Mapping[str, Any]) -> webform.WebForm:
    """Fill the web form of ``spec`` open on ``page`` with ``data`` (the form's JSON twin,
    as ``tests.form_data`` builds it); the view that was typed in."""
    layout: wbk.Layout = spec.layout
    data = _aligned(page, layout, dict(data))
    view = webform.build(spec, data)
    # Rows first (each button posts the page), top tables, then each row's child tables.
    for table in view.tables:
        _set_rows(page, table.path, len(table.rows))
    for table in view.tables:
        for row in table.rows:
            for child in row.children:
                _set_rows(page, child.path, len(child.rows))
    controls = [c for c in view.controls() if c.widget not in ("auto", "org")]
    # What the page already shows (prefilled from the registry and the selection) is
    # left as it is, as a clerk leaves it; the rest is typed, chosen or checked.
    current = page.evaluate(
        "ids => ids.map(i => { const e = document.getElementById(i);"
        " return !e ? null : e.type === 'checkbox' ? e.checked : e.value; })",
        [c.id for c in controls])
    for control, shown in zip(controls, current):
        assert shown is not None, f"no input #{control.id} on {page.url}"
        if shown != (bool(control.value) if control.widget == "checkbox" else
                     str(control.value)):
            fill_control(page, control)
    for control in view.controls():
        if control.widget == "org":
            fill_org(page, control)
    return view


def fill_control(page, control: webform.Control) -> None:
    """Type, choose or check one control as its widget asks."""
    selector = f"#{control.id}"
    if control.widget == "auto":
        return
    if control.widget == "checkbox":
        page.set_checked(selector, bool(control.value))
    elif control.widget == "select":
        page.select_option(selector, value=str(control.value) if control.value else "")
    elif control.widget == "org":
        fill_org(page, control)
    else:
        page.fill(selector, str(control.value))
