"""Every event the code records has a Japanese name, so no page shows an event code
(an account's history once showed ``account.notifications_changed``).

The code is read, not run: every call that records an audit action (``shared.audit.record``)
or an application history event (``HistoryEntry``, ``ReviewEvent``, the
``application.status_changed`` reports intake turns into history) is found, through the
helpers that pass an action or event on (``_record(account, "account.disabled")``), and
each code it can record must be named in shared/vocabulary.py: the audit actions in
``AUDIT_ACTIONS`` under the recording service, the history events in ``HISTORY_EVENTS``.
A call whose code cannot be read this way fails the test too: write the code as a literal
(or pass it through a helper's parameter).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from shared import vocabulary
from shared.hooktypes import STAGES

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("services", "shared", "nws", "plugins")


@dataclass(frozen=True)
class Sink:
    """An argument that holds a code: positional ``index`` or keyword ``keyword`` of a
    call to ``target`` (module, function), the code written after ``prefix``."""

    index: int | None
    keyword: str | None
    prefix: str = ""


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: dict[str, str]


def _modules() -> list[Module]:
    out = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            imports: dict[str, str] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for a in node.names:
                        imports[a.asname or a.name] = f"{node.module}.{a.name}"
                elif isinstance(node, ast.Import):
                    for a in node.names:
                        imports[a.asname or a.name.split(".")[0]] = (
                            a.name if a.asname else a.name.split(".")[0])
            out.append(Module(name, path, tree, imports))
    return out


def _calls(module: Module):
    """(call, innermost enclosing function or None) of every call in ``module``."""
    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.Call):
                yield child, func
            yield from visit(child, inner)
    yield from visit(module.tree, None)


def _target(module: Module, func: ast.expr) -> tuple[str, str] | None:
    if isinstance(func, ast.Name):
        dotted = module.imports.get(func.id)
        if dotted and "." in dotted:
            return tuple(dotted.rsplit(".", 1))  # type: ignore[return-value]
        return module.name, func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        base = module.imports.get(func.value.id)
        if base:
            return base, func.attr
    return None


def _argument(call: ast.Call, sink: Sink) -> ast.expr | None:
    if sink.index is not None and sink.index < len(call.args) and not any(
            isinstance(a, ast.Starred) for a in call.args[:sink.index + 1]):
        return call.args[sink.index]
    return next((k.value for k in call.keywords if k.arg == sink.keyword), None)


def _parameter(func, name: str) -> tuple[int | None, ast.expr | None] | None:
    """(positional index, default) of ``func``'s parameter ``name``; None if not one."""
    if func is None:
        return None
    a = func.args
    positional = a.posonlyargs + a.args
    defaults = dict(zip([p.arg for p in positional][len(positional) - len(a.defaults):],
                        a.defaults))
    defaults.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
    for i, p in enumerate(positional):
        if p.arg == name:
            return i, defaults.get(name)
    if any(p.arg == name for p in a.kwonlyargs):
        return None, defaults.get(name)
    return None


def _codes(expr, func, module: Module, sink: Sink, wrappers: dict, problems: list,
           where: str) -> set[str]:
    """The codes ``expr`` may hold; a helper's parameter becomes a new sink."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {sink.prefix + expr.value}
    if isinstance(expr, ast.IfExp):
        return (_codes(expr.body, func, module, sink, wrappers, problems, where)
                | _codes(expr.orelse, func, module, sink, wrappers, problems, where))
    if isinstance(expr, ast.Name) and (found := _parameter(func, expr.id)) is not None:
        index, default = found
        wrappers[(module.name, func.name)] = Sink(index, expr.id, sink.prefix)
        return (_codes(default, func, module, sink, wrappers, problems, where)
                if default is not None else set())
    if isinstance(expr, ast.JoinedStr) and len(expr.values) == 2:
        first, second = expr.values
        # "organisation.{action}": a helper's parameter after a fixed prefix
        if (isinstance(first, ast.Constant) and isinstance(second, ast.FormattedValue)
                and isinstance(second.value, ast.Name)):
            inner = Sink(None, None, sink.prefix + first.value)
            return _codes(second.value, func, module, inner, wrappers, problems, where)
        # f"{stage}_approved": one event per review stage
        if (isinstance(first, ast.FormattedValue) and isinstance(first.value, ast.Name)
                and first.value.id == "stage" and isinstance(second, ast.Constant)):
            return {f"{sink.prefix}{stage}{second.value}" for stage in STAGES}
    problems.append(f"{where}: {ast.unparse(expr)}")
    return set()


def _collect(primitives: dict[tuple[str, str], Sink],
             relayed=lambda call, module: None) -> tuple[dict[str, set[str]], list[str]]:
    """Codes by the service (or package) that records them, and the calls whose code
    could not be read. ``relayed(call, module)``: an expression holding a code that
    travels in a message (the report becomes history at its receiver)."""
    modules = _modules()
    sinks = dict(primitives)
    found: dict[str, set[str]] = {}
    problems: list[str] = []
    while True:
        before = dict(sinks)
        found, problems = {}, []
        for module in modules:
            owner = module.name.split(".")[1] if module.name.startswith("services.") \
                else module.name.split(".")[0]
            for call, func in _calls(module):
                where = f"{module.path.relative_to(ROOT)}:{call.lineno}"
                expr, sink = relayed(call, module), Sink(None, None)
                if expr is None:
                    target = _target(module, call.func)
                    sink = sinks.get(target) if target else None
                    expr = _argument(call, sink) if sink else None
                if expr is None:
                    continue
                found.setdefault(owner, set()).update(
                    _codes(expr, func, module, sink, sinks, problems, where))
        if sinks == before:
            return found, problems


def test_every_audit_action_the_code_records_has_a_japanese_name():
    found, problems = _collect({("shared.audit", "record"): Sink(1, "action")})
    assert not problems, f"audit actions that cannot be read from the code: {problems}"
    # the readers: the account page's history (identity) and every service's audit page
    assert {"intake", "review", "matching", "master", "identity"} <= set(found)
    unnamed = {service: sorted(codes - set(vocabulary.AUDIT_ACTIONS.get(service, {})))
               for service, codes in found.items()}
    assert not any(unnamed.values()), \
        f"audit actions without a name in shared/vocabulary.py AUDIT_ACTIONS: {unnamed}"
    assert "account.notifications_changed" in found["identity"]


def _status_report(call: ast.Call, module: Module):
    """The ``event`` of an ``application.status_changed`` report (intake records it)."""
    if (isinstance(call.func, ast.Attribute) and call.func.attr == "emit"
            and len(call.args) >= 4 and isinstance(call.args[2], ast.Constant)
            and call.args[2].value == "application.status_changed"
            and isinstance(call.args[3], ast.Dict)):
        for key, value in zip(call.args[3].keys, call.args[3].values):
            if isinstance(key, ast.Constant) and key.value == "event":
                return value
    if (isinstance(call.func, ast.Name) and call.func.id == "HistoryEntry"
            and module.name == "services.intake.applications"):
        event = next((k.value for k in call.keywords if k.arg == "event"), None)
        # the receiver of those reports: what it records is what they carry (above)
        if (isinstance(event, ast.Subscript) and isinstance(event.value, ast.Name)
                and event.value.id == "payload"):
            return ast.Constant("")
    return None


def test_every_history_event_the_code_records_has_a_japanese_name():
    found, problems = _collect({
        ("services.intake.models", "HistoryEntry"): Sink(None, "event"),
        ("services.review.models", "ReviewEvent"): Sink(None, "event"),
    }, relayed=_status_report)
    assert not problems, f"history events that cannot be read from the code: {problems}"
    events = set().union(*found.values()) - {""}
    assert {"created", "submitted", "primary_approved", "registered", "withdrawn"} <= events
    unnamed = sorted(events - set(vocabulary.HISTORY_EVENTS))
    assert not unnamed, f"history events without a name in HISTORY_EVENTS: {unnamed}"
