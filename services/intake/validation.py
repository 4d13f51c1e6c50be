"""Running the form plugins: schema, the form's validators, then every plugin's extra
checks; and the whole-application checks at submission."""
from __future__ import annotations

import functools
from typing import Any, Mapping

import pluggy
from marshmallow import ValidationError

from shared.forms import ERROR, Finding, FormContext, FormSpec, schema_findings
from shared.pluginmanager import form_specs


@functools.lru_cache(maxsize=64)
def _schema(schema_class: type):
    """One instance per form schema: loading keeps no state on it (marshmallow 4 has no
    context), and building one per load copied every field each time."""
    return schema_class()


def load_form(spec: FormSpec, data: Mapping[str, Any]) -> tuple[dict | None, list[Finding]]:
    """The form's data through its schema: (loaded data, []) or (None, findings)."""
    try:
        return _schema(spec.schema).load(data), []
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, Mapping) else {"_": exc.messages}
        return None, schema_findings(messages, spec.code, schema=_schema(spec.schema))


def validate_form(pm: pluggy.PluginManager, code: str, data: Mapping[str, Any],
                  ctx: FormContext) -> list[Finding]:
    spec = form_specs(pm)[code]
    loaded, findings = load_form(spec, data)
    if loaded is None:
        return findings
    for validator in spec.validators:
        findings.extend(validator(loaded, ctx))
    for extra in pm.hook.nws_validate_form(code=code, data=loaded, context=ctx):
        findings.extend(extra or ())
    return findings


def required_codes(pm: pluggy.PluginManager, kind: str, org: Mapping[str, Any]) -> list[str]:
    return [code for code, spec in form_specs(pm).items() if spec.required_for(kind, org)]


def validate_application(pm: pluggy.PluginManager, application: Mapping[str, Any],
                         forms: Mapping[str, Mapping[str, Any]], ctx: FormContext
                         ) -> tuple[dict[str, list[Finding]], list[Finding]]:
    """Findings per form and for the application as a whole."""
    per_form = {code: validate_form(pm, code, data, ctx) for code, data in forms.items()}
    overall: list[Finding] = []
    for code in required_codes(pm, application["kind"], ctx.org):
        if code not in forms:
            overall.append(Finding("application.form_missing", ERROR, code,
                                   f"様{code}が提出されていません。"))
    for result in pm.hook.nws_validate_application(application=application, forms=forms,
                                                   context=ctx):
        overall.extend(result or ())
    return per_form, overall


def has_errors(findings) -> bool:
    return any((f.severity if isinstance(f, Finding) else f["severity"]) == ERROR
               for f in findings)
