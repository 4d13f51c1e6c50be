"""The architecture a newcomer sees in the tree, checked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nws.runtime import ALL_SERVICES, definitions

REPO = Path(__file__).resolve().parents[1]


def test_services_never_import_each_other():
    """import-linter contracts in pyproject.toml: independence of the services, shared
    and plugins know no service."""
    out = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 3 kept, 0 broken." in out.stdout


@pytest.mark.parametrize("service", ALL_SERVICES)
def test_each_service_folder_holds_api_tasks_models_and_migrations(service):
    folder = REPO / "services" / service
    for part in ("api.py", "tasks.py", "models.py", "migrations/env.py"):
        assert (folder / part).exists(), f"services/{service}/{part} is missing"
    assert list((folder / "migrations" / "versions").glob("*.py"))


def test_each_service_owns_tables_named_after_it():
    for d in definitions():
        for table in d.metadata.tables:
            assert table.startswith(f"{d.name}_"), f"{table} is not prefixed {d.name}_"


def test_migrations_match_the_models(tmp_path):
    """Upgrading each service's history yields exactly its models' schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from shared.migrate import upgrade, version_table

    for d in definitions():
        url = f"sqlite:///{tmp_path / d.name}.db"
        upgrade(d.name, d.migrations, url)
        engine = create_engine(url)
        with engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"version_table": version_table(d.name)})
            diff = [op for op in compare_metadata(mc, d.metadata)]
        engine.dispose()
        assert diff == [], f"{d.name}: models and migrations differ: {diff}"


def test_no_file_keeps_a_merge_conflict_marker():
    """A merge left unresolved in a style sheet or a template still serves; catch it here."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                            check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    marked = []
    for name in listed.stdout.decode().split("\0"):
        path = REPO / name
        if not name or path.suffix not in {".py", ".html", ".css", ".js", ".md", ".toml",
                                           ".yml", ".yaml", ".cfg", ".ini", ".txt"}:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        marked += [f"{name}:{n}" for n, line in enumerate(lines, 1)
                   if line.startswith(("<<<<<<< ", ">>>>>>> "))]
    assert not marked, f"merge conflict markers: {marked}"


# --- pages and the API: two faces of one use case (docs/architecture.md) ---------------

PAGE_MODULES = sorted(p for p in (REPO / "services").glob("*/*.py")
                      if p.name == "pages.py" or p.name.endswith("_pages.py"))


@pytest.mark.parametrize("path", PAGE_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_modules_build_no_queries(path):
    """A page module renders what a domain function returns: it imports nothing of
    SQLAlchemy, so no query (select, func, joins) is written in it."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)]
    assert not [m for m in imported if m.split(".")[0] == "sqlalchemy"], \
        f"{path.relative_to(REPO)} builds a query: move it into the service's domain module"


# (service, page handler, API handler, the domain function both must call). A handler
# counts the calls of the module's own helpers it calls (``_render_case`` …).
SHARED_USE_CASES = [
    ("review", "pages:queue", "api:queue", "review_queue.search"),
    ("review", "pages:queue_csv", "api:queue_csv", "review_queue.csv_response"),
    ("review", "pages:application", "api:get_case", "cases.case_view"),
    ("review", "pages:application", "api:get_case", "cases.describe"),
    ("review", "pages:decide", "api:decide", "cases.decide"),
    ("review", "pages:reroute", "api:reroute", "cases.reroute_case"),
    ("review", "pages:save_schedule", "api:put_schedule", "schedule.replace"),
    ("master", "pages:index", "api:versions", "registry.versions"),
    ("master", "pages:index", "api:publication", "registry.publication"),
    ("master", "pages:version", "api:version", "registry.version"),
    ("master", "pages:version_diff", "api:version_diff", "registry.diff_versions"),
    ("master", "pages:version_export", "api:version_export", "exports.download"),
    ("master", "pages:set_mode", "api:set_publication", "registry.switch_mode"),
    ("master", "pages:publish", "api:publish", "registry.publish"),
    ("master", "pages:subscriber", "api:get_subscription", "distribution.subscriber"),
    ("master", "pages:subscriber", "api:list_deliveries", "distribution.delivery_log"),
    ("intake", "pages:create", "api:create_application", "apps.create_application"),
    ("intake", "pages:application", "api:get_application", "apps.get_owned"),
    ("intake", "pages:application", "api:get_application", "apps.describe"),
    ("intake", "pages:submit", "api:submit", "apps.submit"),
    ("intake", "pages:withdraw", "api:withdraw", "apps.withdraw"),
    ("intake", "pages:save_selection", "api_catalog:put_selection", "apps.save_selection"),
    ("intake", "pages:refdata", "api_catalog:catalog_versions", "catalog.versions"),
    ("intake", "pages:late_allowances", "api_deadlines:grant_late_allowance", "deadlines.allow"),
    ("intake", "pages:late_allowances", "api_deadlines:list_late_allowances",
     "deadlines.allowances"),
    ("intake", "pages:upload_workbook", "api_uploads:upload_batch", "uploads.receive_files"),
    ("intake", "pages:add_attachment", "api_uploads:add_attachment", "uploads.add_attachment"),
    ("intake", "pages:delete_attachment", "api_uploads:delete_attachment",
     "uploads.delete_attachment"),
    ("intake", "pages:attachment_download", "api_uploads:download_attachment",
     "apps.get_readable"),
    ("intake", "pages:form_workbook", "api_forms:form_workbook", "workbooks.form_workbook"),
    ("intake", "pages:forms_zip", "api_forms:forms_zip", "workbooks.forms_zip"),
    ("intake", "pages:account_requests_list", "api:list_account_requests",
     "account_requests.search"),
    ("intake", "pages:account_requests_csv", "api:account_requests_csv",
     "account_requests.csv_response"),
    ("identity", "account_pages:index", "api:list_accounts", "admin.search"),
    ("identity", "account_pages:new", "api:create_account", "admin.create"),
    ("identity", "account_pages:show", "api:get_account", "admin.account"),
    ("identity", "account_pages:change_role", "api:patch_account", "admin.set_role"),
    ("identity", "account_pages:change_role", "api:patch_account", "admin.own_account_refusal"),
    ("identity", "account_pages:change_active", "api:patch_account", "admin.set_active"),
    ("identity", "account_pages:change_active", "api:patch_account",
     "admin.own_account_refusal"),
    ("identity", "account_pages:password_link", "api:password_link", "admin.issue_password_link"),
    ("identity", "account_pages:end_sessions", "api:end_sessions", "admin.end_sessions"),
    ("identity", "account_pages:unlock", "api:unlock", "admin.unlock"),
    ("matching", "pages:application", "api:application_records", "matcher.may_see"),
    ("matching", "pages:application", "api:application_records", "matcher.results_of"),
    ("matching", "pages:confirmations", "api:list_confirmations", "confirmation_list.search"),
    ("matching", "pages:answer", "api:answer_confirmation", "matcher.answer"),
    ("matching", "pages:answer", "api:answer_confirmation", "confirmation_list.view"),
    ("matching", "pages:confirmations_csv", "api:confirmations_csv",
     "confirmation_list.csv_response"),
    ("identity", "pages:activate", "api:activate", "activation.activate"),
    ("identity", "pages:notification_settings", "notify_api:put_settings",
     "notifications.change_settings"),
]


def _calls(module_path: Path, function: str) -> set[str]:
    """The dotted names ``function`` of the module calls, with those of the module's own
    functions it calls (and theirs), nested functions included."""
    import ast

    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert function in defs, f"{module_path.name} has no {function}"
    seen, todo, out = set(), [function], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(defs[name]):
            if isinstance(node, ast.Call):
                called = ast.unparse(node.func)
                out.add(called)
                if called in defs:
                    todo.append(called)
            elif isinstance(node, ast.Name) and node.id in defs:
                todo.append(node.id)     # a helper passed along (e.g. to a decorator)
    return out


@pytest.mark.parametrize("service,page,api,domain", SHARED_USE_CASES,
                         ids=[f"{s}:{p}~{a}:{d}" for s, p, a, d in SHARED_USE_CASES])
def test_a_page_and_its_api_endpoint_call_the_same_domain_function(service, page, api,
                                                                    domain):
    """The page and the JSON endpoint of one use case both call its domain function
    (services/<service>/<domain module>), so neither repeats its query or its rules."""
    import importlib

    for handler in (page, api):
        module, function = handler.split(":")
        path = REPO / "services" / service / f"{module}.py"
        assert domain in _calls(path, function), f"{service}/{handler} does not call {domain}"
    # the name is a function of a domain module, not of a page or API module
    alias, attr = domain.split(".")
    page_module = importlib.import_module(f"services.{service}.{page.split(':')[0]}")
    owner = getattr(page_module, alias)
    target = getattr(owner, attr)
    assert callable(target)
    home = target.__module__.rsplit(".", 1)[-1]
    assert target.__module__.startswith(f"services.{service}.")
    assert not (home.startswith("api") or home.endswith("api") or "pages" in home), \
        f"{domain} lives in {target.__module__}, not in a domain module"
