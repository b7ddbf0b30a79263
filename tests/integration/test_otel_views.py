"""Operator views (issue 12): the alert rules pass `promtool check rules`, every metric name the
rules and the Grafana dashboard query is one the service really exports, and a real Prometheus
server (Debian's) scrapes /metrics over TLS and answers the request count through its query API."""
import json
import pathlib
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from svc import PAYMENT, Service, free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "nitro-enc-svc.json"
# PromQL words that look like metric names in an expression
PROMQL = {"sum", "rate", "increase", "histogram_quantile", "by", "or", "and", "max", "min",
          "le", "instance", "route", "status", "spec", "service"}


def exported_series(tmp_path):
    """Every sample name /metrics exposes once the service has answered requests (histograms
    expand to _bucket, _sum, _count; counters keep _total)."""
    svc = Service(tmp_path)
    try:
        assert svc.encrypt(PAYMENT)[0] == 200
        _, _, body = svc.request("GET", "/metrics")
    finally:
        svc.stop()
    names = set()
    for fam in text_string_to_metric_families(body.decode()):
        names.add(fam.name)
        for s in fam.samples:
            names.add(s.name)
        # families declared with no sample yet (a histogram nothing has observed) still count
        if fam.type == "histogram":
            names |= {fam.name + x for x in ("_bucket", "_sum", "_count")}
        if fam.type == "counter":
            names.add(fam.name + "_total")
    for m in re.finditer(r"^# TYPE (\S+) (\S+)", body.decode(), re.M):
        names.add(m.group(1))
        if m.group(2) == "histogram":
            names |= {m.group(1) + x for x in ("_bucket", "_sum", "_count")}
    return names


def metric_names(expr):
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\"[^\"]*\"", "", expr)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if w not in PROMQL and not w.startswith("__")}


def test_alert_rules_pass_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    p = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True,
                       timeout=60, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 7 rules found" in p.stdout


def test_views_query_only_exported_metrics(tmp_path):
    names = exported_series(tmp_path)
    rules = yaml.safe_load(ALERTS.read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dash = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) > 20
    used = set()
    for e in exprs:
        found = metric_names(e)
        assert found, e
        used |= found
    missing = used - names
    assert not missing, f"queried but not exported: {sorted(missing)}"
    # and the views cover what the issue names
    for want in ("nes_http_requests_total", "nes_http_request_duration_seconds_bucket",
                 "nes_fields_encrypted_total", "nes_dek_age_seconds", "nes_keyring_keys",
                 "nes_schema_spec_hits_total", "nes_schema_cache_misses_total",
                 "nes_schema_spec_refresh_errors_total", "nes_open_connections",
                 "nes_aws_call_duration_seconds_bucket", "nes_aws_call_errors_total",
                 "nes_otel_spans_dropped_total"):
        assert want in used, want


def test_metric_name_extraction_is_strict():
    # the checker itself: a misspelt name in a view must be caught
    assert metric_names('sum(rate(nes_http_requests_totl{route="x"}[5m]))') == \
        {"nes_http_requests_totl"}


def test_real_prometheus_scrapes_over_tls(tmp_path):
    prom = shutil.which("prometheus")
    if prom is None:
        pytest.skip("prometheus (Debian package) is not installed")
    svc = Service(tmp_path / "svc")
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{
            "job_name": "nes", "scheme": "https", "metrics_path": "/metrics",
            "tls_config": {"ca_file": svc.cafile, "server_name": "localhost"},
            "static_configs": [{"targets": [f"127.0.0.1:{svc.port}"]}],
        }],
    }))
    log = open(tmp_path / "prometheus.log", "wb")
    p = subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        n = 7
        for _ in range(n):
            assert svc.encrypt(PAYMENT)[0] == 200
        q = urllib.parse.quote('sum(nes_http_requests_total{route="encrypt",status="200"})')
        up = urllib.parse.quote('up{job="nes"}')
        end = time.monotonic() + 60
        value = None
        health = None
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={q}",
                                            timeout=5) as r:
                    res = json.load(r)["data"]["result"]
                value = float(res[0]["value"][1]) if res else None
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={up}",
                                            timeout=5) as r:
                    res = json.load(r)["data"]["result"]
                health = float(res[0]["value"][1]) if res else None
                if value == n:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert health == 1, (tmp_path / "prometheus.log").read_text()[-2000:]
        assert value == n
        # the rules loaded too
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5) as r:
            groups = json.load(r)["data"]["groups"]
        assert len(groups[0]["rules"]) == 7
    finally:
        p.terminate()
        p.wait(20)
        log.close()
        svc.stop()
