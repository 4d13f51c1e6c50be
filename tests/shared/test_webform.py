"""The web forms generated from each form plugin's FormSpec (shared.webform and the
``_webform.html`` macros): every registered form renders with its labels, 必須 marks and
pull-downs, and what a browser posts back from the rendered form is the same JSON the
API would store."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

import plugins
from services.intake import org_picker
from shared import webform
from shared import workbook as wbk
from shared.pluginmanager import build_plugin_manager, form_specs
from tests import factories, form_data

TEMPLATES = Path(__file__).resolve().parents[2] / "shared" / "templates"
SPECS = form_specs(build_plugin_manager(plugins.BUILTIN))


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)


ORG_NAMES = {"130001": "東京都", "131016": "東京都千代田区", "132012": "東京都八王子市"}


def with_pickers(view: webform.WebForm, names: dict | None = None) -> webform.WebForm:
    """Each organisation field's picker, as intake's pages attach them
    (org_picker.for_form), with the names the registry would give."""
    names = ORG_NAMES if names is None else names
    for c in [*view.controls(), *(c for row in view.templates() for c in row.cells)]:
        if c.widget == "org":
            c.picker = org_picker.Picker(
                name=c.name, multiple=c.org_list, anchor=c.id, wrong=c.invalid,
                chosen=[{"id": code, "name": names.get(code, ""), "known": code in names}
                        for code in c.codes])
    return view


def render(view: webform.WebForm, editable: bool = True, action: str | None = None) -> str:
    template = _env().from_string(
        '{% import "_webform.html" as wf %}{{ wf.summary(view) }}'
        '<form>{{ wf.form_fields(view, editable, action) }}</form>')
    return template.render(view=view, editable=editable, action=action)


class _Posted(HTMLParser):
    """The fields a browser submits from the HTML (text, hidden, checked boxes and radio
    buttons, the selected option), buttons and <template> contents left out."""

    def __init__(self):
        super().__init__()
        self.pairs: list[tuple[str, str]] = []
        self.ids: dict[str, dict] = {}
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._option: dict | None = None
        self._template = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "template":
            self._template += 1
        if self._template:
            return
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            elif kind in ("text", "hidden"):
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}

    def handle_data(self, data):
        if self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag):
        if tag == "template":
            self._template -= 1
        if tag == "option" and self._option is not None:
            o = self._option
            self._options.append((o["value"] if o["value"] is not None else o["text"],
                                  o["selected"]))
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, s in self._options if s] or [self._options[0][0]]
            self.pairs.append((self._select, chosen[0]))
            self._select = None


def posted(html: str):
    from werkzeug.datastructures import MultiDict

    parser = _Posted()
    parser.feed(html)
    return MultiDict(parser.pairs), parser.ids


def _samples() -> dict[str, dict]:
    forms = factories.all_forms("131016")
    forms["03-08"] = form_data.form_03_08_full("131016")
    forms["03-09"] = form_data.form_03_09("131016")
    return forms


def test_every_registered_form_has_a_layout_and_a_sample():
    assert set(SPECS) == set(_samples()) and all(s.layout is not None for s in SPECS.values())


@pytest.mark.parametrize("code", sorted(SPECS))
def test_every_form_renders_labelled_with_required_marks_and_pull_downs(code):
    spec = SPECS[code]
    data = _samples()[code]
    html = render(with_pickers(webform.build(spec, data, header={"org_name": "千代田区"})))
    _, ids = posted(html)
    # an organisation column is headed by the schema's label (the workbook's says how to
    # type codes into a cell, which the picker does not ask)
    org_columns = {ctrl.path.rpartition(".")[2] for ctrl in webform.build(spec, data).controls()
                   if ctrl.widget == "org"}
    for ctrl in webform.build(spec, data).controls():
        assert ctrl.label in html, ctrl.path
    for f in spec.layout.fields:
        if f.kind != wbk.REVIEWER:
            assert f.label in html, f.label
    for t in spec.layout.tables:
        assert t.title in html
        for c in t.columns:
            assert c.label in html or c.path in org_columns, c.label
    assert "必須" in html
    # every pull-down of the workbook is a <select> with the same choices
    view = webform.build(spec, data)
    for control in view.controls():
        if control.widget == "select":
            element = ids[control.id]
            assert element["tag"] == "select"
            for choice in control.choices:
                assert f"<option>{choice}</option>" in html or f"<option selected>{choice}</option>" in html
        if control.widget == "org":      # the picker: a fieldset whose legend names it
            assert ids[control.id]["tag"] == "fieldset", control.path
        elif control.widget not in ("auto",):
            assert f'for="{control.id}"' in html, control.path
    strict = [(c.path, c.choices) for t in spec.layout.tables for c in t.columns
              if c.kind == wbk.CHOICE and c.type != wbk.BOOL and c.strict]
    strict += [(f.path, f.choices) for f in spec.layout.fields
               if f.kind == wbk.CHOICE and f.type != wbk.BOOL and f.strict]
    for path, _choices in strict:
        assert any(c.widget == "select" and (c.path == path or c.path.endswith("." + path))
                   for c in view.controls()) or not any(
            c.path.endswith(path) for c in view.controls()), path
    assert "{&#34;" not in html and "{'" not in html  # no JSON (or dict) on the page


@pytest.mark.parametrize("code", sorted(SPECS))
def test_posting_the_rendered_form_back_gives_the_same_json(code):
    spec = SPECS[code]
    data = _samples()[code]
    form, _ = posted(render(with_pickers(webform.build(spec, data))))
    assert webform.data_from_post(spec, form) == data


def test_required_marks_follow_the_schema():
    view = webform.build(SPECS["02-02"], _samples()["02-02"])
    by_path = {c.path: c for c in view.controls()}
    assert by_path["normal_contacts[0].phone"].required
    assert not by_path["normal_contacts[0].name"].required   # 氏名（任意）
    assert by_path["normal_contacts[0].phone"].help.startswith("部署の直通番号")
    assert by_path["application_date"].widget == "date"
    assert by_path["request_type"].widget == "select"


def test_a_finding_is_placed_at_its_field_without_its_path():
    spec = SPECS["02-02"]
    data = _samples()["02-02"]
    findings = [
        {"severity": "error", "location": "normal_contacts[0].phone",
         "message": "通常連絡先（1 行目）の電話番号「12」は市外局番の 0 から記入してください。"},
        {"severity": "error", "location": "normal_contacts.0.priority",
         "message": "通常連絡先 1 行目 優先順位（normal_contacts.0.priority）: 有効な整数ではありません。"},
        {"severity": "warning", "location": "02-02.contact_chief", "message": "連絡窓口責任者が異なります。"},
        {"severity": "error", "location": "emergency_contacts", "message": "緊急連絡先を 1 件以上入力してください。"},
    ]
    view = webform.build(spec, data, findings=findings)
    html = render(view)
    phone = 'id="f-normal-contacts-0-phone"'
    start = html.index(phone)
    tag = html[html.rindex("<input", 0, start):html.index(">", start)]
    assert 'aria-invalid="true"' in tag and "f-normal-contacts-0-phone-err" in tag
    assert 'id="f-normal-contacts-0-phone-err"' in html
    assert "normal_contacts.0.priority" not in html and "有効な整数ではありません。" in html
    assert 'href="#f-normal-contacts-0-phone">通常連絡先（平日昼間） 1 行目 電話番号</a>' in html  # the summary links to it
    assert 'href="#f-contact-chief-title"' in html           # a form-level finding, at its first field
    assert 'href="#t-emergency-contacts"' in html            # a table's finding, at the table
    chief = html[html.index('id="f-contact-chief-title"') - 120:html.index('id="f-contact-chief-title"') + 200]
    assert 'aria-invalid' not in chief                       # a warning does not invalidate


def test_rows_are_added_and_removed_keeping_what_was_typed():
    spec = SPECS["02-02"]
    data = _samples()["02-02"]
    form, _ = posted(render(webform.build(spec, data)))
    form["contact_chief.name"] = "入力 途中"
    typed = webform.data_from_post(spec, form)
    assert webform.apply_action(spec, typed, "add:normal_contacts")
    assert len(typed["normal_contacts"]) == len(data["normal_contacts"]) + 1
    assert typed["normal_contacts"][-1] == {"priority": None, "department": "", "name": "",
                                            "phone": "", "email": ""}
    assert typed["contact_chief"]["name"] == "入力 途中"
    assert webform.apply_action(spec, typed, "remove:normal_contacts[0]")
    assert typed["normal_contacts"][0]["priority"] is None
    # the rows of a table filled from the selection (no blank rows) are fixed
    assert not webform.apply_action(SPECS["03-07"], _samples()["03-07"], "add:query_affairs")
    # a child table's rows (the 評価書 of a 様03-07 row) can be added
    d = _samples()["03-07"]
    assert webform.apply_action(SPECS["03-07"], d, "add:query_affairs[0].pia.reports")
    assert len(d["query_affairs"][0]["pia"]["reports"]) == 2


def test_an_org_field_is_a_picker_echoing_each_name_with_its_code():
    spec = SPECS["03-08"]
    view = with_pickers(webform.build(spec, _samples()["03-08"]))
    assert {"130001", "132012"} <= view.org_codes()
    html = render(view, action="/applicant/applications/7/forms/03-08")
    _, ids = posted(html)
    several = ids["f-query-delegations-1-delegators"]     # 委任元機関（すべて）: check boxes
    assert several["tag"] == "fieldset" and several["data-kind"] == "checkbox"
    chosen = html[html.index('id="f-query-delegations-1-delegators-chosen"'):]
    chosen = chosen[:chosen.index("</div>")]
    assert ('<input type="checkbox" name="query_delegations[1].delegators" value="130001" checked>'
            in chosen)
    assert "東京都 <span class=\"org-code\">130001</span>" in chosen
    assert "東京都八王子市 <span class=\"org-code\">132012</span>" in chosen
    one = ids["f-provision-delegations-0-delegatee"]      # 委任先機関: one, radio buttons
    assert one["data-kind"] == "radio"
    assert 'type="radio" name="provision_delegations[0].delegatee" value="132012" checked' in html
    # its 「検索」 posts the whole form back to the page, landing at the field
    assert ('name="org_search" value="provision_delegations[0].delegatee" '
            'formaction="/applicant/applications/7/forms/03-08#f-provision-delegations-0-delegatee"'
            in html)
    assert '<label for="f-provision-delegations-0-delegatee"' not in html    # a legend names it
    assert '<th scope="col">委任元機関<span class="required">必須</span></th>' in html
    assert "機関コードを「、」区切り" not in html


def test_an_org_field_read_only_shows_the_names_without_inputs():
    view = with_pickers(webform.build(SPECS["03-08"], _samples()["03-08"]))
    html = render(view, editable=False)
    echo = html[html.index('id="f-query-delegations-1-delegators"'):]
    echo = echo[:echo.index("</td>")]
    assert "東京都八王子市" in echo and "130001" in echo and "<input" not in echo
    assert "org_search" not in html


def test_org_codes_posted_by_a_picker_are_saved_as_the_workbook_holds_them():
    """Several chosen (check boxes) join in order, 「、」 between, as the list cell of the
    workbook; one chosen (a radio button) is the code; the search fields are not data."""
    spec = SPECS["03-08"]
    data = _samples()["03-08"]
    form, _ = posted(render(with_pickers(webform.build(spec, data))))
    form.setlist("query_delegations[0].delegators", ["132012", "130001", "132012"])
    form["query_delegations[0].delegators__q"] = "八王子"
    form["provision_delegations[0].delegatee"] = " 130001 "
    got = webform.data_from_post(spec, form)
    assert got["query_delegations"][0]["delegators"] == ["132012", "130001"]
    assert got["provision_delegations"][0]["delegatee"] == "130001"
    form.setlist("provision_delegations[0].delegatee", [])
    assert webform.data_from_post(spec, form)["provision_delegations"][0]["delegatee"] == ""


def test_an_error_at_an_org_field_marks_its_picker_and_the_summary_links_to_it():
    spec = SPECS["03-08"]
    findings = [{"severity": "error", "location": "provision_delegations[0].delegatee",
                 "message": "機関「999999」は機関マスタに登録されていません。機関を検索して選び直してください。"}]
    data = _samples()["03-08"]
    data["provision_delegations"][0]["delegatee"] = "999999"
    view = with_pickers(webform.build(spec, data, findings=findings))
    html = render(view)
    picker = html[html.index('id="f-provision-delegations-0-delegatee"'):]
    picker = picker[:picker.index("</fieldset>")]
    assert ('<input type="radio" name="provision_delegations[0].delegatee" value="999999" checked '
            'aria-invalid="true" aria-describedby="f-provision-delegations-0-delegatee-err">'
            in picker)
    assert "未登録の機関" in picker and "<details class=\"org-search\" open>" in picker
    err = html[html.index('id="f-provision-delegations-0-delegatee-err"'):]
    assert "機関マスタに登録されていません" in err[:300]
    assert 'href="#f-provision-delegations-0-delegatee">' in html


def test_a_growable_table_carries_a_blank_row_for_the_script():
    """The <template> row is the one 「行を追加」 would add, at index 0 (the script
    renumbers it); a browser never posts it."""
    spec = SPECS["03-08"]
    data = _samples()["03-08"]
    view = with_pickers(webform.build(spec, data))
    html = render(view)
    tpl = html[html.index('<template id="t-query-delegations-1-chain-tpl">'):]
    tpl = tpl[:tpl.index("</template>")]
    assert 'name="_row" value="query_delegations[1].chain[0]"' in tpl
    assert 'id="f-query-delegations-1-chain-0-from"' in tpl and 'data-kind="radio"' in tpl
    assert 'value="remove:query_delegations[1].chain[0]"' in tpl
    assert 'id="t-query-delegations-1-chain-rows"' in html
    assert "<template" not in html.split('id="t-provision-delegations"')[1]   # fixed rows
    blank = {"priority": None, "department": "", "name": "", "phone": "", "email": ""}
    table = next(t for t in webform.build(SPECS["02-02"], _samples()["02-02"]).tables
                 if t.path == "normal_contacts")
    assert [c.value for c in table.template.cells] == ["" for _ in blank]
    form, _ = posted(html)
    assert webform.data_from_post(spec, form) == data
    # an empty growable table still has its (hidden) table to add rows to
    data["query_delegations"][0]["chain"] = []
    html = render(with_pickers(webform.build(spec, data)))
    section = html[html.index('id="t-query-delegations-0-chain"'):]
    assert '<div class="scroll-wide" hidden>' in section[:1500]
    assert '<p class="muted wf-empty">行はありません。' in section


def _defaults(spec) -> dict:
    """A blank form as intake pre-fills it before anything is saved (workbooks.form_part)."""
    org = {"id": "131016", "kind": "市区町村"}
    data = {"org": org["id"], "application_date": "",
            "request_type": "接続申請" if spec.code == "03-06" else "登録申請",
            "writer": {"department": "", "title": "", "name": ""}}
    if spec.layout.prefill is not None:
        data.update(spec.layout.prefill(org))
    return data


@pytest.mark.parametrize("code", sorted(SPECS))
def test_the_rendered_defaults_post_back_as_the_workbook_reads_them(code):
    """A blank form saved from the page is the JSON its blank workbook reads as: one
    conversion for both."""
    spec = SPECS[code]
    data = _defaults(spec)
    form, _ = posted(render(with_pickers(webform.build(spec, data))))
    from_page = webform.data_from_post(spec, form)
    from_workbook = wbk.read_workbook(wbk.write_form(spec.layout, data), {code: spec.layout})[0]
    assert from_page == from_workbook.data
