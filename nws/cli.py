"""The ``nws`` command line (DESIGN §7: serve, web, worker, db upgrade, refdata load,
users add, plugins)."""
from __future__ import annotations

import logging
import os
import signal
import sys

import click

from nws.runtime import ALL_SERVICES, Runtime
from shared.config import Settings

SERVICE_CHOICE = click.Choice(ALL_SERVICES)


def _runtime(services=ALL_SERVICES, embedded: bool = False) -> Runtime:
    return Runtime(Settings.from_env(embedded=embedded), services)


@click.group()
@click.option("--log-level", default=lambda: os.environ.get("NWS_LOG_LEVEL", "INFO"),
              show_default="INFO")
def main(log_level: str) -> None:
    """申請処理機能 — the NWS connection-application suite."""
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the whole suite in one process (SQLite under ./var, embedded worker)."""
    from waitress import create_server

    from nws.app import create_app
    from nws.embedded import EmbeddedWorker

    runtime = _runtime(embedded=True)
    runtime.migrate()
    seeded = runtime.seed()
    worker = EmbeddedWorker(runtime).start()
    app = create_app(runtime)
    server = create_server(app, host=host, port=port, threads=8)
    click.echo(f"\n申請処理機能 embedded suite on http://{host}:{port}/  (data in {runtime.settings.data_dir})")
    from services.identity.seed import DEMO_PASSWORD

    click.echo(f"Demo accounts (password: {DEMO_PASSWORD}):")
    for login, org, role in seeded.get("identity", []):
        click.echo(f"  {login:16} {role:20} {org}")

    def stop(*_args):
        server.close()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        runtime.close()


@main.command()
@click.option("--service", "service", required=True, type=SERVICE_CHOICE)
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def web(service: str, host: str, port: int, threads: int) -> None:
    """Serve one service's HTTP API."""
    from waitress import serve as waitress_serve

    from nws.app import create_app

    def stop(*_args):
        raise SystemExit(0)  # waitress closes its sockets on the way out

    signal.signal(signal.SIGTERM, stop)
    waitress_serve(create_app(_runtime([service])), host=host, port=port, threads=threads,
                   trusted_proxy=os.environ.get("NWS_TRUSTED_PROXY"),
                   trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto",
                                          "x-forwarded-host"},
                   clear_untrusted_proxy_headers=True)


@main.command()
@click.option("--service", "service", required=True, type=SERVICE_CHOICE)
@click.option("--concurrency", "-c", default=None, type=int,
              help="Worker processes (default: the number of CPUs).")
@click.option("--pool", default="prefork", show_default=True,
              type=click.Choice(["prefork", "solo", "threads"]))
def worker(service: str, concurrency: int | None, pool: str) -> None:
    """Run a Celery worker for one service's queue."""
    runtime = _runtime([service])
    argv = ["worker", "-Q", service, "-n", f"{service}@%h", "--pool", pool, "-E",
            "--loglevel", logging.getLevelName(logging.getLogger().level)]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    runtime.celery.worker_main(argv)


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
def refdata_load() -> None:
    """Load or update the organisation registry (idempotent)."""
    runtime = _runtime(["intake"], embedded=_embedded_default())
    result = runtime.definitions["intake"].seed(runtime.services["intake"])
    click.echo(f"organisations: {result}")


@main.group()
def users() -> None:
    """Accounts."""


@users.command("add")
@click.option("--login", required=True)
@click.option("--password", required=True)
@click.option("--org", "org_id", required=True)
@click.option("--role", required=True,
              type=click.Choice(["applicant", "forwarder", "primary_reviewer",
                                 "secondary_reviewer", "operator"]))
@click.option("--name", default="")
@click.option("--department", default="")
def users_add(login, password, org_id, role, name, department) -> None:
    """Create an account."""
    from services.identity.accounts import AccountError, create_account

    runtime = _runtime(["identity"], embedded=_embedded_default())
    try:
        with runtime.services["identity"].transaction() as session:
            account = create_account(session, login=login, password=password, org_id=org_id,
                                     role=role, name=name, department=department)
            click.echo(f"created account {account.login} ({account.role}, {account.org_id})")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("plugins")
def plugins_cmd() -> None:
    """List loaded plugins and the hooks each implements."""
    from shared.pluginmanager import describe, form_specs

    runtime = _runtime([], embedded=_embedded_default())
    for row in describe(runtime.plugins):
        click.echo(f"{row['name']:24} {row['origin']}")
        click.echo(f"{'':24}   hooks: {', '.join(row['hooks'])}")
    click.echo("forms: " + ", ".join(f"{c} {s.title}" for c, s in form_specs(runtime.plugins).items()))


def _embedded_default() -> bool:
    """Commands other than web/worker use the embedded settings (./var) unless a
    database URL is configured; a configured deployment must then be complete."""
    return not os.environ.get("NWS_DATABASE_URL")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
