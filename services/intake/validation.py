"""Running the form plugins: schema, the form's validators, then every plugin's extra
checks; and the whole-application checks at submission."""
from __future__ import annotations

import functools
from typing import Any, Mapping

import pluggy
from marshmallow import ValidationError

from shared import plugincalls
from shared.forms import (ERROR, Finding, FormContext, FormSpec, plugin_fault_finding,
                          schema_findings)
from shared.pluginmanager import form_specs


@functools.lru_cache(maxsize=64)
def _schema(schema_class: type):
    """One instance per form schema: loading keeps no state on it (marshmallow 4 has no
    context), and building one per load copied every field each time."""
    return schema_class()


def load_form(spec: FormSpec, data: Mapping[str, Any]) -> tuple[dict | None, list[Finding]]:
    """The form's data through its schema: (loaded data, []) or (None, findings). The
    schema is the plugin's code: an exception other than a ValidationError is the
    plugin's fault, and becomes its blocking finding."""
    try:
        return _schema(spec.schema).load(data), []
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, Mapping) else {"_": exc.messages}
        return None, schema_findings(messages, spec.code, schema=_schema(spec.schema))
    except Exception as exc:  # noqa: BLE001 - the plugin's fault: recorded, then a finding
        fault = plugincalls.fault_of(spec.plugin or "?", f"schema of {spec.code}", exc)
        return None, fault_findings([fault], spec.code)


def fault_findings(faults, location: str) -> list[Finding]:
    """One blocking finding per plugin at fault (a timeout when any of its faults was)."""
    timed_out: dict[str, bool] = {}
    for fault in faults:
        timed_out[fault.plugin] = timed_out.get(fault.plugin, False) or fault.timed_out
    return [plugin_fault_finding(name, location, slow) for name, slow in timed_out.items()]


def validate_form(pm: pluggy.PluginManager, code: str, data: Mapping[str, Any],
                  ctx: FormContext) -> list[Finding]:
    """The form's schema, its own validators, then every plugin's ``nws_validate_form``.
    A plugin at fault (it raised, or returned something else than findings) gives one
    blocking finding naming it, in place of whatever it would have found; the other
    plugins' findings stand."""
    spec = form_specs(pm)[code]
    loaded, findings = load_form(spec, data)
    if loaded is None:
        return findings
    faulty: list[plugincalls.PluginFault] = []
    for validator in spec.validators:
        try:
            findings.extend(plugincalls.call(spec.plugin, f"validator of {code}", validator,
                                             loaded, ctx, check=plugincalls.findings))
        except plugincalls.PluginFaultError as exc:
            faulty.append(exc.fault)
    results, faults = plugincalls.collect(pm, "nws_validate_form", plugincalls.findings,
                                          code=code, data=loaded, context=ctx)
    for _plugin, extra in results:
        findings.extend(extra)
    findings.extend(fault_findings(faulty + faults, code))
    return findings


def required_codes(pm: pluggy.PluginManager, kind: str, org: Mapping[str, Any],
                   faults: list[Finding] | None = None) -> list[str]:
    """The codes an application of ``kind`` by ``org`` must include. A form whose
    ``required_for`` fails counts as required, and its plugin's fault finding is added
    to ``faults`` (when given)."""
    out = []
    for code, spec in form_specs(pm).items():
        try:
            required = plugincalls.call(spec.plugin, f"required_for of {code}",
                                        spec.required_for, kind, org, check=plugincalls.boolean)
        except plugincalls.PluginFaultError as exc:
            required = True
            if faults is not None:
                faults.extend(fault_findings([exc.fault], "application"))
        if required:
            out.append(code)
    return out


def validate_application(pm: pluggy.PluginManager, application: Mapping[str, Any],
                         forms: Mapping[str, Mapping[str, Any]], ctx: FormContext
                         ) -> tuple[dict[str, list[Finding]], list[Finding]]:
    """Findings per form and for the application as a whole (a plugin at fault in
    ``nws_validate_application`` gives a blocking finding naming it)."""
    per_form = {code: validate_form(pm, code, data, ctx) for code, data in forms.items()}
    overall: list[Finding] = []
    for code in required_codes(pm, application["kind"], ctx.org, overall):
        if code not in forms:
            overall.append(Finding("application.form_missing", ERROR, code,
                                   f"様{code}が提出されていません。"))
    results, faults = plugincalls.collect(pm, "nws_validate_application",
                                          plugincalls.findings, application=application,
                                          forms=forms, context=ctx)
    for _plugin, found in results:
        overall.extend(found)
    overall.extend(fault_findings(faults, "application"))
    return per_form, overall


def has_errors(findings) -> bool:
    return any((f.severity if isinstance(f, Finding) else f["severity"]) == ERROR
               for f in findings)
