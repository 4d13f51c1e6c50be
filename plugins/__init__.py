"""Built-in plugins. They are registered exactly like third-party ones: each is a module
with ``@hookimpl`` functions, named by the last part of its module path (which is the
name ``NWS_DISABLE_PLUGINS`` takes)."""

BUILTIN = (
    "plugins.forms.form_02_01",
    "plugins.forms.form_02_02",
    "plugins.forms.form_02_06",
    "plugins.forms.form_03_06",
    "plugins.forms.form_03_07",
    "plugins.forms.form_03_08",
    "plugins.forms.form_03_09",
    "plugins.routing.route_forwarding",
    "plugins.routing.route_primary",
    "plugins.routing.route_secondary",
)
