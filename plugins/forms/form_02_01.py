"""様02-01 責任体制登録（変更）申請書: ① 情報システム責任者, ② 情報システム管理者,
③ 担当, all required."""
from __future__ import annotations

from marshmallow import fields

from plugins.forms.common import (COMMON_LABELS, TEXT_FREE, FormBaseSchema, PersonSchema,
                                  body_fields, check_common, connection_only, layout,
                                  required_text)
from shared.forms import FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema

CODE = "02-01"
TITLE = "責任体制登録（変更）申請書"


class StaffSchema(BaseSchema):
    section = fields.String(required=True, metadata={"label": "担当課室", **TEXT_FREE})
    unit = fields.String(required=True, metadata={"label": "係名", **TEXT_FREE})


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

BODY = ("system_chief.title", "system_chief.name", "system_manager.title",
        "system_manager.name", "staff.section", "staff.unit")

LAYOUT = layout(CODE, TITLE, section="責任体制（①②③ すべて必須）",
                fields=body_fields(*((path, LABELS[path]) for path in BODY)),
                schema=Form0201Schema)


def check_required(data, ctx):
    """① ② ③: every part is required (rule ``02-01.required.<path>``)."""
    for path in BODY:
        yield from required_text(CODE, data, path, LABELS[path])


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title=TITLE, schema=Form0201Schema,
                     required_for=connection_only,
                     validators=(check_common(CODE), check_required), labels=LABELS,
                     layout=LAYOUT)]
