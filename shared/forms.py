"""Types shared by form plugins, validators and routers."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping

from marshmallow import Schema

ERROR = "error"
WARNING = "warning"
# Every severity a finding may have: ``error`` blocks submission, ``warning`` does not.
# A plugin's finding with any other severity (e.g. "Error") is a fault of that plugin.
SEVERITIES = (ERROR, WARNING)
# The rule id of the finding that stands for a plugin's fault (shared.plugincalls).
PLUGIN_FAULT_RULE = "plugin.failed"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem found in a form: a stable rule id, a severity, where, and a message
    in Japanese for the person who fills the form."""

    rule: str
    severity: str
    location: str
    message: str
    # The plugin at fault, on the finding that stands for a plugin's fault (else None).
    plugin: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = dataclasses.asdict(self)
        if out["plugin"] is None:
            del out["plugin"]
        return out


def plugin_fault_finding(plugin: str, location: str, timed_out: bool = False) -> Finding:
    """The blocking finding that stands for a fault of ``plugin`` (it raised, returned
    something that is not a list of findings, or, ``timed_out``, ran past the worker's
    time limit). The applicant cannot fix it: an operator fixes or disables the plugin,
    then saving the form (or submitting the application, for ``location``
    "application") again validates it again."""
    again = "提出し直す" if location == "application" else "様式を保存（またはアップロード）し直す"
    slow = "処理に時間がかかりすぎたため中断しました。" if timed_out else ""
    return Finding(PLUGIN_FAULT_RULE, ERROR, location,
                   f"検証処理で問題が発生しました（プラグイン {plugin}）。{slow}運用者が対応するまで提出できません。"
                   f"運用者の対応後に{again}と、もう一度検証されます。", plugin=plugin)


@dataclasses.dataclass
class FormContext:
    """What validators may look at besides the form itself."""

    application: Mapping[str, Any]
    org: Mapping[str, Any]
    forms: Mapping[str, Mapping[str, Any]]
    # Ids of the documents attached to the application (ordinances, rules, PIA reports).
    attachments: list = dataclasses.field(default_factory=list)
    # The application's effective selection (DESIGN §7 selection shape, ``automatic``
    # rows included, each row with the catalog version's text of its 事務 / 特定個人情報):
    # {"query_affairs": [{"item_no", "affair", "choice", "delegators"}],
    # "provided_info": [{"info_no", "info_name", "choice", "counterpart"}]}. None: not
    # known, and checks against it are skipped (as is the name check of a row whose
    # ``affair`` / ``info_name`` is absent).
    selection: Mapping[str, Any] | None = None
    # What the organisation has registered, form by form ({code: data}, list rows
    # without 申請区分); empty before its first registration. A 変更申請 is checked
    # against it row by row, and cross-form rules read a form the change does not
    # include from here (see :meth:`form`).
    registered: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def form(self, code: str) -> Mapping[str, Any] | None:
        """Form ``code`` as this application has it, else as registered (None if neither):
        what a cross-form rule compares against."""
        found = self.forms.get(code)
        return found if found is not None else self.registered.get(code)


Validator = Callable[[Mapping[str, Any], FormContext], Iterable[Finding]]


class _Required:
    def __repr__(self) -> str:
        return "<required>"


_REQUIRED: Any = _Required()


@dataclasses.dataclass(frozen=True)
class FormSpec:
    """A form: its code (e.g. "02-01"), Japanese title, the marshmallow schema of its
    JSON twin, whether an application of a given kind must include it (``required_for``,
    which every form states: there is no default), and validators that run after the
    schema accepted the data."""

    code: str
    title: str
    schema: type[Schema]
    # required_for(kind, org) -> bool: must an application of ``kind`` ("connection" |
    # "change") by ``org`` include this form? E.g. ``lambda kind, org: False`` for an
    # optional form, ``lambda kind, org: kind == "connection"``.
    required_for: Callable[[str, Mapping[str, Any]], bool] = _REQUIRED
    validators: tuple[Validator, ...] = ()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # The workbook layout (a shared.workbook.Layout) used both to generate and to read
    # the form as .xlsx; None for a form that is JSON only.
    layout: Any = None
    # The list fields whose rows carry a 申請区分 (登録/変更/削除/変更なし) and are applied
    # to the registered form one by one, with the columns that key a row, e.g.
    # {"query_affairs": ("item_no",)}. Empty: the form is one record, replaced whole
    # when an application includes it (shared.rowops).
    row_keys: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # The plugin that provides the form: set by the plugin manager (form_specs), not by
    # the plugin; its validators' and schema's faults are that plugin's.
    plugin: str = ""

    def __post_init__(self) -> None:
        if self.required_for is _REQUIRED:
            raise TypeError(
                f"FormSpec {self.code}: required_for is required: say which applications "
                "must include the form, e.g. required_for=lambda kind, org: False")
        if not callable(self.required_for):
            raise TypeError(f"FormSpec {self.code}: required_for must be a function "
                            "(kind, org) -> bool")


@dataclasses.dataclass(frozen=True)
class Route:
    """A routing decision: the reviewing organisation (None: the stage is skipped)."""

    org_id: str | None
    reason: str = ""


def schema_findings(errors: Mapping[str, Any], code: str, prefix: str = "",
                    schema: Schema | None = None, _node: Any = None,
                    _labels: tuple[str, ...] = ()) -> list[Finding]:
    """Turn marshmallow's nested error dict into findings with dotted field paths. Given
    the ``schema`` the data was loaded with, each message names the field by its
    Japanese label (``metadata["label"]``, rows as 「n 行目」) before the path:
    ``(1) 情報照会を行う事務 1 行目 特定個人情報保護評価 特定個人情報保護評価（query_affairs.0.pia.status）: …``."""
    node = schema if _node is None else _node
    out: list[Finding] = []
    for key, value in errors.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        child, label = _schema_step(node, key)
        labels = _labels + ((label,) if label and label not in _labels[-1:] else ())
        if isinstance(value, Mapping):
            out.extend(schema_findings(value, code, path, schema, child or False, labels))
        else:
            named = path
            if key == "_schema":        # the object as a whole: named by its parents
                named = " ".join(labels) if node is not None else prefix
            elif labels and node is not None:
                named = " ".join(labels) + ("" if child is None else f"（{path}）")
            for message in value if isinstance(value, list) else [value]:
                if isinstance(message, Mapping):
                    out.extend(schema_findings(message, code, path, schema, child or False,
                                               labels))
                else:
                    out.append(Finding(f"{code}.schema", ERROR, path,
                                       f"{named}: {message}" if named else str(message)))
    return out


def _schema_step(node: Any, key: Any) -> tuple[Any, str | None]:
    """(the schema or field at ``key`` below ``node``, its Japanese label)."""
    from marshmallow import fields

    if node is None or node is False:
        return None, None
    if isinstance(node, fields.Nested):
        node = node.schema
    if isinstance(node, fields.List):
        if isinstance(key, int) or str(key).isdigit():
            return node.inner, f"{int(key) + 1} 行目"
        return None, None
    if isinstance(node, Schema):
        if key == "_schema":
            return node, None
        by_key = {f.data_key or name: f for name, f in node.fields.items()}
        field = by_key.get(str(key))
        if field is None:
            return None, f"「{key}」"
        return field, field.metadata.get("label") or str(key)
    return None, None
