"""Messages per application, per queue (issue 17 point 2): N applications go through the
whole lifecycle in the embedded suite (every service in this process, SQLite, the
filesystem broker, the Celery worker thread), stage by stage together as in a burst:
created and filed (one uploaded workbook, or the forms as JSON with --json-forms),
validated, submitted, approved by the prefecture, approved by 総務省, registered in the
master. Every broker message any service publishes is counted by its queue (Celery's
``before_task_publish`` signal, in this one process), from the first application's
creation until every outbox is acknowledged; acknowledgements, which travel beside the
queues (``shared.messaging.SideChannel``), are counted apart.

Target (issue 17): at most 4 messages per application on any one queue.

    .venv/bin/python bench/messages_per_app.py               # 20 applications
    .venv/bin/python bench/messages_per_app.py --apps 5 --json /tmp/m.json

Applicants are Tokyo's municipalities (首長部局), reviewed by the demo prefecture
reviewer and the demo 総務省 reviewer; each gets an account of its own for the run.
"""
from __future__ import annotations

import argparse
import collections
import io
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET = 4
QUEUES = ("identity", "intake", "review", "matching", "master")


def run(apps: int, workdir: Path, json_forms: bool = False) -> dict:
    from celery.signals import before_task_publish
    from sqlalchemy import func, select

    import plugins
    from shared import workbook as wbk
    from shared.pluginmanager import build_plugin_manager, form_specs
    from tests import factories
    from tests.conftest import Suite, wait_for

    suite = Suite(workdir / "var", env={"NWS_SWEEP_INTERVAL": "0.5"})
    try:
        client = suite.client
        with suite.ctx("intake").transaction() as session:
            from services.intake.models import Organisation

            orgs = session.scalars(select(Organisation.id).where(
                Organisation.prefecture_code == "130001", Organisation.can_apply,
                Organisation.parent_id.is_(None),
                Organisation.kind.in_(("市", "特別区", "町", "村"))).order_by(
                Organisation.id).limit(apps)).all()
        if len(orgs) < apps:
            raise RuntimeError(f"only {len(orgs)} organisations to apply")
        logins = [suite.add_user(f"bench-{o}", o, "applicant") for o in orgs]
        layouts = {c: spec.layout for c, spec in form_specs(
            build_plugin_manager(plugins.BUILTIN)).items()}

        counts: collections.Counter = collections.Counter()
        envelopes: collections.Counter = collections.Counter()
        by_type: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        acks: collections.Counter = collections.Counter()

        def published(sender=None, body=None, routing_key=None, headers=None, **_kw):
            queue = routing_key or "?"
            name = (headers or {}).get("task", "?")
            counts[queue] += 1
            kind = name.split(".", 2)[-1] if name.startswith("nws.") else name
            by_type[queue][kind] += 1
            args = body[0] if isinstance(body, (list, tuple)) and body else []
            inner = args[0] if args else {}
            envelopes[queue] += len(inner.get("envelopes", [])) if kind == "batch" else 1

        side = getattr(suite.ctx("intake"), "side", None)    # None: acks were messages
        if side is not None:
            push = side.push_acks

            def counting_push(sender_service, ids):
                acks[sender_service] += len(ids)
                return push(sender_service, ids)

            side.push_acks = counting_push
        before_task_publish.connect(published, weak=False)
        t0 = time.monotonic()
        ids, expected = {}, {}
        for org, login in zip(orgs, logins):
            h = suite.headers(login)
            app_id = factories.create_application(client, h)
            forms = factories.all_forms(org)
            if json_forms:
                factories.put_forms(client, h, app_id, forms)
            else:
                content = wbk.write_workbook([wbk.FormPart(layouts[c], d)
                                              for c, d in forms.items()])
                res = client.post(f"/api/intake/applications/{app_id}/uploads",
                                  data={"file": (io.BytesIO(content), "connection.xlsx")},
                                  headers=h, content_type="multipart/form-data")
                assert res.status_code == 202, res.get_json()
            ids[app_id] = login
            expected[app_id] = len(forms)

        def all_in(status_of, want, what, timeout=300):
            wait_for(lambda: all(status_of(a, l) == want for a, l in ids.items()),
                     timeout=timeout, interval=0.2, what=what)

        def forms_valid(app_id, login):
            forms = suite.get_app(app_id, login)["forms"]
            return "valid" if len(forms) >= expected[app_id] and all(
                f["status"] == "valid" for f in forms.values()) else "no"

        try:
            all_in(forms_valid, "valid", "forms validated", timeout=120)
        except AssertionError:
            app_id, login = next(iter(ids.items()))
            shown = suite.get_app(app_id, login)
            raise AssertionError(json.dumps({"status": shown["status"], "forms": {
                c: (f["status"], [x["message"] for x in f["findings"]][:3])
                for c, f in shown["forms"].items()}}, ensure_ascii=False)) from None
        for app_id, login in ids.items():
            res = client.post(f"/api/intake/applications/{app_id}/submit",
                              headers=suite.headers(login))
            assert res.status_code == 202, res.get_json()

        def status(app_id, login):
            return suite.get_app(app_id, login)["status"]

        def decide_all(reviewer, then):
            for app_id in ids:
                res = client.post(f"/api/review/applications/{app_id}/decisions",
                                  json={"result": "承認", "comment": ""},
                                  headers=suite.headers(reviewer))
                assert res.status_code == 201, res.get_json()
            all_in(status, then, then)

        all_in(status, "primary_review", "primary_review")
        decide_all("demo-pref", "secondary_review")
        decide_all("demo-mic", "registered")

        def unacked():
            total = 0
            for ctx in suite.runtime.services.values():
                with ctx.db.transaction() as session:
                    total += session.scalar(select(func.count()).select_from(ctx.Outbox)
                                            .where(ctx.Outbox.acked_at.is_(None)))
            return total

        wait_for(lambda: unacked() == 0, timeout=120, interval=0.2, what="outboxes drained")
        elapsed = time.monotonic() - t0
        before_task_publish.disconnect(published)
        n = len(ids)
        per_app = {q: round(counts[q] / n, 2) for q in QUEUES}
        return {
            "apps": n, "forms_as": "JSON" if json_forms else "one uploaded workbook",
            "seconds": round(elapsed, 1),
            "messages_per_app": per_app,
            "largest_per_app": max(per_app.values()),
            "largest_queue": max(per_app, key=per_app.get),
            "envelopes_per_app": {q: round(envelopes[q] / n, 2) for q in QUEUES},
            "acks_per_app_beside_the_queues": {q: round(acks[q] / n, 2) for q in QUEUES},
            "by_type": {q: dict(sorted(c.items())) for q, c in by_type.items()},
            "holds": max(per_app.values()) <= TARGET,
        }
    finally:
        suite.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--apps", type=int, default=20)
    ap.add_argument("--json-forms", action="store_true", help="PUT forms as JSON")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nws-msgcount-") as tmp:
        r = run(args.apps, Path(tmp), json_forms=args.json_forms)
    print(f"{r['apps']} applications ({r['forms_as']}), {r['seconds']} s")
    print(f"{'queue':10} {'messages/app':>13} {'envelopes/app':>14} {'acks/app (aside)':>17}")
    for q in QUEUES:
        print(f"{q:10} {r['messages_per_app'][q]:13.2f} {r['envelopes_per_app'][q]:14.2f} "
              f"{r['acks_per_app_beside_the_queues'][q]:17.2f}")
    print(f"largest: {r['largest_per_app']} on {r['largest_queue']} (target ≤ {TARGET}: "
          f"{'holds' if r['holds'] else 'does not hold'})")
    for q, kinds in r["by_type"].items():
        print(f"  {q}: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    if args.json:
        args.json.write_text(json.dumps(r, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
