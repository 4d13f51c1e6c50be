"""What people type in codes, phone numbers and dates is normalised; names are only
trimmed; the names the law gives (事務名, 特定個人情報名, 条例・規則の名称) are kept byte for
byte."""
from __future__ import annotations

from marshmallow import fields

from services.intake import validation
from shared import text
from shared.pluginmanager import form_specs
from tests import factories, form_data

AFFAIR = "感染症の予防及び感染症の患者に対する医療に関する法律（平成十年法律第百十四号）による　入院の勧告 "
INFO = "【例】地方税関係情報（例示・法令ではない）"
RULE = "八王子市事務委任規則（昭和３９年規則第１０号）"


def _string_fields(schema, prefix=""):
    """(path, field) of every string field of ``schema``, nested and in lists."""
    for name, field in schema.fields.items():
        path = f"{prefix}{field.data_key or name}"
        while isinstance(field, fields.List):
            field = field.inner
        if isinstance(field, fields.Nested):
            yield from _string_fields(field.schema, f"{path}.")
        elif isinstance(field, fields.String):
            yield path, field


def test_every_string_field_of_a_form_says_its_kind_of_text(pm):
    for code, spec in form_specs(pm).items():
        for path, field in _string_fields(spec.schema()):
            assert field.metadata.get("text") in text.KINDS, f"{code} {path}"


def test_legal_names_are_legal_text_everywhere(pm):
    legal = {path for code, spec in form_specs(pm).items()
             for path, field in _string_fields(spec.schema())
             if field.metadata["text"] == text.LEGAL}
    assert {"query_affairs.affair", "provided_info.info_name", "query_delegations.affair",
            "query_delegations.basis.rule_title", "query_delegations.chain.rule_title",
            "provision_delegations.info_name", "provision_acceptances.info_name",
            "provision_acceptances.basis.rule_title", "independent_affairs.ordinance",
            "independent_affairs.affair"} <= legal


def test_the_workbook_reads_each_cell_as_its_schema_field_says(pm):
    from plugins.forms.common import schema_field

    for code, spec in form_specs(pm).items():
        parents = {t.path: t for t in spec.layout.tables if t.parent is None}
        for t in spec.layout.tables:
            base = t.path if t.parent is None else f"{parents[t.parent].path}.{t.path}"
            for c in t.columns:
                field = schema_field(spec.schema, f"{base}.{c.path}")
                if c.type == "text" and field is not None:
                    assert c.text == field.metadata["text"], f"{code} {base}.{c.path}"


def test_legal_text_passes_the_schema_unchanged(pm):
    data = form_data.form_03_07()
    data["query_affairs"][0]["affair"] = AFFAIR
    data["provided_info"][0]["info_name"] = INFO
    loaded, findings = validation.load_form(form_specs(pm)["03-07"], data)
    assert findings == []
    assert loaded["query_affairs"][0]["affair"] == AFFAIR
    assert loaded["provided_info"][0]["info_name"] == INFO
    data = form_data.form_03_08_full()
    data["query_delegations"][1]["chain"][0]["rule_title"] = RULE
    loaded, _ = validation.load_form(form_specs(pm)["03-08"], data)
    assert loaded["query_delegations"][1]["chain"][0]["rule_title"] == RULE


def test_codes_and_phone_numbers_are_normalised_names_only_trimmed(pm):
    data = factories.form_02_02(
        org="１３１０１６", contact_chief={"title": " 情報政策担当部長 ", "name": "山田　一郎"},
        normal_contacts=[{"priority": 1, "department": "情報政策課（ＩＴ担当）", "name": "",
                          "phone": "０３－１２３４－５６７８", "email": "ｊｏｈｏ@example.lg.jp"}])
    loaded, findings = validation.load_form(form_specs(pm)["02-02"], data)
    assert findings == []
    assert loaded["org"] == "131016"
    assert loaded["contact_chief"] == {"title": "情報政策担当部長", "name": "山田　一郎"}
    row = loaded["normal_contacts"][0]
    assert (row["phone"], row["email"]) == ("03-1234-5678", "joho@example.lg.jp")
    assert row["department"] == "情報政策課（ＩＴ担当）"
