"""The ``nws`` command line (DESIGN §7: serve, web, worker, db upgrade, refdata load,
users add/disable/enable/set-role/set-password/password-link/end-sessions/unlock, plugins,
dead-letters, audit verify)."""
from __future__ import annotations

import logging
import os
import re
import sys
import time
from pathlib import Path

import click

from nws.runtime import ALL_SERVICES, Runtime
from shared.config import Settings
from shared.messaging import soft_time_limit

SERVICE_CHOICE = click.Choice(ALL_SERVICES)


def _runtime(services=ALL_SERVICES, embedded: bool = False,
             read_only: bool = False) -> Runtime:
    return Runtime(Settings.from_env(embedded=embedded, read_only=read_only), services)


def _read_only_runtime(services=ALL_SERVICES) -> Runtime:
    """The runtime of a command that only reads (status, plugins, dead-letters list,
    audit verify): it creates no file. In the embedded default with no suite data under
    NWS_DATA_DIR yet, it says so and stops (exit 0) instead of creating empty databases."""
    embedded = _embedded_default()
    runtime = _runtime(services, embedded=embedded, read_only=True)
    if embedded and services:
        missing = [name for name in services
                   if not Path(runtime.settings.database_url(name).removeprefix(
                       "sqlite:///")).exists()]
        if missing:
            click.echo(f"no embedded suite data under {runtime.settings.data_dir} yet "
                       f"(start it with `nws serve`, or set NWS_DATABASE_URL)")
            raise SystemExit(0)
    return runtime


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Commands(click.Group):
    """Configuration errors (a missing or wrong setting, a database URL that cannot be
    used) end a command with one line naming the setting, and exit status 2 — never a
    traceback."""

    def invoke(self, ctx):
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

        from shared.config import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            message = f"configuration error: {exc}"
        except (ArgumentError, NoSuchModuleError) as exc:
            message = ("configuration error: NWS_DATABASE_URL (or NWS_<SERVICE>_DATABASE_URL) "
                       f"is not a database URL this suite can use: {_one_line(exc)}")
        except OperationalError as exc:
            message = ("cannot reach the database of NWS_DATABASE_URL (or "
                       f"NWS_<SERVICE>_DATABASE_URL): {_one_line(exc)}")
        click.echo(f"nws: {message}", err=True)
        ctx.exit(2)


@click.group(cls=_Commands)
@click.option("--log-level", default=lambda: os.environ.get("NWS_LOG_LEVEL", "INFO"),
              show_default="INFO")
def main(log_level: str) -> None:
    """申請処理機能 — the NWS connection-application suite."""
    from shared.observability import configure_logging

    configure_logging(log_level)


def start_up_block(runtime, seeded: dict, host: str, port: int) -> str:
    """What `nws serve` prints last at start-up, in Japanese: where the suite is, the
    demo accounts with their roles and organisations by name, and what to try first."""
    from services.identity.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from services.intake.models import Organisation
    from shared.pages import ROLE_LABELS

    url = f"http://{host}:{port}/"
    lines = ["", "=" * 72, f"申請処理機能（組込み構成）を起動しました: {url}",
             f"データの保存先: {runtime.settings.data_dir}"]
    demo = {login for login, _org, _role in seeded.get("identity", [])}
    if demo:
        with runtime.services["intake"].transaction() as session:
            names = {org: (o.name if (o := session.get(Organisation, org)) else org)
                     for _l, org, *_ in DEMO_ACCOUNTS}
        lines += ["", f"デモ用アカウント（パスワードはすべて {DEMO_PASSWORD}）:"]
        width = max(len(login) for login, *_ in DEMO_ACCOUNTS)
        for login, org, role, _name, _dept in DEMO_ACCOUNTS:
            if login in demo:
                lines.append(f"  {login:{width}}  {ROLE_LABELS.get(role, role)}："
                             f"{names[org]}（{org}）")
        lines += ["", "まず試すこと:",
                  f"  1. {url} を開き、demo-applicant でログインして「新しい申請」を作る",
                  "  2. 申請前情報選択 → 様式の入力（またはExcelをダウンロードして記入・アップロード）→ 提出",
                  "  3. demo-pref（東京都）でログインして一次審査、demo-mic（総務省）で二次審査",
                  "  4. demo-operator で全申請の一覧・マスタの版・監査ログを見る"]
    lines += ["", "停止するには Ctrl+C を押してください。別のポートで起動するには "
                  "nws serve --port 8080（make run PORT=8080）。", "=" * 72]
    return "\n".join(lines)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int,
              help="Threads that answer requests.")
def serve(host: str, port: int, threads: int) -> None:
    """Run the whole suite in one process (SQLite under ./var, embedded worker)."""
    from nws.app import create_app
    from nws.embedded import EmbeddedWorker
    from nws.webserver import serve as serve_http

    runtime = _runtime(embedded=True)
    runtime.migrate()
    seeded = runtime.seed()
    worker = EmbeddedWorker(runtime).start()
    app = create_app(runtime)

    def announce() -> None:
        click.echo(start_up_block(runtime, seeded, host, port))

    try:
        serve_http(app, host=host, port=port, threads=threads, on_listen=announce,
                   **proxy_options(runtime.settings))
    finally:
        worker.stop()
        runtime.close()


@main.command()
@click.option("--service", "service", required=True, type=SERVICE_CHOICE)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (containers).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--grace", default=30.0, show_default=True, type=float,
              help="Seconds to finish requests in flight after SIGTERM.")
def web(service: str, host: str, port: int, threads: int, grace: float) -> None:
    """Serve one service's HTTP API. On SIGTERM it stops accepting connections and
    finishes the requests in flight (at most --grace seconds) before it exits."""
    from nws.app import create_app
    from nws.webserver import serve as serve_http

    from shared.processes import web_heartbeat

    runtime = _runtime([service])
    heartbeat = web_heartbeat(runtime)      # registered in Redis while it serves
    try:
        app = create_app(runtime)
        if heartbeat is not None:
            heartbeat.start()
        serve_http(app, host=host, port=port, threads=threads, grace=grace,
                   **proxy_options(runtime.settings))
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        runtime.close()


def proxy_options(settings: Settings) -> dict:
    """waitress's options for NWS_TRUSTED_PROXY: only requests from that peer (its
    address, or "*") may name the client in X-Forwarded-For (the last hop's entry, the
    one the proxy added); from anyone else the header is dropped. Unset: ignored."""
    if not settings.trusted_proxy:
        return {"clear_untrusted_proxy_headers": True}
    return dict(trusted_proxy=settings.trusted_proxy, trusted_proxy_count=1,
                trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto",
                                       "x-forwarded-host"},
                clear_untrusted_proxy_headers=True)


@main.command()
@click.option("--service", "service", required=True, type=SERVICE_CHOICE)
@click.option("--concurrency", "-c", default=None, type=int,
              help="Worker processes (default: the number of CPUs).")
@click.option("--pool", default="prefork", show_default=True,
              type=click.Choice(["prefork", "solo", "threads"]))
@click.option("--hostname", default=None,
              help="Celery node name (default: SERVICE@%h); unique per worker on one host.")
@click.option("--autoscale", default=None, metavar="MAX,MIN",
              help="Grow the pool up to MAX processes under load, shrink it to MIN when idle "
                   "(instead of --concurrency).")
@click.option("--max-tasks-per-child", "max_tasks_per_child", default=None, type=int,
              help="Replace a pool process after this many tasks (bounds slow memory growth "
                   "in plugins).")
@click.option("--rate-limit", "rate_limits", multiple=True, metavar="TASK=RATE",
              help="At most RATE runs of TASK by this worker, e.g. "
                   "nws.master.master.delivery_requested=30/m (repeatable; Celery's rate notation).")
def worker(service: str, concurrency: int | None, pool: str, hostname: str | None,
           autoscale: str | None, max_tasks_per_child: int | None,
           rate_limits: tuple[str, ...]) -> None:
    """Run a Celery worker for one service's queue.

    With NWS_METRICS_PORT set, the worker serves Prometheus metrics on that port,
    aggregated over its pool processes (prometheus-client multiprocess mode)."""
    annotations = _rate_limit_annotations(rate_limits)
    if autoscale is not None and not re.fullmatch(r"\d+,\d+", autoscale):
        raise click.BadParameter("MAX,MIN, two whole numbers (e.g. 8,2)",
                                 param_hint="--autoscale")
    if autoscale and concurrency:
        raise click.UsageError("give either --concurrency or --autoscale, not both")
    metrics_port = os.environ.get("NWS_METRICS_PORT")
    if metrics_port:
        _multiprocess_metrics_dir(service)
    runtime = _runtime([service])
    if metrics_port:
        _serve_worker_metrics(runtime, int(metrics_port))
    # This worker's own time limits (NWS_TASK_TIME_LIMIT in its environment): messages
    # carry none (shared.messaging.NO_TIME_LIMITS), so these apply to every task it runs.
    limit = runtime.settings.task_time_limit
    argv = ["worker", "-Q", service, "-n", hostname or f"{service}@%h", "--pool", pool, "-E",
            "--loglevel", logging.getLevelName(logging.getLogger().level),
            "--time-limit", str(limit), "--soft-time-limit", str(soft_time_limit(limit))]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if autoscale:
        argv += ["--autoscale", autoscale]
    if max_tasks_per_child:
        argv += ["--max-tasks-per-child", str(max_tasks_per_child)]
    if annotations:
        unknown = sorted(set(annotations) - set(runtime.celery.tasks))
        if unknown:
            raise click.BadParameter(f"no task named {', '.join(unknown)} in this service "
                                     f"(see `celery inspect registered`)",
                                     param_hint="--rate-limit")
        for task, options in annotations.items():  # the app is final: set them on the tasks
            runtime.celery.tasks[task].rate_limit = options["rate_limit"]
    runtime.celery.worker_main(argv)


def _rate_limit_annotations(specs: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``("master.deliver=10/m",)`` → Celery task annotations for this worker."""
    out = {}
    for spec in specs:
        task, _, rate = spec.partition("=")
        if not task or not re.fullmatch(r"\d+(\.\d+)?/[smh]", rate.strip()):
            raise click.BadParameter(f"{spec!r}: expected TASK=RATE, RATE like 10/s, 10/m or "
                                     "10/h", param_hint="--rate-limit")
        out[task.strip()] = {"rate_limit": rate.strip()}
    return out


def _multiprocess_metrics_dir(service: str) -> None:
    """Point prometheus-client at a fresh folder before it is first imported."""
    import tempfile

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=f"nws-{service}-metrics-")


def _serve_worker_metrics(runtime: Runtime, port: int) -> None:
    from celery.signals import worker_process_shutdown
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    from shared.observability import SuiteCollector

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(SuiteCollector(runtime.celery, runtime.services, runtime.definitions,
                                     runtime.plugin_set, runtime.processes))

    @worker_process_shutdown.connect(weak=False)
    def _dead(pid=None, **_kw):
        multiprocess.mark_process_dead(pid or os.getpid())

    start_http_server(port, registry=registry)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--service", "services", multiple=True, type=SERVICE_CHOICE,
              help="Only these services (default: all).")
def db_upgrade(services: tuple[str, ...]) -> None:
    """Apply every service's migrations (each its own Alembic history)."""
    runtime = _runtime(services or ALL_SERVICES, embedded=_embedded_default())
    runtime.migrate()
    click.echo(f"migrated: {', '.join(runtime.definitions)}")


@main.group()
def refdata() -> None:
    """Reference data."""


@refdata.command("load")
@click.option("--provided-info", "provided_info", default=None,
              type=click.Path(exists=True, dir_okay=False),
              help="Provider-side CSV (docs/reference-data.md); default: the shipped EXAMPLE file, which is not law.")
@click.option("--procedures", "procedures", default=None,
              type=click.Path(exists=True, dir_okay=False),
              help="Procedures (手続) of 別表 items for 様03-08's pull-down (docs/reference-data.md); default: the shipped EXAMPLE file, which is not law.")
def refdata_load(provided_info: str | None, procedures: str | None) -> None:
    """Load or update the organisation registry and the legal catalog (idempotent)."""
    from pathlib import Path

    from services.intake.catalog import CatalogError, load_refdata
    from services.intake.registry import RefdataError, announce_directory

    from shared.audit import acting_as, cli_actor

    runtime = _runtime(["intake"], embedded=_embedded_default())
    click.echo("loading the organisation registry and the legal catalog "
               "(one transaction: interrupting it changes nothing) …", err=True)
    started = time.monotonic()
    try:
        with acting_as(*cli_actor()), runtime.services["intake"].transaction() as session:
            result = load_refdata(session, Path(provided_info) if provided_info else None,
                                  Path(procedures) if procedures else None)
            announce_directory(runtime.services["intake"], session)
            click.echo(f"… read and compared in {time.monotonic() - started:.1f} s; committing",
                       err=True)
    except (CatalogError, RefdataError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        raise click.ClickException("interrupted: nothing was changed; run it again") from None
    click.echo(f"organisations: {result['organisations']}")
    click.echo(f"catalog: {result['catalog']}")
    if not provided_info:
        click.echo("warning: provider side loaded from EXAMPLE_provided_info_NOT_LAW.csv "
                   "(an example, not law); pass --provided-info FILE", err=True)
    if not procedures:
        click.echo("warning: procedures loaded from EXAMPLE_procedures_NOT_LAW.csv "
                   "(an example, not law); pass --procedures FILE", err=True)


@refdata.command("union-add")
@click.option("--id", "union_id", required=True, help="Operator-assigned id, e.g. U130001-001")
@click.option("--name", required=True)
@click.option("--kind", required=True,
              type=click.Choice(["一部事務組合", "広域連合", "後期高齢者医療広域連合"]))
@click.option("--prefecture", "prefecture_code", required=True, help="取りまとめ都道府県, e.g. 130001")
@click.option("--member", "members", multiple=True, required=True, help="Member organisation id (repeat)")
@click.option("--operator", "operator_login", default="cli", show_default=True,
              help="Recorded in the registry's audit trail and the audit log "
                   "(default: cli:<OS user> in the audit log)")
def refdata_union_add(union_id, name, kind, prefecture_code, members, operator_login) -> None:
    """Register a 一部事務組合・広域連合 with its members."""
    from services.intake.registry import RegistryError, announce_directory, register_union
    from shared.audit import Actor, acting_as, cli_actor

    runtime = _runtime(["intake"], embedded=_embedded_default())
    actor = {"org_id": "MIC", "login": operator_login, "name": "", "department": "nws refdata"}
    user, address = cli_actor()
    if operator_login != "cli":
        user = Actor(operator_login, "cli", "MIC")
    try:
        with acting_as(user, address), runtime.services["intake"].transaction() as session:
            org = register_union(session, actor, {
                "id": union_id, "name": name, "kind": kind, "prefecture_code": prefecture_code,
                "members": list(members)})
            announce_directory(runtime.services["intake"], session)
            click.echo(f"registered {org.id} {org.name} ({len(members)} members)")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def master() -> None:
    """Master data (operators)."""


@master.command("export")
@click.argument("number", type=int, required=False)
@click.option("--format", "fmt", type=click.Choice(["zip", "json", "xlsx"]), default="zip",
              show_default=True, help="zip: one CSV per table; json; xlsx: one sheet per table")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="file to write (default: nws-master-v<NUMBER>.<format>)")
def master_export(number: int | None, fmt: str, out: str | None) -> None:
    """Export a master version (default: the newest) to a file, with progress.

    The file appears only when it is whole (written as <out>.partial, then renamed):
    interrupting leaves no file, and running it again starts over."""
    from pathlib import Path

    from services.master import exports, registry
    from services.master.models import MasterVersion

    makers = {"zip": exports.as_csv_zip, "json": exports.as_json, "xlsx": exports.as_xlsx}
    runtime = _runtime(["master"], embedded=_embedded_default())
    started = time.monotonic()

    def progress(step: str, done: int, total: int) -> None:
        click.echo(f"  [{done}/{total}] {step} ({time.monotonic() - started:.1f} s)", err=True)

    with runtime.services["master"].transaction() as session:
        if number is None:
            number = registry.head(session).number
        version = session.get(MasterVersion, number) if number else None
        if version is None:
            raise click.ClickException(f"master version {number} does not exist")
        target = Path(out or f"nws-master-v{number}.{fmt}")
        partial = target.with_name(target.name + ".partial")
        click.echo(f"exporting master version {number} as {fmt} to {target} …", err=True)
        try:
            data = makers[fmt](session, version, progress)
            partial.write_bytes(data)
            os.replace(partial, target)
        except KeyboardInterrupt:
            partial.unlink(missing_ok=True)
            raise click.ClickException("interrupted: no file was written; run it again") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    click.echo(f"{target}: {len(data):,} bytes, checksum of the version {version.checksum}")


@main.group()
def users() -> None:
    """Accounts."""


PASSWORD_ON_COMMAND_LINE = (
    "warning: --password puts the password on the command line, where other local users "
    "can read it (ps, /proc) and where shell history keeps it; use the prompt or "
    "--password-stdin instead")


def _new_password(password: str | None, password_stdin: bool) -> str:
    """The password for an account: --password (with a warning), one line of standard
    input (--password-stdin), or a hidden prompt asked twice (getpass)."""
    if password is not None and password_stdin:
        raise click.UsageError("give either --password or --password-stdin, not both")
    if password is not None:
        click.echo(PASSWORD_ON_COMMAND_LINE, err=True)
        return password
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("no password on standard input")
        return line.rstrip("\r\n")
    return click.prompt("パスワード", hide_input=True,
                        confirmation_prompt="パスワード（確認のためもう一度）", err=True)


@users.command("add")
@click.option("--login", required=True)
@click.option("--password", default=None,
              help="The password (visible to other local users: prefer the prompt or --password-stdin).")
@click.option("--password-stdin", "password_stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.option("--org", "org_id", required=True)
@click.option("--role", required=True,
              type=click.Choice(["applicant", "forwarder", "primary_reviewer",
                                 "secondary_reviewer", "operator"]))
@click.option("--name", default="")
@click.option("--department", default="")
@click.option("--email", default=None,
              help="The account's e-mail address for notification mails.")
def users_add(login, password, password_stdin, org_id, role, name, department,
              email) -> None:
    """Create an account. Without --password or --password-stdin, asks for the password
    (hidden, twice)."""
    from services.identity.accounts import AccountError, create_account

    from shared.audit import acting_as, cli_actor

    password = _new_password(password, password_stdin)
    runtime = _runtime(["identity"], embedded=_embedded_default())
    try:
        with acting_as(*cli_actor()), runtime.services["identity"].transaction() as session:
            account = create_account(session, login=login, password=password, org_id=org_id,
                                     role=role, name=name, department=department,
                                     email=email)
            click.echo(f"created account {account.login} ({account.role}, {account.org_id})")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


def _change_account(login: str, change) -> None:
    """Apply ``change(session, account)`` to an account; it ends in a message. Web
    processes see a change that ends tokens within NWS_AUTH_REFRESH seconds (≤ 60).
    The audit log names the command's user (``cli:<OS user>``) as the actor."""
    from services.identity import admin
    from services.identity.accounts import AccountError
    from shared.audit import acting_as, cli_actor

    runtime = _runtime(["identity"], embedded=_embedded_default())
    try:
        with acting_as(*cli_actor()), runtime.services["identity"].transaction() as session:
            message = change(session, admin.find(session, login))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()
    click.echo(message)


@users.command("disable")
@click.argument("login")
def users_disable(login: str) -> None:
    """Disable an account: it can no longer log in, and its tokens and page sessions end
    on every service within a minute."""
    from services.identity import admin

    _change_account(login, lambda s, a: f"disabled {a.login}" if admin.set_active(a, False)
                    else f"{a.login} was already disabled")


@users.command("enable")
@click.argument("login")
def users_enable(login: str) -> None:
    """Enable a disabled account again (its old tokens stay ended)."""
    from services.identity import admin

    _change_account(login, lambda s, a: f"enabled {a.login}" if admin.set_active(a, True)
                    else f"{a.login} was already enabled")


@users.command("set-role")
@click.argument("login")
@click.argument("role", type=click.Choice(["applicant", "forwarder", "primary_reviewer",
                                           "secondary_reviewer", "operator"]))
def users_set_role(login: str, role: str) -> None:
    """Change an account's role; its tokens and page sessions end on every service
    within a minute (it logs in again to act in the new role)."""
    from services.identity import admin

    _change_account(login, lambda s, a: f"{a.login} is now {role}" if admin.set_role(a, role)
                    else f"{a.login} already was {role}")


@users.command("set-password")
@click.argument("login")
@click.option("--password-stdin", "password_stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def users_set_password(login: str, password_stdin: bool) -> None:
    """Set a new password (asked twice, hidden, unless --password-stdin); every token and
    page session of the account ends."""
    from services.identity import admin

    password = _new_password(None, password_stdin)

    def change(session, account):
        admin.set_password(account, password)
        return f"new password set for {account.login}; its sessions end"

    _change_account(login, change)


@users.command("end-sessions")
@click.argument("login")
def users_end_sessions(login: str) -> None:
    """End every token and page session of an account (e.g. a token thought stolen)."""
    from services.identity import admin

    def change(session, account):
        admin.end_sessions(account)
        return f"sessions of {account.login} end"

    _change_account(login, change)


@users.command("password-link")
@click.argument("login")
def users_password_link(login: str) -> None:
    """A one-time link that sets the account's password (for an issued account not yet
    activated, a new activation link): prints its token once, and mails it when the
    account has an address. The holder enters it on /auth/activate."""
    from services.identity import admin

    runtime = _runtime(["identity"], embedded=_embedded_default())

    def change(session, account):
        token, expires, mailed = admin.issue_password_link(runtime.services["identity"],
                                                           session, account)
        return (f"token for {account.login} (enter it on /auth/activate, valid until "
                f"{expires.isoformat()}{', mailed' if mailed else ''}):\n{token}")

    try:
        _change_account(login, change)
    finally:
        runtime.close()


@users.command("unlock")
@click.argument("login")
def users_unlock(login: str) -> None:
    """Lift a temporary login lock: the login name's failed logins are forgotten."""
    from services.identity import admin

    _change_account(login, lambda s, a: f"unlocked {a.login}" if admin.unlock(s, a.login)
                    else f"{a.login} had no failed logins")


@main.command()
@click.option("--timeout", default=2.0, show_default=True, help="Seconds to wait for workers.")
def status(timeout: float) -> None:
    """Queues, workers, outbox backlog, dead letters, plugin faults, the workers' plugin
    sets, storage and recent errors, at a glance."""
    from sqlalchemy import select

    from shared.messaging import QUEUES
    from shared.observability import outbox_backlog, queue_depths

    runtime = _read_only_runtime()
    depths = queue_depths(runtime.celery, QUEUES)
    stats, active = {}, {}
    if _workers_may_answer(runtime):
        try:
            stats = runtime.celery.control.inspect(timeout=timeout).stats() or {}
            active = runtime.celery.control.inspect(timeout=timeout).active_queues() or {}
        except Exception as exc:  # noqa: BLE001 - broker down: say so, keep going
            click.echo(f"broker unreachable: {type(exc).__name__}: {exc}")
    workers_by_queue: dict[str, list[str]] = {q: [] for q in QUEUES}
    for node, queues in active.items():
        concurrency = (stats.get(node, {}).get("pool") or {}).get("max-concurrency", "?")
        for q in queues:
            workers_by_queue.setdefault(q["name"], []).append(f"{node}×{concurrency}")
    click.echo(f"{'queue':10} {'waiting':>8}  workers")
    for queue in QUEUES:
        depth = depths.get(queue)
        shown = "?" if depth is None else str(depth)
        workers = ", ".join(workers_by_queue.get(queue) or ["— none —"])
        click.echo(f"{queue:10} {shown:>8}  {workers}")
    click.echo("")
    click.echo(f"{'outbox':10} {'unacked':>8}  oldest")
    errors = []
    for name, ctx in runtime.services.items():
        count, age = outbox_backlog(ctx)
        click.echo(f"{name:10} {count:>8}  {age:,.0f} s" if count else f"{name:10} {count:>8}  -")
        with ctx.db.transaction() as session:
            rows = session.execute(select(ctx.Outbox.task_name, ctx.Outbox.last_error,
                                          ctx.Outbox.next_attempt_at)
                                   .where(ctx.Outbox.last_error.is_not(None),
                                          ctx.Outbox.acked_at.is_(None))
                                   .order_by(ctx.Outbox.next_attempt_at.desc()).limit(5)).all()
        errors += [(name, *r) for r in rows]
    dead = {name: len(ctx.dead_letters()) for name, ctx in runtime.services.items()}
    click.echo("")
    click.echo("dead letters: " + (", ".join(f"{n} {c}" for n, c in dead.items() if c)
                                   or "none") + ("  (nws dead-letters list)" if any(
                                       dead.values()) else ""))
    click.echo("")
    _plugin_faults(runtime)
    click.echo("")
    _plugin_sets(runtime, timeout)
    click.echo("")
    _storage(runtime)
    click.echo("")
    if errors:
        click.echo("last errors:")
        for name, task, error, when in errors:
            click.echo(f"  {name:10} {task}: {error} (next try {when:%Y-%m-%d %H:%M:%S})")
    else:
        click.echo("last errors: none")


@main.group("dead-letters")
def dead_letters() -> None:
    """Messages whose handler kept failing (NWS_DEAD_LETTER_AFTER attempts), or whose
    worker process kept ending under them (NWS_LOST_DELIVERY_AFTER deliveries)."""


@dead_letters.command("list")
def dead_letters_list() -> None:
    """Every dead letter of every service, oldest first."""
    runtime = _read_only_runtime()
    rows = [r for ctx in runtime.services.values() for r in ctx.dead_letters()]
    if not rows:
        click.echo("no dead letters")
        return
    for r in sorted(rows, key=lambda r: r["last_failed_at"]):
        first_line = (r["error"] or "").splitlines()[0] if r["error"] else ""
        click.echo(f"{r['id']}  {r['service']:9} {r['type']:32} from {r['sender']:9} "
                   f"{r['attempts']} attempts, {r['lost']} lost, "
                   f"last {r['last_failed_at']:%Y-%m-%d %H:%M:%S}: "
                   f"{first_line}")


@dead_letters.command("retry")
@click.argument("message_id")
def dead_letters_retry(message_id: str) -> None:
    """Deliver a dead letter again (after the cause was fixed)."""
    runtime = _runtime(embedded=_embedded_default())
    for ctx in runtime.services.values():
        if ctx.retry_dead_letter(message_id):
            click.echo(f"{message_id}: sent to {ctx.name} again")
            return
    raise click.ClickException(f"{message_id}: no dead letter with this id")


def _plugin_faults(runtime) -> None:
    """What plugins at fault left for an operator: forms and applications blocked by a
    plugin's fault finding (intake), cases parked as 振分けできません (review)."""
    rows: list[str] = []
    if "intake" in runtime.services:
        from services.intake.applications import plugin_faults

        with runtime.services["intake"].db.transaction() as session:
            for r in plugin_faults(session):
                where = "the application" if r["where"] == "application" else r["where"]
                rows.append(f"  intake     application {r['number']} (id {r['application_id']}), "
                            f"{where}: blocked by plugin {', '.join(r['plugins'])}")
    if "review" in runtime.services:
        from services.review.cases import unroutable

        with runtime.services["review"].db.transaction() as session:
            for r in unroutable(session):
                who = f"plugin {r['plugin']}" if r.get("plugin") else "no router decided"
                rows.append(f"  review     application {r['number']} (id {r['application_id']}) "
                            f"unroutable at {r.get('stage')}: {who}: {r.get('problem', '')} "
                            f"(re-route: POST /api/review/applications/{r['application_id']}/reroute)")
    if rows:
        click.echo(f"plugin faults: {len(rows)}")
        for row in rows:
            click.echo(row)
    else:
        click.echo("plugin faults: none")


def _workers_may_answer(runtime) -> bool:
    """Whether asking the workers makes sense. The embedded suite's file broker: a worker
    that ever ran bound the control exchange; without one, asking would only create the
    reply exchange's file (and `nws status` writes nothing)."""
    control = runtime.settings.data_dir / "broker" / "control" / "celery.pidbox.exchange"
    return not runtime.settings.broker_url.startswith("filesystem://") or control.exists()


def _plugin_sets(runtime, timeout: float) -> None:
    """This command's plugin set, every worker's (celery inspect nws_plugins) and every
    registered web process's (shared.processes); one whose set differs is flagged with
    what differs."""
    own = runtime.plugin_set()
    click.echo(f"plugins: {own['digest']} ({len(own['plugins'])} loaded by this command)")
    if _workers_may_answer(runtime):
        try:
            replies = runtime.celery.control.broadcast("nws_plugins", reply=True,
                                                       timeout=timeout) or []
        except Exception as exc:  # noqa: BLE001 - broker down: said above
            click.echo(f"  workers not asked: {type(exc).__name__}")
            replies = []
        for reply in replies:
            for node, theirs in reply.items():
                _compare_plugin_set(node, own, theirs)
    if runtime.processes is None:
        return
    try:
        webs = runtime.processes.processes("web")
    except Exception as exc:  # noqa: BLE001 - Redis down: said above
        click.echo(f"  web processes not read: {type(exc).__name__}")
        return
    if not webs:
        click.echo("  web processes: none registered")
    for entry in webs:
        _compare_plugin_set(f"{entry['id']} ({', '.join(entry['services'])})", own, entry)


def _compare_plugin_set(name: str, own: dict, theirs) -> None:
    from shared.processes import difference

    if not isinstance(theirs, dict) or "digest" not in theirs:
        click.echo(f"  {name}: plugin set unknown (an older worker?)")
    elif theirs["digest"] == own["digest"]:
        click.echo(f"  {name}: same")
    else:
        click.echo(f"  {name}: DIFFERS ({theirs['digest']}): {difference(own, theirs)}")


@main.group()
def audit() -> None:
    """The tamper-evident audit log of every service (docs/runbook.md, "Audit log")."""


def _noted_head(value: str) -> tuple[str, int, str]:
    service, _, rest = value.partition(":")
    seq, _, digest = rest.partition(":")
    if service not in ALL_SERVICES or not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter(f"{value!r}: give SERVICE:SEQ:HASH, as verify prints a head")
    return service, int(seq), digest


@audit.command("verify")
@click.option("--service", "services", multiple=True, type=SERVICE_CHOICE,
              help="Only these services (default: all).")
@click.option("--expect", "expected", multiple=True, metavar="SERVICE:SEQ:HASH",
              help="A head noted from an earlier run: it must still be in the chain "
                   "(finds a log whose newest entries were cut off). Repeatable.")
@click.option("--since", "since", multiple=True, metavar="SERVICE:SEQ:HASH",
              help="Start that service's walk at a head noted earlier instead of the first "
                   "entry (what was appended since; the chain after an investigated "
                   "break). Repeatable.")
def audit_verify(services: tuple[str, ...], expected: tuple[str, ...],
                 since: tuple[str, ...]) -> None:
    """Walk each service's hash chain from its first entry: OK with the number of
    entries and the head (SERVICE:SEQ:HASH, worth noting down elsewhere: a cut-off tail
    is found only against a head noted before, --expect), or the first entry that does
    not verify (altered, deleted or reordered). Exit status 1 if any chain is broken."""
    from shared import audit as audit_log

    heads = {service: (seq, digest) for service, seq, digest in map(_noted_head, expected)}
    starts = {service: (seq, digest) for service, seq, digest in map(_noted_head, since)}
    runtime = _read_only_runtime(services or ALL_SERVICES)
    broken = False
    try:
        for name, ctx in runtime.services.items():
            if ctx.Audit is None:
                continue
            with ctx.db.transaction() as session:
                verdict = audit_log.verify(session, ctx.Audit, expect=heads.get(name),
                                           since=starts.get(name))
            click.echo(verdict.describe())
            broken = broken or not verdict.ok
    finally:
        runtime.close()
    if broken:
        raise click.ClickException('an audit log is BROKEN: see docs/runbook.md, "Audit log"')


def _storage(runtime) -> None:
    """Bytes the suite keeps for applications' files (intake's database)."""
    if "intake" not in runtime.services:
        return
    from services.intake.uploads import storage_used

    with runtime.services["intake"].db.transaction() as session:
        used = storage_used(session)
    up, att = used["uploads"], used["attachments"]
    click.echo(f"{'storage':12} {'files':>8} {'bytes':>15}")
    click.echo(f"{'uploads':12} {up['count']:>8,} {up['bytes']:>15,}  "
               f"(bytes still held until read: {up['held_count']:,} "
               f"upload{'' if up['held_count'] == 1 else 's'}, {up['held_bytes']:,} bytes)")
    click.echo(f"{'attachments':12} {att['count']:>8,} {att['bytes']:>15,}")
    click.echo(f"{'total held':12} {up['held_count'] + att['count']:>8,} "
               f"{up['held_bytes'] + att['bytes']:>15,}")


@main.group("plugins", invoke_without_command=True)
@click.pass_context
def plugins_cmd(ctx: click.Context) -> None:
    """List loaded plugins and the hooks each implements (``nws plugins new NAME``: make
    a plugin package)."""
    if ctx.invoked_subcommand is not None:
        return
    from shared.pluginmanager import describe, form_specs

    runtime = _read_only_runtime([])
    for row in describe(runtime.plugins):
        click.echo(f"{row['name']:24} {row['origin']} (version {row['version']})")
        click.echo(f"{'':24}   hooks: {', '.join(row['hooks'])}")
    click.echo("forms: " + ", ".join(f"{c} {s.title}" for c, s in form_specs(runtime.plugins).items()))
    click.echo(f"plugin set digest: {runtime.plugin_set()['digest']}")


@plugins_cmd.command("new")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the package (default: ./NAME).")
@click.option("--code", default=None,
              help="The form code (default: the first of 99-01, 99-02, … no loaded form uses).")
def plugins_new(name: str, directory: Path | None, code: str | None) -> None:
    """Make a plugin package NAME: an entry point, a form with a workbook and a
    validator, a router, and tests using nws.testing that pass as generated."""
    from nws.scaffold import ScaffoldError, new_plugin

    target = directory if directory is not None else Path(name)
    try:
        written = new_plugin(name, target, code)
    except ScaffoldError as exc:
        click.echo(f"nws: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(f"plugin {name} written to {target}/ ({len(written)} files). Next:\n"
               f"  cd {target} && pip install -e . && pytest")


def _embedded_default() -> bool:
    """Commands other than web/worker use the embedded settings (./var) unless a
    database URL is configured; a configured deployment must then be complete."""
    return not os.environ.get("NWS_DATABASE_URL")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
