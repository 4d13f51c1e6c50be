"""Settings, read once from the environment (``NWS_*``) by the composition root.

Defaults give the embedded suite: SQLite files and a filesystem broker under
``./var``. The distributed suite sets ``NWS_DATABASE_URL`` (or one URL per service,
``NWS_<SERVICE>_DATABASE_URL``) and ``NWS_BROKER_URL``.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Mapping

SERVICES = ("identity", "intake", "review", "matching", "master")


class ConfigError(ValueError):
    """A setting is missing or wrong. The message names the setting (``NWS_…``) and what
    is wrong, in one line: the command line prints it as it is and exits 2."""


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a number, not {raw!r}") from None


def _list(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in env.get(key, "").split(",") if p.strip())


TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{key} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ConfigError(f"{key} must be a positive whole number, not {raw!r}")
    return int(value)


def _rate(env: Mapping[str, str], key: str, default: str) -> str:
    """A rate limit in the ``limits`` notation (``5/hour``, ``10 per minute``)."""
    from limits import parse

    value = (env.get(key) or default).strip()
    try:
        parse(value)
    except ValueError:
        raise ConfigError(f"{key} must be a rate such as 5/hour, not {value!r}") from None
    return value


def _networks(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    """Comma-separated CIDRs (a bare address is a /32 or /128), normalised."""
    out = []
    for part in _list(env, key):
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(f"{key}: {part!r} is not an IP network (CIDR)") from None
    return tuple(out)


def _smtp_url(env: Mapping[str, str], key: str) -> str:
    value = env.get(key, "").strip()
    if value and not value.startswith(("smtp://", "smtps://")):
        raise ConfigError(f"{key} must be an smtp:// or smtps:// URL")
    return value


def _days(env: Mapping[str, str], key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated whole numbers of days (0 or more), largest first."""
    parts = _list(env, key)
    if not parts:
        return default
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise ConfigError(f"{key} must be whole numbers of days separated by commas, "
                          f"such as 7,1")
    return tuple(sorted({int(p) for p in parts}, reverse=True))


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path
    secret_key: str
    broker_url: str
    database_urls: Mapping[str, str]
    token_ttl_seconds: int = 8 * 3600
    # The broker hides a message that a worker took for this long before handing it to
    # another worker; it must stay above the longest task (task_time_limit).
    visibility_timeout: int = 3600
    task_time_limit: int = 900
    # An outbox message that no receiver acknowledged within this many seconds is
    # published again (then after twice as long, and so on, up to an hour).
    outbox_redeliver_after: float = 120.0
    # failed attempts of a message before it is a dead letter (nws dead-letters)
    dead_letter_after: int = 5
    # deliveries that ended with their worker process (hard time limit, crash) before
    # the message is a dead letter (counted apart from dead_letter_after)
    lost_delivery_after: int = 3
    sweep_interval: float = 5.0
    # how often a worker marks as acknowledged the outbox messages its receivers
    # reported done (they are ids in a list beside the queues, not messages)
    ack_drain_interval: float = 0.5
    # outbox messages that only inform (status reports, notices) are published together,
    # one broker message per receiver, at most this many seconds after their commit
    inform_batch_interval: float = 1.0
    disabled_plugins: tuple[str, ...] = ()
    extra_plugins: tuple[str, ...] = ()
    embedded: bool = False
    # A read-only command (nws status, nws plugins, …): nothing is created on disk.
    read_only: bool = False
    # A prefix for every key the suite keeps in Redis, so several suites (or test runs)
    # can share one Redis server.
    broker_key_prefix: str = ""
    # Outbound requests to addresses registrants give (webhooks, master subscribers)
    # reach only public addresses; these CIDRs are let through as well (empty by
    # default in every mode). A proxy is used only when set here, never from the
    # environment's HTTP(S)_PROXY.
    outbound_allow: tuple[str, ...] = ()
    outbound_proxy: str = ""
    outbound_ca_file: str = ""   # CA bundle for receivers' certificates (default: system's)
    # The Secure attribute of the session and login cookies (on behind TLS).
    cookie_secure: bool = False
    # --- identity: sessions, revocation, login throttling ---------------------------
    # Where a web process that does not run the identity service fetches the revocation
    # state (logged-out tokens, disabled accounts, token generations), e.g.
    # http://web-identity:8000; and how often, in seconds (at most 60: a revocation
    # reaches every service within a minute).
    identity_url: str = ""
    auth_refresh_seconds: float = 30.0
    # Failed logins per login name, and per client address, before a temporary lock of
    # login_lock_seconds; the six failures before the lock get growing delays.
    login_lock_after: int = 10
    login_address_lock_after: int = 30
    login_lock_seconds: int = 900
    # Login attempts (throttle check, argon2 hash, audit) one web process handles at
    # once, and how long an attempt waits for a free slot before 503: a flood from many
    # addresses cannot take more than these threads and cores from everyone else.
    login_slots: int = 2
    login_slot_wait: float = 0.1
    # The reverse proxy whose X-Forwarded-For names the client (its address, or "*");
    # empty: the header is ignored and the peer address is the client's.
    trusted_proxy: str = ""
    # Abuse limits of the public アカウント発行申請 (``limits`` notation): requests filed
    # from one client address, and for one organisation.
    account_request_limit_address: str = "5/hour"
    account_request_limit_org: str = "3/day"
    # Quotas of one application: its attachments (count, total bytes) and the files
    # (workbooks and attachments) posted to it.
    attachments_max_count: int = 30
    attachments_max_bytes: int = 100 * 1024 * 1024
    upload_rate_limit: str = "10/minute"
    # The PDF of an application (services/intake/pdf.py): which converter ("chromium",
    # "libreoffice"; empty: the first one found), the programs' paths (None: looked up
    # on PATH; empty: not installed), and how long GET .pdf waits for the task before
    # it answers 202.
    pdf_converter: str = ""
    pdf_chromium: str | None = None
    pdf_soffice: str | None = None
    pdf_wait_seconds: float = 3.0
    # --- notifications (docs/notifications.md) ---------------------------------------
    # SMTP server of notification mails (smtp://user:pass@host:587?starttls=1,
    # smtps://host:465); empty: each mail is written as an .eml file under
    # <data dir>/mail/. The sender address, the address pages are reached at (for the
    # links in mails), the days before a phase deadline that applicants are told, and
    # the first retry delay of a failed mail (doubling each time).
    smtp_url: str = ""
    mail_from: str = "nws-noreply@localhost"
    public_url: str = "http://127.0.0.1:8000"
    deadline_notice_days: tuple[int, ...] = (7, 1)
    mail_retry_base: float = 30.0

    def database_url(self, service: str) -> str:
        return self.database_urls[service]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, embedded: bool = False,
                 read_only: bool = False, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("NWS_DATA_DIR", "var")).resolve()
        common_db = env.get("NWS_DATABASE_URL")
        urls = {}
        for service in SERVICES:
            url = env.get(f"NWS_{service.upper()}_DATABASE_URL") or common_db
            urls[service] = url or f"sqlite:///{data_dir / (service + '.db')}"
        broker = env.get("NWS_BROKER_URL") or (
            "filesystem://localhost/" if embedded else "redis://127.0.0.1:6379/0")
        secret = env.get("NWS_SECRET_KEY") or _embedded_secret(data_dir, embedded, read_only)
        values = dict(
            data_dir=data_dir,
            secret_key=secret,
            broker_url=broker,
            database_urls=urls,
            token_ttl_seconds=_int(env, "NWS_TOKEN_TTL", 8 * 3600),
            visibility_timeout=_int(env, "NWS_VISIBILITY_TIMEOUT", 3600),
            task_time_limit=_int(env, "NWS_TASK_TIME_LIMIT", 900),
            outbox_redeliver_after=_float(env, "NWS_OUTBOX_REDELIVER_AFTER", 120.0),
            dead_letter_after=_int(env, "NWS_DEAD_LETTER_AFTER", 5),
            lost_delivery_after=_int(env, "NWS_LOST_DELIVERY_AFTER", 3),
            sweep_interval=_float(env, "NWS_SWEEP_INTERVAL", 5.0),
            ack_drain_interval=_float(env, "NWS_ACK_DRAIN_INTERVAL", 0.5),
            inform_batch_interval=_float(env, "NWS_INFORM_BATCH_INTERVAL", 1.0),
            disabled_plugins=_list(env, "NWS_DISABLE_PLUGINS"),
            extra_plugins=_list(env, "NWS_PLUGINS"),
            embedded=embedded,
            read_only=read_only,
            broker_key_prefix=env.get("NWS_BROKER_KEY_PREFIX", ""),
            outbound_allow=_networks(env, "NWS_OUTBOUND_ALLOW"),
            outbound_proxy=env.get("NWS_OUTBOUND_PROXY", "").strip(),
            outbound_ca_file=env.get("NWS_OUTBOUND_CA_FILE", "").strip(),
            cookie_secure=_bool(env, "NWS_COOKIE_SECURE", False),
            identity_url=env.get("NWS_IDENTITY_URL", ""),
            auth_refresh_seconds=_float(env, "NWS_AUTH_REFRESH", 30.0),
            login_lock_after=_int(env, "NWS_LOGIN_LOCK_AFTER", 10),
            login_address_lock_after=_int(env, "NWS_LOGIN_ADDRESS_LOCK_AFTER", 30),
            login_lock_seconds=_int(env, "NWS_LOGIN_LOCK_SECONDS", 900),
            login_slots=_int(env, "NWS_LOGIN_SLOTS", 2),
            login_slot_wait=_float(env, "NWS_LOGIN_SLOT_WAIT", 0.1),
            trusted_proxy=env.get("NWS_TRUSTED_PROXY", ""),
            account_request_limit_address=_rate(env, "NWS_ACCOUNT_REQUEST_LIMIT_ADDRESS",
                                                "5/hour"),
            account_request_limit_org=_rate(env, "NWS_ACCOUNT_REQUEST_LIMIT_ORG", "3/day"),
            attachments_max_count=_int(env, "NWS_ATTACHMENTS_MAX_COUNT", 30),
            attachments_max_bytes=_int(env, "NWS_ATTACHMENTS_MAX_BYTES", 100 * 1024 * 1024),
            upload_rate_limit=_rate(env, "NWS_UPLOAD_RATE_LIMIT", "10/minute"),
            pdf_converter=env.get("NWS_PDF_CONVERTER", "").strip().lower(),
            pdf_chromium=env.get("NWS_PDF_CHROMIUM"),
            pdf_soffice=env.get("NWS_PDF_SOFFICE"),
            pdf_wait_seconds=_float(env, "NWS_PDF_WAIT", 3.0),
            smtp_url=_smtp_url(env, "NWS_SMTP_URL"),
            mail_from=env.get("NWS_MAIL_FROM", "").strip() or "nws-noreply@localhost",
            public_url=(env.get("NWS_PUBLIC_URL", "").strip()
                        or "http://127.0.0.1:8000").rstrip("/"),
            deadline_notice_days=_days(env, "NWS_DEADLINE_NOTICE_DAYS", (7, 1)),
            mail_retry_base=_float(env, "NWS_MAIL_RETRY_BASE", 30.0),
        )
        values.update(overrides)
        settings = cls(**values)
        if len(settings.secret_key) < 32:
            raise ConfigError("NWS_SECRET_KEY must be at least 32 characters")
        if settings.visibility_timeout <= settings.task_time_limit:
            raise ConfigError("NWS_VISIBILITY_TIMEOUT must be above NWS_TASK_TIME_LIMIT")
        if settings.outbound_proxy and not settings.outbound_proxy.startswith(
                ("http://", "https://")):
            raise ConfigError("NWS_OUTBOUND_PROXY must be an http:// or https:// URL")
        if not 0 <= settings.auth_refresh_seconds <= 60:
            raise ConfigError("NWS_AUTH_REFRESH must be between 0 and 60 seconds")
        if settings.login_lock_after < 1 or settings.login_address_lock_after < 1:
            raise ConfigError("NWS_LOGIN_LOCK_AFTER and NWS_LOGIN_ADDRESS_LOCK_AFTER must be at least 1")
        if settings.login_lock_seconds < 1:
            raise ConfigError("NWS_LOGIN_LOCK_SECONDS must be at least 1")
        if settings.login_slots < 1 or not 0 <= settings.login_slot_wait <= 30:
            raise ConfigError("NWS_LOGIN_SLOTS must be at least 1 and NWS_LOGIN_SLOT_WAIT "
                             "between 0 and 30 seconds")
        if settings.pdf_converter not in ("", "chromium", "libreoffice"):
            raise ConfigError("NWS_PDF_CONVERTER must be chromium or libreoffice (or empty: "
                              "the first one installed)")
        if not 0 <= settings.pdf_wait_seconds <= 30:
            raise ConfigError("NWS_PDF_WAIT must be between 0 and 30 seconds")
        return settings


def _embedded_secret(data_dir: Path, embedded: bool, read_only: bool = False) -> str:
    """The embedded suite keeps a random signing key under its data folder, so tokens
    survive a restart; a distributed deployment must set NWS_SECRET_KEY itself. A
    read-only command that finds none uses a throw-away key and writes nothing."""
    if not embedded:
        raise ConfigError("NWS_SECRET_KEY must be set outside the embedded suite (at least "
                          "32 random characters, the same for every process)")
    path = data_dir / "secret_key"
    if not path.exists():
        if read_only:
            return secrets.token_urlsafe(48)
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
