"""Telemetry (issue 12): OTLP/HTTP export of spans, metrics and log records to a real receiver
that decodes with the official opentelemetry-proto classes, W3C traceparent, /metrics parsed by
prometheus_client, bounded queues when the receiver is slow or down, and no plaintext in any
exported payload."""
import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from otlpreceiver import Receiver
from svc import PAYMENT, PAYMENT_PII, Service

FAST = {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRIC_EXPORT_INTERVAL": "200"}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def otel_env(rcv, **extra):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.url, "OTEL_SERVICE_NAME": "nes-test",
           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team=pii",
           "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def"}
    env.update(FAST)
    env.update(extra)
    return env


def attrs(kvs):
    out = {}
    for kv in kvs:
        v = kv.value
        out[kv.key] = v.string_value if v.HasField("string_value") else v.int_value
    return out


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_spans_metrics_logs_reach_the_receiver(tmp_path, receiver):
    svc = Service(tmp_path, env=otel_env(receiver))
    try:
        n = 5
        for _ in range(n):
            st, _, _ = svc.encrypt(PAYMENT)
            assert st == 200
        st, _, _ = svc.encrypt(PAYMENT, extra={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        assert st == 200
        st, _, _ = svc.encrypt(PAYMENT, schema="nope")
        assert st == 400

        # the propagated trace: the server span is the remote parent's child, the steps its own
        def propagated():
            return [s for _, s in receiver.spans() if s.trace_id.hex() == TRACE]
        assert receiver.wait(lambda: len(propagated()) >= 4), receiver.errors
        spans = propagated()
        server = [s for s in spans if s.name == "POST /encrypt"]
        assert len(server) == 1
        root = server[0]
        assert root.parent_span_id.hex() == PARENT
        assert root.kind == 2  # SERVER
        a = attrs(root.attributes)
        assert a["http.response.status_code"] == 200 and a["http.route"] == "encrypt"
        children = {s.name: s for s in spans if s.parent_span_id == root.span_id}
        assert set(children) == {"schema.resolve", "body.encrypt"}
        assert attrs(children["body.encrypt"].attributes)["nes.fields"] == 6
        body = children["body.encrypt"]
        crypto = [s for s in spans if s.parent_span_id == body.span_id]
        assert [c.name for c in crypto] == ["crypto.encrypt"]
        ca = attrs(crypto[0].attributes)
        assert ca["nes.fields"] == 6
        assert 0 < ca["nes.crypto.busy_ns"] <= (crypto[0].end_time_unix_nano
                                                 - crypto[0].start_time_unix_nano)
        assert body.start_time_unix_nano <= crypto[0].start_time_unix_nano
        assert crypto[0].end_time_unix_nano <= body.end_time_unix_nano
        for c in children.values():
            assert root.start_time_unix_nano <= c.start_time_unix_nano
            assert c.end_time_unix_nano <= root.end_time_unix_nano

        # every request has its own trace; span ids are unique
        assert receiver.wait(lambda: len([s for _, s in receiver.spans()
                                          if s.name == "POST /encrypt"]) >= n + 2)
        roots = [s for _, s in receiver.spans() if s.name == "POST /encrypt"]
        assert len({s.trace_id for s in roots}) == len(roots)
        all_ids = [s.span_id for _, s in receiver.spans()]
        assert len(set(all_ids)) == len(all_ids)
        failed = [s for s in roots if attrs(s.attributes)["http.response.status_code"] == 400]
        assert len(failed) == 1 and attrs(failed[0].attributes)["error.type"] == "unknown_schema"

        # resource: service name, OTEL_RESOURCE_ATTRIBUTES; the configured header was sent
        res = attrs(receiver.spans()[0][0].attributes)
        assert res["service.name"] == "nes-test"
        assert res["deployment.environment"] == "test" and res["team"] == "pii"
        assert receiver.headers[0].get("x-api-key") == "abc def"

        # log records: the access lines, with the trace and span of their request
        def access():
            return [r for r in receiver.logs() if '"msg":"request"' in r.body.string_value]
        assert receiver.wait(lambda: len(access()) >= n + 2)
        mine = [r for r in access() if r.trace_id.hex() == TRACE]
        assert len(mine) == 1 and mine[0].span_id == root.span_id
        assert mine[0].severity_number == 9 and mine[0].severity_text == "INFO"

        # metrics: the counts of this run
        def counted():
            m = receiver.last_metrics()
            if "nes_http_requests" not in m:
                return False
            pts = {(attrs(p.attributes)["route"], attrs(p.attributes)["status"]): p.as_int
                   for p in m["nes_http_requests"].sum.data_points}
            return pts.get(("encrypt", "200")) == n + 1 and pts.get(("encrypt", "400")) == 1
        assert receiver.wait(counted), receiver.last_metrics().get("nes_http_requests")
        m = receiver.last_metrics()
        assert m["nes_fields_encrypted"].sum.data_points[0].as_int == 6 * (n + 1)
        assert m["nes_schema_cache_misses"].sum.data_points[0].as_int == 1
        h = [p for p in m["nes_http_request_duration_seconds"].histogram.data_points
             if attrs(p.attributes)["route"] == "encrypt"][0]
        assert h.count == n + 2 and sum(h.bucket_counts) == n + 2
        assert len(h.explicit_bounds) + 1 == len(h.bucket_counts)
        assert h.explicit_bounds[0] == 0.00005 and h.explicit_bounds[-1] == 5.0
        assert m["nes_keyring_keys"].gauge.data_points[0].as_double == 1
        assert receiver.errors == []
    finally:
        assert svc.stop() == 0
    # no plaintext value anywhere in what was exported
    blob = b"".join(receiver.raw)
    for v in PAYMENT_PII:
        assert v.encode() not in blob, v


def test_sampler_ratio_zero_and_remote_flags(tmp_path, receiver):
    svc = Service(tmp_path, env=otel_env(receiver, OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                                         OTEL_TRACES_SAMPLER_ARG="0"))
    try:
        for _ in range(3):
            assert svc.encrypt(PAYMENT)[0] == 200
        # a sampled remote parent is followed even at ratio 0; an unsampled one is not
        assert svc.encrypt(PAYMENT, extra={"traceparent": f"00-{TRACE}-{PARENT}-01"})[0] == 200
        other = "0af7651916cd43dd8448eb211c80319c"
        assert svc.encrypt(PAYMENT, extra={"traceparent": f"00-{other}-{PARENT}-00"})[0] == 200
        assert receiver.wait(lambda: any(s.name == "POST /encrypt" for _, s in receiver.spans()))
        time.sleep(0.5)
        traces = {s.trace_id.hex() for _, s in receiver.spans()}
        assert traces == {TRACE}
    finally:
        assert svc.stop() == 0


def test_malformed_traceparent_starts_a_new_trace(tmp_path, receiver):
    svc = Service(tmp_path, env=otel_env(receiver))
    try:
        bad = ["00-" + "0" * 32 + f"-{PARENT}-01", f"00-{TRACE.upper()}-{PARENT}-01",
               f"ff-{TRACE}-{PARENT}-01", f"00-{TRACE}-{PARENT}-01-extra", "garbage"]
        for tp in bad:
            assert svc.encrypt(PAYMENT, extra={"traceparent": tp})[0] == 200
        assert receiver.wait(lambda: len([s for _, s in receiver.spans()
                                          if s.name == "POST /encrypt"]) == len(bad))
        for _, s in receiver.spans():
            if s.name == "POST /encrypt":
                assert s.trace_id.hex() != TRACE and s.parent_span_id == b""
    finally:
        assert svc.stop() == 0


@pytest.mark.parametrize("mode", ["down", "slow", "failing"])
def test_receiver_trouble_never_reaches_requests(tmp_path, mode):
    if mode == "down":
        rcv = Receiver()
        rcv.close()  # nothing listens on its port any more
    else:
        rcv = Receiver(delay=2.0 if mode == "slow" else 0, status=200 if mode == "slow" else 503)
    # a receiver that answers after 2 s, inside the 3 s export timeout: a request that waited
    # for the export would take 2 s
    env = otel_env(rcv, OTEL_BSP_MAX_QUEUE_SIZE="8", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4",
                   OTEL_EXPORTER_OTLP_TIMEOUT="3000", OTEL_BSP_SCHEDULE_DELAY="50")
    svc = Service(tmp_path, env=env)
    try:
        conn = svc.connection()
        took = []
        for _ in range(200):
            t0 = time.monotonic()
            assert svc.encrypt(PAYMENT, conn=conn)[0] == 200
            took.append(time.monotonic() - t0)
        conn.close()
        assert max(took) < 1.5, sorted(took)[-5:]
        assert svc.metric("nes_otel_spans_dropped_total") > 0
        assert svc.metric("nes_otel_log_records_dropped_total") > 0
        if mode != "slow":  # the exporter's next period counts its failed request
            assert rcv.wait(lambda: svc.metric("nes_otel_export_failures_total") > 0), \
                svc.metric("nes_otel_spans_exported_total")
    finally:
        assert svc.stop() == 0
        if mode != "down":
            rcv.close()


def test_background_spans_go_alone(tmp_path, receiver):
    """A background span (the spec refresh, outside any request) is exported on its own, a root
    of its own trace, beside the requests' span records."""
    svc = Service(tmp_path, env=otel_env(receiver, SCHEMA_REFRESH_INTERVAL_SECS="1"))
    try:
        assert svc.encrypt(PAYMENT)[0] == 200

        def refreshes():
            return [s for _, s in receiver.spans() if s.name == "spec.refresh"]
        assert receiver.wait(lambda: refreshes() and any(
            s.name == "POST /encrypt" for _, s in receiver.spans())), receiver.errors
        sp = refreshes()[0]
        assert sp.parent_span_id == b"" and sp.kind == 1  # a root, INTERNAL
        assert attrs(sp.attributes)["nes.specs.failed"] == 0
        assert not [s for _, s in receiver.spans()
                    if s.trace_id == sp.trace_id and s.span_id != sp.span_id]
    finally:
        assert svc.stop() == 0


def test_one_worker_thread_has_the_whole_queue(tmp_path):
    """OTEL_BSP_MAX_QUEUE_SIZE holds whatever the thread count: a lone worker thread whose own
    shard is full goes on in the others. The receiver is down and the period long, so after the
    first (failed) early export nothing leaves the queue: 100 requests' 400 spans (~330 bytes a
    request) fit the 440 x 96 bytes, while one shard of four holds about 32 requests."""
    rcv = Receiver()
    rcv.close()
    env = otel_env(rcv, WORKER_THREADS="1", OTEL_BSP_MAX_QUEUE_SIZE="440",
                   OTEL_BSP_SCHEDULE_DELAY="60000", OTEL_METRIC_EXPORT_INTERVAL="60000",
                   OTEL_EXPORTER_OTLP_TIMEOUT="1000")
    svc = Service(tmp_path, env=env)
    try:
        conn = svc.connection()
        for _ in range(100):
            assert svc.encrypt(PAYMENT, conn=conn)[0] == 200
        conn.close()
        assert svc.metric("nes_otel_spans_dropped_total") == 0
        assert svc.metric("nes_otel_log_records_dropped_total") == 0
    finally:
        assert svc.stop() == 0


def test_unset_endpoint_exports_and_queues_nothing(tmp_path, receiver):
    svc = Service(tmp_path, env=FAST)
    try:
        for _ in range(20):
            assert svc.encrypt(PAYMENT)[0] == 200
        time.sleep(0.5)
        assert receiver.raw == []
        assert svc.metric("nes_otel_spans_dropped_total") == 0
        assert svc.metric("nes_otel_spans_exported_total") == 0
    finally:
        assert svc.stop() == 0


@pytest.mark.parametrize("var,value", [
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"),
    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ("OTEL_TRACES_SAMPLER", "sometimes"),
    ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
    ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
])
def test_bad_otel_settings_refuse_to_start(tmp_path, bin_dir, var, value):
    import subprocess  # pylint: disable=import-outside-toplevel
    env = {"PATH": os.environ.get("PATH", ""), var: value, "LISTEN": "tcp://127.0.0.1:0"}
    p = subprocess.run([str(bin_dir / "nitro-enc-svc"), "--local-mode"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=20, check=False)
    assert p.returncode == 2
    assert var in p.stderr.decode()
    if var == "OTEL_EXPORTER_OTLP_HEADERS":
        assert "novalue" not in p.stderr.decode()


def test_metrics_endpoint_parses(tmp_path):
    svc = Service(tmp_path)
    try:
        for _ in range(3):
            assert svc.encrypt(PAYMENT)[0] == 200
        _, _, body = svc.request("GET", "/metrics")
        fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
        reqs = [s for s in fams["nes_http_requests"].samples
                if s.labels.get("route") == "encrypt" and s.name.endswith("_total")]
        assert sum(s.value for s in reqs) == 3
        hist = fams["nes_http_request_duration_seconds"]
        assert hist.type == "histogram"
        count = [s for s in hist.samples if s.name.endswith("_count")
                 and s.labels["route"] == "encrypt"]
        assert count[0].value == 3
        for name in ("nes_keyring_keys", "nes_dek_age_seconds", "nes_open_connections",
                     "nes_otel_spans_dropped", "nes_aws_call_errors"):
            assert name in fams, name
    finally:
        svc.stop()


def test_export_through_the_egress_proxy_and_the_proxy_exports_too(tmp_path, receiver):
    """As in production: the service's OTLP requests leave through nitro-enc-proxy egress
    (CONNECT, allowlisted collector), and the proxy exports its own relay counters."""
    from proxyutil import Proxy  # pylint: disable=import-outside-toplevel
    (tmp_path / "allow.yaml").write_text(
        f"allowlist:\n- {{address: \"127.0.0.1\", port: {receiver.port}}}\n")
    proxy = Proxy(tmp_path / "proxy", "egress", {
        "LISTEN": "tcp://127.0.0.1:0", "ALLOWLIST": str(tmp_path / "allow.yaml"),
        "METRICS_ADDR": "tcp://127.0.0.1:0",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_BSP_SCHEDULE_DELAY": "100"})
    svc = None
    try:
        svc = Service(tmp_path / "svc", env=otel_env(
            receiver, AWS_EGRESS=f"tcp://127.0.0.1:{proxy.port()}", AWS_REGION="eu-west-1"))
        for _ in range(3):
            assert svc.encrypt(PAYMENT)[0] == 200
        assert receiver.wait(lambda: len([s for r, s in receiver.spans()
                                          if attrs(r.attributes)["service.name"] == "nes-test"
                                          and s.name == "POST /encrypt"]) == 3)
        # the requests went through the tunnel: the proxy logged CONNECTs to the receiver
        proxy.wait_log(lambda l: l.get("msg") == "connect" and l.get("port") == receiver.port)

        # the proxy's own counters, as OTLP metrics under its own service name
        def proxy_metrics():
            with receiver.lock:
                reqs = list(receiver.requests["/v1/metrics"])
            for req in reversed(reqs):
                for rm in req.resource_metrics:
                    a = attrs(rm.resource.attributes)
                    if a.get("service.name") == "nitro-enc-proxy":
                        return a, {m.name: m for sm in rm.scope_metrics for m in sm.metrics}
            return None, {}
        # the relay counts a tunnel's bytes when it closes: stop the service first
        assert svc.stop() == 0
        svc = None

        def bytes_moved():
            m = proxy_metrics()[1]
            if "nes_proxy_bytes" not in m:
                return {}
            return {attrs(p.attributes)["direction"]: p.as_int
                    for p in m["nes_proxy_bytes"].sum.data_points}
        assert receiver.wait(lambda: bytes_moved().get("up", 0) > 0
                             and bytes_moved().get("down", 0) > 0), bytes_moved()
        res, m = proxy_metrics()
        assert res["nes.proxy.mode"] == "egress"
        assert m["nes_proxy_connections"].sum.is_monotonic
        assert m["nes_proxy_connections"].sum.data_points[0].as_int >= 1
        assert "nes_proxy_connections_open" in m
        kinds = {attrs(p.attributes)["kind"] for p in m["nes_proxy_errors"].sum.data_points}
        assert kinds
        # and the proxy's log lines as log records
        assert receiver.wait(lambda: any('"msg":"connect"' in r.body.string_value
                                         for r in receiver.logs()))
        assert receiver.errors == []
    finally:
        if svc is not None:
            assert svc.stop() == 0
        assert proxy.stop() == 0



def test_idle_exporter_sleeps(tmp_path, receiver):
    """The exporter thread waits for its next period instead of spinning (a wait on the wrong
    clock once made it busy-loop: a whole core while the service was idle)."""
    svc = Service(tmp_path, env=otel_env(receiver, OTEL_BSP_SCHEDULE_DELAY="5000",
                                         OTEL_METRIC_EXPORT_INTERVAL="60000"))
    try:
        def cpu_secs():
            with open(f"/proc/{svc.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        time.sleep(0.3)
        c0 = cpu_secs()
        time.sleep(2.0)
        assert cpu_secs() - c0 < 0.3
    finally:
        assert svc.stop() == 0


@pytest.mark.parametrize("trusted", [True, False])
def test_https_endpoint_with_otel_certificate(tmp_path, trusted):
    """An https:// collector is verified against OTEL_EXPORTER_OTLP_CERTIFICATE; without the right
    CA nothing is sent and the failures are counted."""
    from tlsutil import CA  # pylint: disable=import-outside-toplevel
    ca, other = CA(), CA()
    cert, key, _ = ca.write(tmp_path, "otlp", "localhost")
    (tmp_path / "ca.pem").write_bytes((ca if trusted else other).pem())
    rcv = Receiver(tls=(cert, key))
    svc = Service(tmp_path / "svc", env=otel_env(
        rcv, OTEL_EXPORTER_OTLP_CERTIFICATE=str(tmp_path / "ca.pem")))
    try:
        assert svc.encrypt(PAYMENT)[0] == 200
        if trusted:
            assert rcv.wait(lambda: any(s.name == "POST /encrypt" for _, s in rcv.spans()))
        else:
            assert rcv.wait(lambda: svc.metric("nes_otel_export_failures_total") > 0)
            assert rcv.raw == []
    finally:
        assert svc.stop() == 0
        rcv.close()
