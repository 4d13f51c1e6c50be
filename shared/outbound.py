"""Outbound HTTP to addresses that users register (reviewers' webhooks, master
subscribers): only where it may go.

A URL is parsed once by the WHATWG URL standard (``ada-url``), so every way of writing
an address (``127.1``, ``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``) becomes the
address it means, and that canonical URL is what is stored and later sent to. Only
``http`` and ``https`` without ``user:pass@`` are accepted.

The host is resolved and **every** address it resolves to is checked, at registration
and again at each delivery. Loopback, private (RFC 1918, fc00::/7), link-local (incl.
169.254.169.254), CGNAT (100.64/10), multicast, reserved and unspecified addresses —
also when wrapped in IPv6 (IPv4-mapped, NAT64, 6to4) — are refused unless a CIDR of
``NWS_OUTBOUND_ALLOW`` contains them. A delivery connects to an address it has just
checked (the name is not resolved a second time by the HTTP client), with the Host
header and TLS SNI / certificate check set to the registered host name, so a DNS answer
that changes between check and connection (DNS rebinding) cannot redirect it.

Redirects are never followed (a 3xx is a failed delivery), and no proxy is taken from
the environment: one is used only when ``NWS_OUTBOUND_PROXY`` names it (the request is
then sent through it to the checked address as well).

What a registrant sees of a failure is a status class and a Japanese reason from
:data:`REASONS`, never an exception text or an address.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
import socket
from typing import Iterable, Mapping, Union

import ada_url
import urllib3
from urllib3 import exceptions as u3

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
#: a name's checked addresses tried in turn when one cannot be connected to (each may
#: take TIMEOUT_SECONDS: the callers' leases cover this many)
MAX_ADDRESSES_TRIED = 3
USER_AGENT = "nws-suite (+webhooks)"

# Refused even where the standard library's flags might miss them (multicast counts as
# "global" there; CGNAT is shared, not global).
_ALWAYS_REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
    "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

#: the status class of an attempt that got no HTTP answer
CONNECT_FAILED = "接続できませんでした"

#: every reason a registrant may be shown for a failed attempt
REASONS = {
    "refused": "配信先が許可されていないアドレス（内部ネットワークなど）を指しているため、送信しませんでした。",
    "unresolvable": "配信先のホスト名を解決できませんでした。",
    "invalid_url": "配信先の URL が正しくありません。",
    "connect": "配信先に接続できませんでした。",
    "connect_timeout": "配信先への接続が時間内に確立できませんでした。",
    "timeout": f"配信先が {TIMEOUT_SECONDS} 秒以内に応答しませんでした。",
    "tls": "配信先との TLS 接続を確立できませんでした（証明書とホスト名を確認してください）。",
    "proxy": "プロキシを経由して配信先に接続できませんでした。",
    "protocol": "配信先との通信が途中で途切れました。",
    "redirect": "配信先がリダイレクト（3xx）を返しました。リダイレクトには従いません。転送先の URL を登録してください。",
    "client_error": "配信先が受け付けませんでした（4xx）。",
    "server_error": "配信先でエラーが発生しました（5xx）。",
    "unexpected_status": "配信先が想定外の応答を返しました。",
    "failed": "配信に失敗しました。",
}

#: what a registration is refused with (the ``url`` field's message, Japanese)
REGISTRATION_MESSAGES = {
    "invalid_url": "url を URL として読み取れません。",
    "scheme": "url は http:// または https:// で始まる URL にしてください。",
    "userinfo": "url に利用者名やパスワード（user:pass@）は含められません。",
    "unresolvable": "url のホスト名を解決できません。名前を確認してください。",
    "refused": ("url の宛先は登録できません。内部向けのアドレス（ループバック、プライベート、"
                "リンクローカル、CGNAT、マルチキャストなど）を指しています。"),
}


class Refused(Exception):
    """A URL that may not be registered or sent to; ``code`` keys
    :data:`REGISTRATION_MESSAGES` and :data:`REASONS`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def message(self) -> str:
        return REGISTRATION_MESSAGES.get(self.code, REGISTRATION_MESSAGES["refused"])


# --- policy -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Policy:
    """Where outbound requests may go: public addresses, plus ``allow``."""

    allow: tuple[IPNetwork, ...] = ()
    proxy: str = ""
    #: a CA bundle (PEM) to verify receivers' certificates with instead of the system's
    ca_file: str = ""
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def of(cls, settings) -> "Policy":
        """The policy of a :class:`shared.config.Settings`."""
        return cls.parse(settings.outbound_allow, settings.outbound_proxy,
                         settings.outbound_ca_file)

    @classmethod
    def parse(cls, allow: Iterable[str] = (), proxy: str = "", ca_file: str = "") -> "Policy":
        return cls(allow=tuple(ipaddress.ip_network(n, strict=False) for n in allow),
                   proxy=proxy, ca_file=ca_file)

    def permits(self, address: IPAddress) -> bool:
        candidates = [address, *_embedded_ipv4(address)]
        if any(a in net for a in candidates for net in self.allow):
            return True
        return not any(_special(a) for a in candidates)


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (IPv4-mapped, NAT64, 6to4)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    out = []
    if address.ipv4_mapped is not None:
        out.append(address.ipv4_mapped)
    if address in _NAT64:
        out.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        out.append(address.sixtofour)
    return out


def _special(address: IPAddress) -> bool:
    """Not a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _special(address.ipv4_mapped)
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or getattr(address, "is_site_local", False)
            or any(address in net for net in _ALWAYS_REFUSED
                   if net.version == address.version)
            or not address.is_global)


# --- URLs -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Target:
    """A parsed outbound URL."""

    href: str            # canonical (WHATWG) form: what is stored and shown
    scheme: str          # http | https
    hostname: str        # ASCII host name or address, without IPv6 brackets
    port: int
    host_header: str     # host[:port] as the Host header carries it
    path: str            # path and query, percent-encoded
    literal: IPAddress | None  # the address when the host is one


def parse(url: str) -> Target:
    """Parse ``url`` (:class:`Refused` with ``invalid_url``, ``scheme`` or ``userinfo``)."""
    try:
        parsed = ada_url.URL(url.strip())
    except (ValueError, TypeError):
        raise Refused("invalid_url") from None
    scheme = parsed.protocol.rstrip(":")
    if scheme not in ("http", "https"):
        raise Refused("scheme")
    if parsed.username or parsed.password:
        raise Refused("userinfo")
    hostname = parsed.hostname
    if not hostname:
        raise Refused("invalid_url")
    bare = hostname[1:-1] if hostname.startswith("[") else hostname
    try:
        literal: IPAddress | None = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    port = int(parsed.port) if parsed.port else (443 if scheme == "https" else 80)
    href = parsed.href
    if parsed.hash:  # never sent: keep it out of what is stored
        href = href[: -len(parsed.hash)]
    return Target(href=href, scheme=scheme, hostname=bare, port=port,
                  host_header=parsed.host, path=(parsed.pathname or "/") + parsed.search,
                  literal=literal)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (the system resolver). Tests replace this."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    return out


def addresses(target: Target, policy: Policy) -> list[IPAddress]:
    """The addresses ``target`` may be reached at, each checked: :class:`Refused`
    (``unresolvable`` or ``refused``) unless every one of them is permitted."""
    if target.literal is not None:
        found = [target.literal]
    else:
        try:
            found = resolve(target.hostname, target.port)
        except (OSError, UnicodeError, ValueError):
            raise Refused("unresolvable") from None
    if not found:
        raise Refused("unresolvable")
    if not all(policy.permits(a) for a in found):
        raise Refused("refused")
    return found


def check(url: str, policy: Policy) -> str:
    """The canonical form of ``url`` if it may be registered; :class:`Refused`
    otherwise (the host is resolved and every address checked)."""
    target = parse(url)
    addresses(target, policy)
    return target.href


# --- sending ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Response:
    """The outcome of one POST: ``status`` (None when no HTTP answer came), its class,
    and a reason key of :data:`REASONS` unless it was a 2xx."""

    status: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def status_class(self) -> str:
        return status_class(self.status)


def status_class(status: int | None) -> str:
    return f"{status // 100}xx" if status else CONNECT_FAILED


def reason_for_status(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    return {3: "redirect", 4: "client_error", 5: "server_error"}.get(
        status // 100, "unexpected_status")


def public_reason(status: int | None, error: str | None, *known: str) -> str | None:
    """What a registrant is shown for a recorded attempt: the recorded reason if it is
    one of ours (or one of ``known``), else one derived from the status. Texts recorded
    before reasons were (exception messages, addresses) are never shown."""
    if error is None and status is not None and 200 <= status < 300:
        return None
    if error in REASONS.values() or (error is not None and error in known):
        return error
    if status is not None:
        key = reason_for_status(status)
        return REASONS[key] if key else None
    return REASONS["failed"] if error else None


def _url_for(address: IPAddress, target: Target) -> str:
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"{target.scheme}://{host}:{target.port}{target.path}"


def _manager(target: Target, policy: Policy) -> urllib3.PoolManager:
    """A pool manager for one request: no retries, no redirects, TLS checked against
    the registered host name (sent as SNI unless it is an address)."""
    kw: dict = {"num_pools": 1, "maxsize": 1, "retries": False,
                "timeout": urllib3.Timeout(total=policy.timeout)}
    if target.scheme == "https":
        kw.update(cert_reqs="CERT_REQUIRED", assert_hostname=target.hostname,
                  server_hostname=target.hostname)
        if policy.ca_file:
            kw["ca_certs"] = policy.ca_file
    if policy.proxy:
        return urllib3.ProxyManager(policy.proxy, **kw)
    return urllib3.PoolManager(**kw)


_CONNECT_ERRORS = (u3.NewConnectionError, u3.ConnectTimeoutError)


def _failure(exc: BaseException) -> str:
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        return _failure(exc.reason)
    if isinstance(exc, u3.ProxyError):
        return "proxy"
    if isinstance(exc, u3.SSLError):
        return "tls"
    if isinstance(exc, u3.NewConnectionError):
        return "connect"
    if isinstance(exc, u3.ConnectTimeoutError):
        return "connect_timeout"
    if isinstance(exc, u3.ReadTimeoutError):
        return "timeout"
    if isinstance(exc, (u3.ProtocolError, u3.ResponseError)):
        return "protocol"
    return "failed"


def post(url: str, body: bytes, headers: Mapping[str, str], policy: Policy) -> Response:
    """POST ``body`` to ``url`` if (and where) the policy allows: the host is resolved
    once, every address checked, and the request sent to a checked address. Never
    raises for what the destination does; the result says what happened."""
    try:
        target = parse(url)
        found = addresses(target, policy)
    except Refused as exc:
        reason = exc.code if exc.code in REASONS else "invalid_url"
        log.warning("outbound request refused", extra={"reason": reason})
        return Response(None, reason)
    sent_headers = {"User-Agent": USER_AGENT, **headers, "Host": target.host_header}
    manager = _manager(target, policy)
    reason = "failed"
    try:
        for address in found[:MAX_ADDRESSES_TRIED]:
            try:
                res = manager.urlopen("POST", _url_for(address, target), body=body,
                                      headers=sent_headers, redirect=False, retries=False,
                                      assert_same_host=False, preload_content=False)
            except _CONNECT_ERRORS as exc:   # this address is down: try the next one
                reason = _failure(exc)
                log.warning("outbound connection failed",
                            extra={"reason": reason, "error_type": type(exc).__name__})
                continue
            except (u3.HTTPError, OSError) as exc:
                reason = _failure(exc)
                log.warning("outbound request failed",
                            extra={"reason": reason, "error_type": type(exc).__name__})
                return Response(None, reason)
            try:
                return Response(res.status, reason_for_status(res.status))
            finally:
                res.close()
        return Response(None, reason)
    finally:
        manager.clear()
