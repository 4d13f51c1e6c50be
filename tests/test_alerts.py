"""deploy/prometheus-alerts.yml: well-formed Prometheus rules that name only metrics the
suite exports (shared/observability.py), and the alerts docs/runbook.md promises."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from shared.observability import SUITE_GAUGES, metrics

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus-alerts.yml"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",)}


def exported_names() -> set[str]:
    """Every sample name the suite exports: the process metrics (a counter as its
    ``_total``, a histogram as its buckets, sum and count) and the scrape-time gauges."""
    names = set(SUITE_GAUGES)
    for metric in vars(metrics()).values():
        for family in metric.describe():
            names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_rule_is_complete():
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Nws[A-Za-z]+", rule["alert"])
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_metric_an_alert_names_is_exported_by_the_suite():
    exported = exported_names()
    for rule in rules():
        named = set(re.findall(r"\bnws_[a-z_]+\b", rule["expr"]))
        assert named, rule["alert"]
        assert named <= exported, f"{rule['alert']}: {sorted(named - exported)} not exported"


def test_the_alerts_cover_what_an_operator_must_hear_of_and_the_runbook_lists_them():
    by_metric = {re.findall(r"\bnws_[a-z_]+\b", r["expr"])[0]: r["alert"] for r in rules()}
    assert set(by_metric) >= {
        "nws_workers_online", "nws_broker_up", "nws_queue_depth",
        "nws_broker_unacked_messages", "nws_dead_letters", "nws_outbox_oldest_age_seconds",
        "nws_plugin_set_mismatched_processes", "nws_tasks_total"}
    failures = next(r for r in rules() if r["alert"] == "NwsTaskFailures")
    assert 'outcome=~"failure|plugin_failure"' in failures["expr"]   # a plugin crash fails
    runbook = (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
    alerts = runbook[runbook.index("## Alerts"):]
    for rule in rules():
        assert rule["alert"] in alerts
