"""Where one request's time goes: the endpoints of ``bench/latency.py``, in process, one
at a time, on the embedded suite (SQLite) with ``--apps`` applications (5,000).

For each endpoint it prints the CPU time per request (median of ``--requests``), the
Python function calls per request (counted by cProfile: the same on every run, whatever
else the machine is doing, so the figure to compare before and after on a shared
machine) and, with ``--profile``, a pyinstrument profile of those requests (the frames
that take the time). CPU per request is what decides the requests per second on 2
cores; ``bench/latency.py`` measures the server under load.

    .venv/bin/python bench/latency_profile.py --apps 5000 --requests 300 --profile
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import latency as lt  # noqa: E402


def build(workdir: Path, apps: int):
    """An embedded runtime with ``apps`` applications, its app, and the tokens."""
    from nws.app import create_app
    from nws.runtime import Runtime
    from shared.config import Settings

    env = {**os.environ, "NWS_DATA_DIR": str(workdir / "var"), "NWS_LOG_LEVEL": "WARNING"}
    for key in ("NWS_DATABASE_URL", "NWS_BROKER_URL", "NWS_SECRET_KEY", "NWS_IDENTITY_URL"):
        env.pop(key, None)
    settings = Settings.from_env(env, embedded=True)
    runtime = Runtime(settings)
    runtime.migrate()
    runtime.seed()
    ids = lt.seed(settings, apps)
    app = create_app(runtime)
    return runtime, app, lt._tokens(settings.secret_key), ids


def plan(tokens: dict, ids: dict) -> list[tuple[str, list[str], dict]]:
    bearer = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # noqa: E731
    cases = ids["reviewed"][:50] or [0]
    owned = ids["owned"][:20] or [0]
    return [
        ("healthz", ["/healthz"], {}),
        ("review queue", ["/api/review/queue?status=primary_review&sort=since"], bearer("pref")),
        ("operator list", ["/api/review/queue?sort=number&order=desc",
                           "/api/review/queue?sort=number&order=desc&page=40"],
         bearer("operator")),
        ("case detail", [f"/api/review/applications/{i}" for i in cases], bearer("pref")),
        ("application detail", [f"/api/intake/applications/{i}" for i in owned],
         bearer("clerk")),
        ("applicant dashboard", ["/applicant/"], {}),
    ]


def cpu_per_request(client, paths: list[str], headers: dict, n: int) -> list[float]:
    out = []
    for k in range(n):
        t0 = time.thread_time()
        res = client.get(paths[k % len(paths)], headers=headers)
        out.append((time.thread_time() - t0) * 1000)
        if res.status_code != 200:
            raise RuntimeError(f"{paths[k % len(paths)]}: {res.status_code} "
                               f"{res.get_data(as_text=True)[:300]}")
    return out


def calls_per_request(client, paths: list[str], headers: dict, n: int) -> float:
    """Python function calls per request (cProfile's count: deterministic)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    cpu_per_request(client, paths, headers, n)
    profiler.disable()
    return pstats.Stats(profiler).total_calls / n


def run(apps: int, requests: int, *, only: str = "", profile: bool = False) -> list[dict]:
    """Per endpoint: median and p90 CPU ms per request, Python calls per request."""
    out = []
    with tempfile.TemporaryDirectory(prefix="nws-latency-profile-") as tmp:
        runtime, app, tokens, ids = build(Path(tmp), apps)
        client = app.test_client()
        client.set_cookie("nws_session", tokens["clerk"])  # only the dashboard reads it
        try:
            for name, paths, headers in plan(tokens, ids):
                if only and only not in name:
                    continue
                cpu_per_request(client, paths, headers, 20)          # warm up
                ms = cpu_per_request(client, paths, headers, requests)
                calls = calls_per_request(client, paths, headers, 50)
                out.append({"endpoint": name, "cpu_ms": statistics.median(ms),
                            "cpu_p90_ms": sorted(ms)[int(len(ms) * 0.9)], "calls": calls})
                print(f"{name:22} CPU per request: median {statistics.median(ms):6.2f} ms, "
                      f"p90 {sorted(ms)[int(len(ms) * 0.9)]:6.2f} ms; "
                      f"{calls:7.0f} Python calls", flush=True)
                if profile:
                    from pyinstrument import Profiler

                    profiler = Profiler(interval=0.0002)
                    profiler.start()
                    cpu_per_request(client, paths, headers, requests)
                    profiler.stop()
                    print(profiler.output_text(unicode=False, color=False, show_all=False,
                                               short_mode=False), flush=True)
        finally:
            runtime.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--apps", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    ap.add_argument("--only", default="", help="endpoints whose name contains this")
    args = ap.parse_args()
    run(args.apps, args.requests, only=args.only, profile=args.profile)


if __name__ == "__main__":
    main()
