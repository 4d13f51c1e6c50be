"""様02-01 責任体制登録（変更）申請書."""
from __future__ import annotations

from marshmallow import fields

from plugins.forms.common import (COMMON_LABELS, FormBaseSchema, PersonSchema, check_common,
                                  required_text)
from shared.forms import FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema

CODE = "02-01"


class StaffSchema(BaseSchema):
    section = fields.String(required=True, metadata={"label": "担当課室"})
    unit = fields.String(required=True, metadata={"label": "係名"})


class Form0201Schema(FormBaseSchema):
    system_chief = fields.Nested(PersonSchema, required=True,
                                 metadata={"label": "① 情報システム責任者"})
    system_manager = fields.Nested(PersonSchema, required=True,
                                   metadata={"label": "② 情報システム管理者"})
    staff = fields.Nested(StaffSchema, required=True, metadata={"label": "③ 担当"})


LABELS = {
    **COMMON_LABELS,
    "system_chief.title": "① 情報システム責任者 役職名",
    "system_chief.name": "① 情報システム責任者 氏名",
    "system_manager.title": "② 情報システム管理者 役職名",
    "system_manager.name": "② 情報システム管理者 氏名",
    "staff.section": "③ 担当 担当課室",
    "staff.unit": "③ 担当 係名",
}


def check_required(data, ctx):
    for path in ("system_chief.title", "system_chief.name", "system_manager.title",
                 "system_manager.name", "staff.section", "staff.unit"):
        yield from required_text(CODE, data, path, LABELS[path])


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title="責任体制登録（変更）申請書", schema=Form0201Schema,
                     # a 変更申請 includes only the forms that change
                     required_for=lambda kind, org: kind != "change",
                     validators=(check_common(CODE), check_required), labels=LABELS)]
