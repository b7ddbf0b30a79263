"""A real OpenTelemetry Collector (core v0.165.0, built from its Go modules by
scripts/otelcol.sh and cached) receives the service's OTLP/HTTP export through
`nitro-enc-proxy egress`, as in production, and forwards it with its own otlphttp exporter
(protobuf) to the tests' receiver: what arrives was accepted, decoded and re-encoded by the
collector. Skips when Go is not installed."""
import pathlib
import subprocess
import time

import pytest
import yaml

from otlpreceiver import Receiver
from proxyutil import Proxy
from svc import PAYMENT, PAYMENT_PII, Service, free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture(scope="module")
def otelcol():
    p = subprocess.run([str(ROOT / "scripts" / "otelcol.sh")], capture_output=True, text=True,
                       timeout=1500, check=False)
    if p.returncode == 3:
        pytest.skip("Go is not installed: no collector")
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout.strip().splitlines()[-1]


def test_collector_through_the_egress_proxy(tmp_path, otelcol):
    rcv = Receiver()
    port = free_port()
    cfg = tmp_path / "otelcol.yaml"
    cfg.write_text(yaml.safe_dump({
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{port}"}}}},
        "exporters": {"otlphttp": {"endpoint": rcv.url, "compression": "none",
                                   "retry_on_failure": {"enabled": False}}},
        "service": {
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {k: {"receivers": ["otlp"], "exporters": ["otlphttp"]}
                          for k in ("traces", "metrics", "logs")},
        },
    }))
    log = open(tmp_path / "otelcol.log", "wb")
    col = subprocess.Popen([otelcol, "--config", f"file:{cfg}"], stdout=log, stderr=log)
    (tmp_path / "allow.yaml").write_text(f"allowlist:\n- {{address: \"127.0.0.1\", port: {port}}}\n")
    proxy = svc = None
    try:
        end = time.monotonic() + 30
        while "Everything is ready" not in (tmp_path / "otelcol.log").read_text(errors="replace"):
            assert col.poll() is None, (tmp_path / "otelcol.log").read_text()[-3000:]
            assert time.monotonic() < end, (tmp_path / "otelcol.log").read_text()[-3000:]
            time.sleep(0.1)
        proxy = Proxy(tmp_path / "proxy", "egress", {
            "LISTEN": "tcp://127.0.0.1:0", "ALLOWLIST": str(tmp_path / "allow.yaml")})
        svc = Service(tmp_path / "svc", env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRIC_EXPORT_INTERVAL": "300",
            "AWS_EGRESS": f"tcp://127.0.0.1:{proxy.port()}", "AWS_REGION": "eu-west-1"})
        n = 4
        for i in range(n):
            tp = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"} if i == 0 else {}
            assert svc.encrypt(PAYMENT, extra=tp)[0] == 200

        def roots():
            return [s for _, s in rcv.spans() if s.name == "POST /encrypt"]
        assert rcv.wait(lambda: len(roots()) == n, timeout=30), \
            (tmp_path / "otelcol.log").read_text()[-3000:]
        mine = [s for _, s in rcv.spans() if s.trace_id.hex() == TRACE]
        assert {s.name for s in mine} == {"POST /encrypt", "schema.resolve", "body.encrypt",
                                         "crypto.encrypt"}
        assert rcv.wait(lambda: any(r.trace_id.hex() == TRACE for r in rcv.logs()))

        def count():
            m = rcv.last_metrics().get("nes_http_requests")
            if m is None:
                return 0
            return sum(p.as_int for p in m.sum.data_points
                       if any(a.key == "route" and a.value.string_value == "encrypt"
                              for a in p.attributes))
        assert rcv.wait(lambda: count() == n, timeout=30)
        # the collector re-encoded everything as protobuf
        assert rcv.headers
        assert all(h.get("Content-Type", "").startswith("application/x-protobuf")
                   for h in rcv.headers)
        proxy.wait_log(lambda l: l.get("msg") == "connect" and l.get("port") == port)
        assert rcv.errors == []
    finally:
        if svc is not None:
            assert svc.stop() == 0
        if proxy is not None:
            proxy.stop()
        col.terminate()
        col.wait(20)
        log.close()
        rcv.close()
    blob = b"".join(rcv.raw)
    for v in PAYMENT_PII:
        assert v.encode() not in blob
