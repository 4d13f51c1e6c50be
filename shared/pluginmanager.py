"""Building the plugin manager: built-in plugins and entry points, the same way.

Start-up refuses what cannot work, each time with one message naming the plugin(s) and
what is wrong: a hook implementation that matches no hook (``check_pending``), a hook
wrapper on an ``nws`` hook, a plugin whose ``nws_form_specs`` fails or returns something
other than ``FormSpec``\\ s (one without ``required_for`` among them), two plugins
providing one form code, two forms using one workbook sheet name. A name in
``NWS_DISABLE_PLUGINS`` that matches no plugin is a warning.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import logging
from typing import Iterable, Mapping

import pluggy

from shared import hookspecs
from shared.forms import FormSpec
from shared.plugincalls import implementations

ENTRY_POINT_GROUP = "nws"
# The version reported for the built-in plugins: the suite's own.
SUITE_DISTRIBUTION = "nws-suite"

log = logging.getLogger(__name__)


class PluginError(RuntimeError):
    pass


def build_plugin_manager(builtin: Iterable[str] = (), *, disabled: Iterable[str] = (),
                         extra: Iterable[str] = ()) -> pluggy.PluginManager:
    """A plugin manager with the built-in plugins (module paths, registered under the
    last part of their name), any ``extra`` modules (``NWS_PLUGINS``) and every plugin of
    the ``nws`` entry-point group. Names in ``disabled`` (``NWS_DISABLE_PLUGINS``) are
    blocked; one that names no plugin is logged as a warning. Whatever cannot work
    raises :class:`PluginError` (or pluggy's ``PluginValidationError`` for a misspelt
    hook or argument) here, not at first use."""
    builtin, disabled, extra = tuple(builtin), tuple(disabled), tuple(extra)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for module_path in (*builtin, *extra):
        name = module_path.rsplit(".", 1)[-1]
        if pm.is_blocked(name):
            continue
        try:
            module = importlib.import_module(module_path)
        except ImportError as exc:
            source = "NWS_PLUGINS" if module_path in extra else "built-in plugins"
            raise PluginError(f"plugin {name}: module {module_path} ({source}) cannot be "
                              f"imported: {exc}") from exc
        pm.register(module, name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    unknown = unknown_disabled(disabled, builtin, extra)
    if unknown:
        log.warning("NWS_DISABLE_PLUGINS names no plugin: %s (known plugins: %s)",
                    ", ".join(unknown), ", ".join(sorted(known_names(builtin, extra))),
                    extra={"unknown_plugins": ",".join(unknown)})
    pm.check_pending()
    check_no_wrappers(pm)
    form_specs(pm)  # fails here, not at first use
    return pm


def known_names(builtin: Iterable[str], extra: Iterable[str]) -> set[str]:
    """Every plugin name that could be loaded: built-in, NWS_PLUGINS and entry points."""
    names = {path.rsplit(".", 1)[-1] for path in (*builtin, *extra)}
    names |= {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return names


def unknown_disabled(disabled: Iterable[str], builtin: Iterable[str],
                     extra: Iterable[str]) -> list[str]:
    """The names of ``NWS_DISABLE_PLUGINS`` that match no plugin (a typo blocks nothing)."""
    known = known_names(builtin, extra)
    return [name for name in disabled if name not in known]


def check_no_wrappers(pm: pluggy.PluginManager) -> None:
    """The suite calls each implementation of an ``nws`` hook on its own, to check and
    attribute its result (shared.plugincalls), so a hook wrapper would never run."""
    for name in dir(hookspecs):
        if not name.startswith("nws_"):
            continue
        for impl in getattr(pm.hook, name).get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                raise PluginError(f"plugin {impl.plugin_name}: {name} is a hook wrapper; "
                                  "nws hooks take plain implementations")


def form_specs(pm: pluggy.PluginManager) -> dict[str, FormSpec]:
    """Every form the loaded plugins provide, by code; each spec's ``plugin`` names the
    plugin that provides it. Raises :class:`PluginError` for a plugin whose
    ``nws_form_specs`` fails or returns something else than FormSpecs, a code provided
    twice, and a workbook sheet name used by two forms."""
    specs: dict[str, FormSpec] = {}
    sheets: dict[str, str] = {}         # sheet name -> form code
    # In the order of registration: a clash names the plugin registered first first.
    for impl in reversed(implementations(pm, "nws_form_specs")):
        plugin = impl.plugin_name
        try:
            result = impl.function()
        except Exception as exc:  # noqa: BLE001 - named, with the plugin, and refused
            raise PluginError(f"plugin {plugin}: nws_form_specs failed: "
                              f"{type(exc).__name__}: {exc}") from exc
        if result is None:
            continue
        if isinstance(result, (str, bytes, Mapping, FormSpec)) or not isinstance(
                result, Iterable):
            raise PluginError(f"plugin {plugin}: nws_form_specs returned "
                              f"{type(result).__name__}, not a list of FormSpec")
        for spec in result:
            if not isinstance(spec, FormSpec):
                raise PluginError(f"plugin {plugin}: nws_form_specs returned a "
                                  f"{type(spec).__name__}, not a FormSpec")
            if spec.code in specs:
                raise PluginError(f"form {spec.code} is provided by two plugins: "
                                  f"{specs[spec.code].plugin} and {plugin}")
            for sheet in (spec.layout.sheets if spec.layout is not None else ()):
                if sheet in sheets:
                    other = specs[sheets[sheet]]
                    raise PluginError(
                        f"sheet {sheet!r} is used by two forms: {other.code} (plugin "
                        f"{other.plugin}) and {spec.code} (plugin {plugin}); an upload "
                        "could not tell them apart: give one form other sheet names")
                sheets[sheet] = spec.code
            specs[spec.code] = dataclasses.replace(spec, plugin=plugin)
    return dict(sorted(specs.items()))


def describe(pm: pluggy.PluginManager) -> list[dict]:
    """Name, origin, version and implemented hooks of each loaded plugin (for ``nws
    plugins``)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda np: np[0]):
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        origin = (f"entry point ({dist.project_name} {dist.version})" if dist
                  else getattr(plugin, "__name__", repr(plugin)))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        rows.append({"name": name, "origin": origin, "hooks": hooks,
                     "version": _version(plugin, dist)})
    return rows


def _version(plugin: object, dist) -> str:
    if dist is not None:
        return str(dist.version)
    own = getattr(plugin, "__version__", None)
    if isinstance(own, str):
        return own
    module = getattr(plugin, "__name__", "") or type(plugin).__module__
    if module.split(".")[0] == "plugins":     # the built-in plugins: the suite's version
        try:
            return importlib.metadata.version(SUITE_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"
    return "unknown"


def plugin_set(pm: pluggy.PluginManager) -> dict:
    """What this process loaded: every plugin's name and version, and a digest of them
    (the same digest on every process of a deployment means the same plugin set)."""
    plugins = [{"name": row["name"], "version": row["version"]} for row in describe(pm)]
    text = "\n".join(f"{p['name']} {p['version']}" for p in plugins)
    return {"digest": hashlib.sha256(text.encode()).hexdigest()[:16], "plugins": plugins}
