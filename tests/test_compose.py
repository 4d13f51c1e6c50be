"""The container deployment (Dockerfile, docker-compose.yml, deploy/nginx.conf) checked
against the code: every service has its web process and its worker, each worker
consumes the queue its tasks are routed to and has those tasks registered, the gateway
routes every blueprint's prefix to the web process that serves it, and the environment
is one the settings accept. No Docker engine is needed: the files are read and parsed.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
import yaml
from sqlalchemy.engine import make_url

from nws import cli
from nws.runtime import ALL_SERVICES, WORKER_SERVICES, Runtime
from shared.config import Settings
from shared.messaging import QUEUES, queue_of

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
NGINX_CONF = REPO / "deploy" / "nginx.conf"
NWS_IMAGE_BUILD = "."          # the build context of the nws image in the compose file


# --- reading the files ------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("compose-runtime")
    rt = Runtime(Settings.from_env({"NWS_DATA_DIR": str(data_dir)}, embedded=True))
    yield rt
    rt.close()


def dockerfile_stages() -> list[dict]:
    """The Dockerfile as stages: {"from": image, "instructions": [(KEYWORD, args)]}."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[dict] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append({"from": args.split()[0], "instructions": []})
        else:
            assert stages, f"instruction before FROM: {line}"
            stages[-1]["instructions"].append((keyword, args.strip()))
    return stages


def image_entrypoint() -> list[str]:
    entry = [args for kw, args in dockerfile_stages()[-1]["instructions"] if kw == "ENTRYPOINT"]
    assert entry, "the runtime stage of the Dockerfile sets no ENTRYPOINT"
    return json.loads(entry[-1])


def uses_nws_image(service: dict) -> bool:
    build = service.get("build")
    context = build.get("context") if isinstance(build, dict) else build
    return context == NWS_IMAGE_BUILD


def as_list(value) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def argv(service: dict) -> list[str]:
    """What the container runs: entrypoint (the service's, else the image's) + command."""
    if "entrypoint" in service:
        entry = as_list(service["entrypoint"])
    else:
        entry = image_entrypoint() if uses_nws_image(service) else []
    return entry + as_list(service.get("command"))


def nws_invocation(service: dict) -> tuple[str, dict]:
    """The nws subcommand a container runs and its options, parsed by the CLI itself."""
    args = argv(service)
    assert args and args[0] == "nws", f"does not run nws: {args}"
    name, rest = args[1], args[2:]
    command = cli.main.commands.get(name)
    assert command is not None, f"nws has no command {name!r}"
    ctx = command.make_context(name, list(rest))
    return name, dict(ctx.params)


def nws_services(services: dict, kind: str) -> dict[str, dict]:
    return {name: svc for name, svc in services.items() if name.startswith(f"{kind}-")}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against ``env``."""
    def sub(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name, "")
        if op == ":-":
            return current or arg
        if op == ":?":
            if not current:
                raise KeyError(f"{name}: {arg}")
            return current
        return current

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", sub, value)


def nginx_locations() -> dict[str, str]:
    """location path → the upstream host:port its proxy_pass reaches."""
    text = re.sub(r"#[^\n]*", "", NGINX_CONF.read_text(encoding="utf-8"))
    out = {}
    for match in re.finditer(r"location\s+(\S+)\s*\{([^{}]*)\}", text):
        path, body = match.group(1), match.group(2)
        if path.startswith("@"):      # a named location: the gateway's own answer
            continue
        variables = dict(re.findall(r"set\s+\$(\w+)\s+(\S+?);", body))
        target = re.search(r"proxy_pass\s+(\S+?);", body)
        assert target, f"location {path} proxies nothing"
        url = target.group(1)
        if url.startswith("$"):
            url = variables[url[1:]]
        hostport = re.match(r"http://([^/]+)", url)
        assert hostport, f"location {path}: unexpected proxy_pass {url}"
        out[path] = hostport.group(1)
    return out


# --- (a) one web process and one worker per service ---------------------------------

def test_one_web_process_per_service(services):
    webs = nws_services(services, "web")
    assert sorted(webs) == sorted(f"web-{s}" for s in ALL_SERVICES)
    for service in ALL_SERVICES:
        name, params = nws_invocation(webs[f"web-{service}"])
        assert name == "web"
        assert params["service"] == service
        assert params["port"] == 8000


def test_one_worker_per_service(services):
    workers = nws_services(services, "worker")
    assert sorted(workers) == sorted(f"worker-{s}" for s in ALL_SERVICES)
    for service in ALL_SERVICES:
        name, params = nws_invocation(workers[f"worker-{service}"])
        assert name == "worker"
        assert params["service"] == service


def test_migrate_upgrades_then_loads_refdata(services):
    migrate = services["migrate"]
    args = argv(migrate)
    if args[:2] == ["sh", "-c"]:
        steps = [shlex.split(step) for step in args[2].split("&&")]
    else:
        steps = [args]
    assert steps == [["nws", "db", "upgrade"], ["nws", "refdata", "load"]]
    assert cli.main.commands["db"].commands["upgrade"]
    assert cli.main.commands["refdata"].commands["load"]
    assert migrate.get("restart", "no") == "no"


# --- (b) workers and queues ---------------------------------------------------------

def test_workers_match_the_queues(services):
    worker_services = {nws_invocation(svc)[1]["service"]
                       for svc in nws_services(services, "worker").values()}
    assert worker_services <= set(QUEUES), "a worker for a queue that does not exist"
    assert set(QUEUES) <= worker_services, "a queue that no worker consumes"
    assert set(WORKER_SERVICES) <= worker_services


@pytest.mark.parametrize("service", ALL_SERVICES)
def test_worker_command_consumes_the_service_queue(service, monkeypatch):
    """`nws worker --service S` starts Celery on queue S (and only S)."""
    seen = {}
    fake = SimpleNamespace(celery=SimpleNamespace(worker_main=lambda a: seen.update(argv=a)),
                           settings=SimpleNamespace(task_time_limit=900))
    monkeypatch.setattr(cli, "_runtime", lambda services=ALL_SERVICES, embedded=False: fake)
    from click.testing import CliRunner

    result = CliRunner().invoke(cli.main, ["worker", "--service", service, "--concurrency", "2"])
    assert result.exit_code == 0, result.output
    args = seen["argv"]
    assert args[args.index("-Q") + 1] == service
    # the worker's own time limit (NWS_TASK_TIME_LIMIT of its environment)
    assert args[args.index("--time-limit") + 1] == "900"


# --- (c) tasks route to the queue of the worker that has them -------------------------

def test_every_task_routes_to_a_queue_with_a_worker(runtime, services):
    workers = {nws_invocation(svc)[1]["service"]
               for svc in nws_services(services, "worker").values()}
    names = [n for n in runtime.celery.tasks if n.startswith("nws.")]
    assert names
    for name in names:
        assert queue_of(name) in workers, name
        assert runtime.celery.amqp.router.route({}, name)["queue"].name == queue_of(name)


_REGISTERED = """
import json, sys
from nws.runtime import Runtime
from shared.config import Settings
services = sys.argv[2:]
rt = Runtime(Settings.from_env({"NWS_DATA_DIR": sys.argv[1]}, embedded=True), services)
print(json.dumps(sorted(n for n in rt.celery.tasks if n.startswith("nws."))))
rt.close()
"""


@pytest.fixture(scope="module")
def registered_per_process(tmp_path_factory) -> dict[str, set[str]]:
    """The nws.* tasks a fresh process running only service S registers (what
    `nws worker --service S` has), and those of a process with no service ("")."""
    procs = {}
    for service in ("", *ALL_SERVICES):
        data_dir = tmp_path_factory.mktemp(f"tasks-{service or 'none'}")
        procs[service] = subprocess.Popen(
            [sys.executable, "-c", _REGISTERED, str(data_dir), *([service] if service else [])],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for service, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        out[service] = set(json.loads(stdout.strip().splitlines()[-1]))
    return out


@pytest.mark.parametrize("service", ALL_SERVICES)
def test_service_tasks_route_to_its_own_queue(service, registered_per_process, runtime):
    baseline = registered_per_process[""]
    own = registered_per_process[service] - baseline
    assert own, f"{service} registers no task (not even its outbox.ack)"
    for name in own:
        assert queue_of(name) == service, f"{name} is registered by {service} but routed elsewhere"
    # The worker of the service has every task that is routed to its queue.
    routed_here = {n for n in runtime.celery.tasks if n.startswith("nws.")
                   and queue_of(n) == service}
    missing = routed_here - registered_per_process[service]
    assert not missing, f"worker-{service} would reject these as unregistered: {missing}"
    assert f"nws.{service}.outbox.ack" in own


# --- (d) the gateway -------------------------------------------------------------------

def test_gateway_routes_every_blueprint_to_its_web_process(runtime, services):
    locations = nginx_locations()
    web_ports = {f"web-{s}": nws_invocation(services[f"web-{s}"])[1]["port"]
                 for s in ALL_SERVICES}
    prefixes = {}
    for service, definition in runtime.definitions.items():
        for bp in definition.blueprints():
            assert bp.url_prefix, f"{service}: blueprint {bp.name} has no url_prefix"
            prefix = bp.url_prefix.rstrip("/") + "/"
            assert prefixes.get(prefix, service) == service, (
                f"{prefix} used by {prefixes.get(prefix)} and {service}")
            prefixes[prefix] = service
            # nginx takes the longest location that is a prefix of the path
            covering = max((loc for loc in locations if prefix.startswith(loc)),
                           key=len, default=None)
            assert covering is not None, f"nginx.conf has no location for {prefix}"
            host, _, port = locations[covering].partition(":")
            assert host == f"web-{service}", f"{prefix} goes to {host}, not web-{service}"
            assert int(port) == web_ports[host]
    # "/" is the catch-all (intake's home page blueprint may or may not claim it).
    assert {p for p in locations if p != "/"} <= set(prefixes) - {"/"}, (
        "a location no blueprint serves")
    assert locations["/"] == f"web-intake:{web_ports['web-intake']}"


def test_gateway_service(services, runtime):
    gateway = services["gateway"]
    assert gateway["image"].startswith("nginx:")
    assert any(str(p).split(":")[-2:] == ["8000", "80"] for p in gateway["ports"])
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in gateway["volumes"]
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert re.search(r"listen\s+80;", text)
    # The same upload limit as the Flask apps.
    limit = re.search(r"client_max_body_size\s+(\d+)m;", text)
    assert limit
    from nws.app import create_app

    app = create_app(runtime)
    assert int(limit.group(1)) * 1024 * 1024 == app.config["MAX_CONTENT_LENGTH"]
    for header in ("X-Forwarded-For", "X-Request-Id"):
        assert re.search(rf"proxy_set_header\s+{header}\s", text), header
    # The web processes' healthcheck asks readiness (database, migrations, broker),
    # a path the app serves.
    assert "/readyz" in {r.rule for r in app.url_map.iter_rules()}
    for service in ALL_SERVICES:
        probe = " ".join(as_list(services[f"web-{service}"]["healthcheck"]["test"]))
        assert "http://127.0.0.1:8000/readyz" in probe


def _need_nginx() -> None:
    if shutil.which("nginx") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing on CI (.ci/run installs nginx-light)")
        pytest.skip("nginx is not installed here (apt-get install nginx-light)")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> Path:
    """A self-signed certificate and its key, as tls.crt and tls.key in a folder."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is missing on CI")
        pytest.skip("openssl is not installed here")
    folder = tmp_path_factory.mktemp("gateway-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(folder / "tls.key"),
                    "-out", str(folder / "tls.crt")], check=True, capture_output=True)
    return folder


def rendered_nginx_conf(tmp_path: Path, tls: Path, ports: tuple[int, int] | None = None,
                        upstreams: dict[str, int] | None = None) -> Path:
    """deploy/nginx.conf with the certificate where compose mounts it replaced by
    ``tls`` (and, to run it here, its logs in ``tmp_path`` and its ports on loopback)."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert re.search(rf"ssl_certificate\s+{TLS_DIR}/tls.crt;", text)
    assert re.search(rf"ssl_certificate_key\s+{TLS_DIR}/tls.key;", text)
    text = text.replace(f"{TLS_DIR}/", f"{tls}/")
    if ports is not None:
        text = re.sub(r"listen\s+80;", f"listen 127.0.0.1:{ports[0]};", text)
        text = re.sub(r"listen\s+443 ssl;", f"listen 127.0.0.1:{ports[1]} ssl;", text)
        text = text.replace("/var/log/nginx/", f"{tmp_path}/")
    for host, port in (upstreams or {}).items():
        text = text.replace(f"http://{host}:8000", f"http://127.0.0.1:{port}")
    out = tmp_path / "nginx.conf"
    out.write_text(text, encoding="utf-8")
    return out


def test_nginx_accepts_the_config(tmp_path, tls_files):
    _need_nginx()
    conf = rendered_nginx_conf(tmp_path, tls_files)
    result = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-g", f"pid {tmp_path}/nginx.pid;",
         "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True)
    if "-e" in result.stderr and "invalid option" in result.stderr:  # nginx < 1.19.5
        result = subprocess.run(["nginx", "-t", "-c", str(conf),
                                 "-g", f"pid {tmp_path}/nginx.pid;"],
                                capture_output=True, text=True)
    if "Permission denied" in result.stderr:
        pytest.skip("nginx -t needs to write its logs here")
    assert result.returncode == 0, result.stderr


# --- (d2) TLS at the gateway, probes kept inside ---------------------------------------

TLS_DIR = "/etc/nginx/tls"


def nginx_servers() -> list[str]:
    """The text of each server { … } block of deploy/nginx.conf (comments removed)."""
    text = re.sub(r"#[^\n]*", "", NGINX_CONF.read_text(encoding="utf-8"))
    servers, start = [], 0
    while (at := text.find("server {", start)) != -1:
        depth, i = 0, text.index("{", at)
        for i in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
        servers.append(text[at:i + 1])
        start = i + 1
    return servers


def test_the_gateway_serves_tls_and_plain_http_only_redirects():
    servers = nginx_servers()
    tls = [s for s in servers if re.search(r"listen\s+443\s+ssl;", s)]
    plain = [s for s in servers if re.search(r"listen\s+80;", s)]
    assert len(tls) == 1 and len(plain) == 1
    [tls], [plain] = tls, plain
    assert re.search(rf"ssl_certificate\s+{TLS_DIR}/tls.crt;", tls)
    assert re.search(rf"ssl_certificate_key\s+{TLS_DIR}/tls.key;", tls)
    protocols = re.search(r"ssl_protocols\s+([^;]+);", tls).group(1).split()
    assert set(protocols) <= {"TLSv1.2", "TLSv1.3"}
    # Every route is on the TLS server; plain HTTP answers only with a redirect.
    assert "proxy_pass" in tls and "location" not in plain and "proxy_pass" not in plain
    assert re.search(r"return\s+301\s+https://\$host\$request_uri;", plain)
    # HSTS is added only for https (and only when the web process did not send it).
    assert re.search(r"add_header\s+Strict-Transport-Security\s+\$nws_hsts\s+always;", tls)
    assert "Strict-Transport-Security" not in plain
    hsts_map = re.search(r"map\s+\"\$scheme:\$upstream_http_strict_transport_security\"\s+"
                         r"\$nws_hsts\s*\{([^}]*)\}", NGINX_CONF.read_text(encoding="utf-8"))
    assert hsts_map and re.search(r'"https:"\s+"max-age=\d+"', hsts_map.group(1))
    assert re.search(r"default\s+\"\";", hsts_map.group(1))
    # The web processes learn the scheme from the gateway.
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;",
                     NGINX_CONF.read_text(encoding="utf-8"))


def test_the_gateway_keeps_metrics_and_readyz_inside(services):
    [tls] = [s for s in nginx_servers() if "ssl" in s]
    for path in ("/metrics", "/readyz"):
        block = re.search(rf"location\s+=\s+{path}\s*\{{([^}}]*)\}}", tls)
        assert block, f"{path} is not refused by the gateway"
        assert re.fullmatch(r"\s*return\s+404;\s*", block.group(1)), block.group(1)
    # The health checks reach each web process directly, not through the gateway.
    for service in ALL_SERVICES:
        probe = " ".join(as_list(services[f"web-{service}"]["healthcheck"]["test"]))
        assert "http://127.0.0.1:8000/readyz" in probe


def test_the_certificate_and_key_come_from_the_environment(compose, services):
    gateway = services["gateway"]
    assert "443:443" in [str(p) for p in gateway["ports"]]
    env = {"NWS_TLS_CERT": "/srv/tls/site.crt", "NWS_TLS_KEY": "/srv/tls/site.key"}
    for name, target in (("NWS_TLS_CERT", f"{TLS_DIR}/tls.crt"),
                         ("NWS_TLS_KEY", f"{TLS_DIR}/tls.key")):
        [volume] = [str(v) for v in gateway["volumes"] if str(v).endswith(f":{target}:ro")]
        source = volume[: -len(f":{target}:ro")]
        assert interpolate(source, env) == env[name]
        with pytest.raises(KeyError):               # required, never defaulted
            interpolate(source, {})


def test_the_compose_environment_turns_on_secure_cookies_and_allows_no_outbound_range(compose):
    host_env = {"NWS_SECRET_KEY": "s" * 64}
    env = {k: interpolate(str(v), host_env) for k, v in compose["x-nws-env"].items()}
    settings = Settings.from_env(env)
    assert settings.cookie_secure is True
    assert settings.outbound_allow == () and settings.outbound_proxy == ""
    assert env["NWS_TRUSTED_PROXY"]          # nws web takes X-Forwarded-Proto from the gateway
    # An operator may widen it explicitly.
    widened = {k: interpolate(str(v), {**host_env, "NWS_OUTBOUND_ALLOW": "10.20.0.0/16"})
               for k, v in compose["x-nws-env"].items()}
    assert Settings.from_env(widened).outbound_allow == ("10.20.0.0/16",)


def _free_ports(n: int) -> list[int]:
    import socket

    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_the_running_gateway_redirects_to_https_and_refuses_the_probes(tmp_path, tls_files):
    """nginx itself, on loopback ports, with the shipped configuration: plain HTTP is a
    redirect, /metrics and /readyz are 404 over HTTPS, and the gateway's own answers
    carry the security headers (HSTS only over TLS)."""
    import http.client
    import ssl
    import time

    _need_nginx()
    http_port, https_port = _free_ports(2)
    conf = rendered_nginx_conf(tmp_path, tls_files, (http_port, https_port))
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-e", str(tmp_path / "error.log"),
                             "-g", f"pid {tmp_path}/nginx.pid; daemon off;"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        context = ssl.create_default_context(cafile=str(tls_files / "tls.crt"))

        def get(path: str, tls: bool):
            conn = (http.client.HTTPSConnection("localhost", https_port, context=context,
                                                timeout=5) if tls else
                    http.client.HTTPConnection("127.0.0.1", http_port, timeout=5))
            conn.request("GET", path)
            res = conn.getresponse()
            res.read()
            conn.close()
            return res

        deadline = time.monotonic() + 10
        while True:
            try:
                plain = get("/api/review/queue?x=1", tls=False)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stderr.read().decode() if proc.poll() is not None
                                         else "nginx did not start")
                time.sleep(0.1)
        assert plain.status == 301
        assert plain.getheader("Location") == "https://127.0.0.1/api/review/queue?x=1"
        assert plain.getheader("Strict-Transport-Security") is None
        assert plain.getheader("X-Frame-Options") == "DENY"
        for path in ("/metrics", "/readyz", "/metrics?format=x"):
            res = get(path, tls=True)
            assert res.status == 404, path
            assert res.getheader("Strict-Transport-Security", "").startswith("max-age=")
            assert res.getheader("X-Frame-Options") == "DENY"
            assert res.getheader("X-Content-Type-Options") == "nosniff"
            assert "frame-ancestors 'none'" in res.getheader("Content-Security-Policy", "")
            assert res.getheader("Referrer-Policy") == "same-origin"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_running_gateway_refuses_a_login_flood_from_one_address(tmp_path, tls_files):
    """Thirty password guesses at once from one address: the gateway passes the burst
    (10) and its rate (2 per second) to identity and answers the rest itself with 429,
    Retry-After and a Japanese JSON error, before they cost a web process anything."""
    import http.client
    import http.server
    import json
    import ssl
    import threading
    import time

    _need_nginx()
    reached = []

    class Identity(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reached.append(self.path)
            body = b'{"error": {"code": "invalid_credentials"}}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Identity)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    http_port, https_port = _free_ports(2)
    conf = rendered_nginx_conf(tmp_path, tls_files, (http_port, https_port),
                               upstreams={"web-identity": stub.server_address[1]})
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-e", str(tmp_path / "error.log"),
                             "-g", f"pid {tmp_path}/nginx.pid; daemon off;"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    context = ssl.create_default_context(cafile=str(tls_files / "tls.crt"))

    def post(path):
        conn = http.client.HTTPSConnection("localhost", https_port, context=context,
                                           timeout=5)
        conn.request("POST", path, body=b'{"login": "x", "password": "y"}',
                     headers={"Content-Type": "application/json"})
        res = conn.getresponse()
        body = res.read()
        conn.close()
        return res, body

    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                post("/metrics")                          # answered by nginx itself
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("nginx did not start")
                time.sleep(0.1)
        started = time.monotonic()
        answers = [post(path) for path in ["/api/auth/token"] * 20 + ["/auth/login"] * 10]
        elapsed = time.monotonic() - started
        statuses = [res.status for res, _ in answers]
        passed = statuses.count(401)
        assert passed == len(reached) and passed <= 10 + 2 * elapsed + 1, statuses
        limited = [(res, body) for res, body in answers if res.status == 429]
        assert len(limited) == len(answers) - passed and len(limited) >= 10, statuses
        res, body = limited[-1]
        error = json.loads(body)["error"]
        assert error["code"] == "rate_limited" and "ログイン" in error["message"]
        assert res.getheader("Retry-After") == "1"
        assert res.getheader("Content-Type") == "application/json"
        assert res.getheader("X-Frame-Options") == "DENY"
        # Other paths of identity are not limited by the login zone.
        assert [post("/api/auth/logout")[0].status for _ in range(3)] == [401] * 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        stub.shutdown()


# --- (e) scaling -----------------------------------------------------------------------

def test_workers_and_webs_can_be_scaled(services):
    for name, svc in {**nws_services(services, "worker"), **nws_services(services, "web")}.items():
        assert "container_name" not in svc, name
        assert "ports" not in svc, name
    published = [name for name, svc in services.items() if svc.get("ports")]
    assert published == ["gateway"]


# --- (f) start order -------------------------------------------------------------------

def test_processes_wait_for_backing_services_and_migration(services):
    expected = {"postgres": "service_healthy", "redis": "service_healthy",
                "migrate": "service_completed_successfully"}
    for name, svc in {**nws_services(services, "worker"), **nws_services(services, "web")}.items():
        depends = svc.get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dep, condition in expected.items():
            assert depends.get(dep, {}).get("condition") == condition, f"{name} → {dep}"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # service_healthy needs a healthcheck to wait for.
    assert "redis-cli ping" in " ".join(as_list(services["redis"]["healthcheck"]["test"]))
    assert "pg_isready" in " ".join(as_list(services["postgres"]["healthcheck"]["test"]))


# --- (g) the environment -----------------------------------------------------------------

def test_environment_anchor(compose, services):
    env = compose["x-nws-env"]
    assert env["NWS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["NWS_BROKER_URL"].startswith("redis://")
    assert env["NWS_DATA_DIR"] == "/data"
    assert ":?" in env["NWS_SECRET_KEY"], "NWS_SECRET_KEY must be required, not defaulted"
    nws_processes = [n for n, s in services.items() if uses_nws_image(s)]
    assert set(nws_processes) >= {"migrate", *nws_services(services, "web"),
                                  *nws_services(services, "worker")}
    for name in nws_processes:
        extra = {"NWS_METRICS_PORT": "9100"} if name.startswith("worker-") else {}
        assert services[name]["environment"] == {**env, **extra}, name


def test_workers_serve_metrics_and_are_health_checked(services):
    for name, svc in nws_services(services, "worker").items():
        port = svc["environment"]["NWS_METRICS_PORT"]
        assert port in [str(p) for p in svc.get("expose", [])], name
        probe = " ".join(as_list(svc["healthcheck"]["test"]))
        assert f"http://127.0.0.1:{port}/metrics" in probe, name


def _seconds(value: str) -> float:
    """Compose's duration notation (1m30s, 15m, 35s)."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value)
    assert parts and "".join(n + u for n, u in parts) == value, value
    return sum(float(n) * units[u] for n, u in parts)


def test_stop_grace_periods_let_work_in_flight_finish(compose, services):
    """A worker is given at least the soft time limit of a task to finish it; a web
    process more than its own --grace for the requests in flight."""
    env = {k: interpolate(str(v), {"NWS_SECRET_KEY": "s" * 64})
           for k, v in compose["x-nws-env"].items()}
    settings = Settings.from_env(env)
    soft_limit = max(1, settings.task_time_limit - 30)
    for name, svc in nws_services(services, "worker").items():
        assert _seconds(svc["stop_grace_period"]) >= soft_limit, name
    for name, svc in nws_services(services, "web").items():
        _command, params = nws_invocation(svc)
        assert _seconds(svc["stop_grace_period"]) > params["grace"], name


def _documented_compose_runs() -> list[str]:
    lines = []
    for doc in (REPO / "README.md", REPO / "docs" / "runbook.md"):
        for line in doc.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("docker compose run"):
                lines.append(line)
    return lines


def test_every_documented_compose_run_line_reaches_an_nws_command(services):
    """The exact `docker compose run` lines of the README and the runbook, against the
    compose file's entrypoints: each runs nws with a command and options it accepts."""
    lines = _documented_compose_runs()
    assert len(lines) >= 5
    for line in lines:
        words = shlex.split(line, comments=True)[3:]
        entrypoint = None
        while words[0].startswith("-"):
            option = words.pop(0)
            if option == "--entrypoint":
                entrypoint = words.pop(0)
            else:
                assert option in ("--rm", "-T"), (line, option)
        service, args = words[0], words[1:]
        entry = (as_list(entrypoint) if entrypoint is not None else
                 as_list(services[service]["entrypoint"]) if "entrypoint" in services[service]
                 else image_entrypoint())
        full = entry + args
        assert full[0] == "nws", (line, full)
        command, rest = cli.main, full[1:]
        while isinstance(command, click.Group):
            command = command.commands.get(rest[0])
            assert command is not None, (line, rest[0])
            rest = rest[1:]
        command.make_context(command.name, [w.replace("LOGIN", "someone")
                                            .replace("ROLE", "operator") for w in rest])


def test_environment_reaches_postgres_and_redis(compose, services):
    host_env = {"NWS_SECRET_KEY": "s" * 64}
    with pytest.raises(KeyError):
        interpolate(compose["x-nws-env"]["NWS_SECRET_KEY"], {})
    env = {k: interpolate(str(v), host_env) for k, v in compose["x-nws-env"].items()}
    settings = Settings.from_env(env)     # what `nws web` / `nws worker` build
    assert not settings.embedded
    url = make_url(settings.database_url("intake"))
    assert {settings.database_url(s) for s in ALL_SERVICES} == {env["NWS_DATABASE_URL"]}
    postgres = services["postgres"]
    pg_env = {k: interpolate(str(v), host_env) for k, v in postgres["environment"].items()}
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "postgres" and url.port == 5432
    assert url.database == pg_env["POSTGRES_DB"] == "nws"
    assert url.username == pg_env.get("POSTGRES_USER", "postgres")
    assert url.password == pg_env["POSTGRES_PASSWORD"]
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert postgres["volumes"][0].split(":")[0] in compose["volumes"]
    broker = make_url(settings.broker_url)
    assert broker.host == "redis" and broker.port == 6379
    assert services["redis"]["image"].startswith("redis:7")
    assert services["postgres"]["image"].startswith("postgres:15")


# --- (h) the image -----------------------------------------------------------------------

def test_dockerfile_installs_the_package_and_runs_nws():
    stages = dockerfile_stages()
    final = stages[-1]
    assert final["from"] == "python:3.11-slim"
    assert image_entrypoint() == ["nws"]
    users = [args for kw, args in final["instructions"] if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as root"
    runs = [args for stage in stages for kw, args in stage["instructions"] if kw == "RUN"]
    installs = [shlex.split(r) for r in runs if "pip install" in r]
    assert any("." in args and "-e" not in args and "--editable" not in args
               for args in installs), "no non-editable `pip install .`"
    copies = [args.split() for stage in stages for kw, args in stage["instructions"]
              if kw == "COPY"]
    assert any(c[0] == "." for c in copies), "the repository is not copied in"
    # `nws` is the console script of the package.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["nws"] == "nws.cli:main"
    # The Redis transport's extra (it needs `packaging`) is installed somewhere.
    deps = " ".join(project["dependencies"]).replace(" ", "")
    assert ("kombu[redis]" in deps or "celery[redis]" in deps
            or any("kombu[redis]" in " ".join(args) for args in installs))


def test_dockerignore_keeps_the_build_small_but_complete():
    patterns = [p.strip() for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
                if p.strip() and not p.startswith("#")]
    for needed in (".venv", "var", ".git", "test-artifacts"):
        assert needed in patterns, needed
    assert any("__pycache__" in p for p in patterns)

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.lstrip("*/"))
                   or path.startswith(p.rstrip("/") + "/") for p in patterns)

    needed = ["pyproject.toml", "nws/cli.py", "shared/config.py", "plugins/__init__.py",
              *(str(p.relative_to(REPO)) for p in (REPO / "services").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts)]
    assert not [p for p in needed if ignored(p)]


def test_nws_services_share_one_image(services):
    for name in ("migrate", *(f"{k}-{s}" for k in ("web", "worker") for s in ALL_SERVICES)):
        svc = services[name]
        assert uses_nws_image(svc), f"{name} is not built from the Dockerfile"
        assert svc["image"] == services["migrate"]["image"], name


# --- (i) security defaults ----------------------------------------------------------------

def test_web_processes_listen_on_every_interface_only_in_their_containers(services):
    """`nws web` listens on 127.0.0.1 by default; the containers say 0.0.0.0 so the
    gateway reaches them, and publish no port to the host."""
    default = next(p for p in cli.web.params if p.name == "host").default
    assert default == "127.0.0.1"
    for name, svc in nws_services(services, "web").items():
        assert nws_invocation(svc)[1]["host"] == "0.0.0.0", name
        assert not svc.get("ports"), name


def test_the_deployment_gets_no_demo_accounts(compose, services, tmp_path):
    """Demo accounts (password demo-pass-2026) come only with the embedded suite: no
    compose process runs `nws serve`, and seeding with the compose environment's
    settings creates no account."""
    from sqlalchemy import func, select

    from services.identity.models import Account

    for name, svc in services.items():
        if uses_nws_image(svc):
            assert "serve" not in argv(svc), name
    env = {k: interpolate(str(v), {"NWS_SECRET_KEY": "s" * 64})
           for k, v in compose["x-nws-env"].items()}
    settings = Settings.from_env(env, database_urls={
        s: f"sqlite:///{tmp_path / (s + '.db')}" for s in ALL_SERVICES})
    assert not settings.embedded
    rt = Runtime(settings, ["identity"])
    try:
        rt.migrate()
        assert rt.seed() == {"identity": []}
        with rt.services["identity"].transaction() as session:
            assert session.scalar(select(func.count()).select_from(Account)) == 0
    finally:
        rt.close()


def test_web_processes_find_identity_and_trust_only_the_gateway(compose, services):
    """Web processes of the other services fetch the revocation state from web-identity's
    port; the client address comes from the gateway's X-Forwarded-For (nginx.conf)."""
    env = {k: interpolate(str(v), {"NWS_SECRET_KEY": "s" * 64})
           for k, v in compose["x-nws-env"].items()}
    settings = Settings.from_env(env)
    url = make_url(settings.identity_url)
    assert url.host == "web-identity"
    assert url.port == nws_invocation(services["web-identity"])[1]["port"]
    assert settings.auth_refresh_seconds <= 60
    assert settings.trusted_proxy
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in NGINX_CONF.read_text(encoding="utf-8")
    options = cli.proxy_options(settings)
    assert options["trusted_proxy_count"] == 1 and "x-forwarded-for" in options["trusted_proxy_headers"]
