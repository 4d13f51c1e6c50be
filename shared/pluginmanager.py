"""Building the plugin manager: built-in plugins and entry points, the same way."""
from __future__ import annotations

import importlib
from typing import Iterable

import pluggy

from shared import hookspecs
from shared.forms import FormSpec

ENTRY_POINT_GROUP = "nws"


class PluginError(RuntimeError):
    pass


def build_plugin_manager(builtin: Iterable[str] = (), *, disabled: Iterable[str] = (),
                         extra: Iterable[str] = ()) -> pluggy.PluginManager:
    """A plugin manager with the built-in plugins (module paths, registered under the
    last part of their name), any ``extra`` modules (``NWS_PLUGINS``) and every plugin of
    the ``nws`` entry-point group. Names in ``disabled`` (``NWS_DISABLE_PLUGINS``) are
    blocked. A hook implementation that matches no hookspec fails here."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for module_path in (*builtin, *extra):
        name = module_path.rsplit(".", 1)[-1]
        if pm.is_blocked(name):
            continue
        pm.register(importlib.import_module(module_path), name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    form_specs(pm)  # duplicate form codes fail at start-up, not at first use
    return pm


def form_specs(pm: pluggy.PluginManager) -> dict[str, FormSpec]:
    """Every form the loaded plugins provide, by code."""
    specs: dict[str, FormSpec] = {}
    for result in pm.hook.nws_form_specs():
        for spec in result or ():
            if spec.code in specs:
                raise PluginError(f"form {spec.code} is provided by two plugins")
            specs[spec.code] = spec
    return dict(sorted(specs.items()))


def describe(pm: pluggy.PluginManager) -> list[dict]:
    """Name, origin and implemented hooks of each loaded plugin (for ``nws plugins``)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda np: np[0]):
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        origin = (f"entry point ({dist.project_name} {dist.version})" if dist
                  else getattr(plugin, "__name__", repr(plugin)))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        rows.append({"name": name, "origin": origin, "hooks": hooks})
    return rows
