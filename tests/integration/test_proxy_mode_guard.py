"""Proxy mode (issue 8): PROXY_RETURN_ALLOW bounds which return endpoint a PROXY v2 header may
name (refused connections close before TLS with one log line), and proxy mode's own telemetry:
the upstream metrics (connections new/reused, errors by kind, response-head latency) and the
upstream CLIENT span under the request's server span. Real processes: the service, the test
application, an OTLP receiver decoding with opentelemetry-proto."""
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from otlpreceiver import Receiver
from proxymode import App, Reader, pp2_header, request_bytes
from proxyutil import dead_port
from svc import Service

PII = {"name": "Alice Guardperson", "email": "alice.guard@example.com",
       "card": {"number": "4111111111111111", "expiry": "12/30"}, "amount": 3.5, "note": "n"}


def app_port(app):
    return int(app.addr.rsplit(":", 1)[1])


def open_with(svc, ret):
    """A raw connection opened with a PROXY v2 header naming `ret`; returns the socket."""
    s = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
    s.sendall(pp2_header(ret=ret))
    return s


def refused(svc, ret):
    """True when the service closes a connection whose header names `ret`, logging it once."""
    before = svc.logs().count("not allowed by PROXY_RETURN_ALLOW")
    s = open_with(svc, ret)
    try:
        got = s.recv(100)
    except ConnectionResetError:
        got = b""
    s.close()
    end = time.monotonic() + 5
    while svc.logs().count("not allowed by PROXY_RETURN_ALLOW") == before and \
            time.monotonic() < end:
        time.sleep(0.05)
    return got == b"" and svc.logs().count("not allowed by PROXY_RETURN_ALLOW") == before + 1


def forward_one(svc, ret, target="/orders/7"):
    """One proxied PUT over a connection whose header names `ret`: (status, body)."""
    s = open_with(svc, ret)
    ctx = ssl.create_default_context(cafile=svc.cafile)
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    try:
        t.sendall(request_bytes("PUT", target, json.dumps(PII).encode()))
        st, _, b, _, _ = Reader(t).response()
        return st, b
    finally:
        t.close()


def test_default_allows_only_the_connecting_host(tmp_path):
    app = App()
    svc = Service(tmp_path, env={"PROXY_PROTOCOL": "on"}, specs=("shop",), wait_ready=False)
    try:
        assert refused(svc, "tcp://192.0.2.1:80")  # another host
        assert refused(svc, "vsock://3:5000")      # a vsock peer it is not
        assert refused(svc, f"unix://{tmp_path}/app.sock")  # unix only when listed
        assert refused(svc, f"tcp://localhost:{app_port(app)}")  # names never
        lines = [ln for ln in svc.logs().splitlines() if "PROXY_RETURN_ALLOW" in ln]
        assert all(json.loads(ln)["level"] == "warn" for ln in lines)
        assert not app.requests
        # the host that connected (127.0.0.1) announcing its own port is fine
        st, b = forward_one(svc, f"tcp://127.0.0.1:{app_port(app)}")
        assert st == 201, b
        assert app.requests[-1]["target"] == "/orders/7"
        assert svc.alive()
    finally:
        assert svc.stop() == 0
        app.close()


def test_explicit_list_with_port_and_wildcard(tmp_path):
    app = App()
    port = app_port(app)
    allow = f"tcp://127.0.0.1:{port}, vsock://peer:*"
    svc = Service(tmp_path, env={"PROXY_PROTOCOL": "on", "PROXY_RETURN_ALLOW": allow},
                  specs=("shop",), wait_ready=False)
    try:
        assert refused(svc, f"tcp://127.0.0.1:{port + 1 if port < 65535 else port - 1}")
        assert refused(svc, "tcp://127.0.0.2:80")
        assert forward_one(svc, f"tcp://127.0.0.1:{port}")[0] == 201
    finally:
        assert svc.stop() == 0
        app.close()


def test_upstream_set_ignores_the_tlv(tmp_path):
    app = App()
    svc = Service(tmp_path, env={"PROXY_PROTOCOL": "on", "UPSTREAM": app.uri},
                  specs=("shop",), wait_ready=False)
    try:
        assert forward_one(svc, "tcp://192.0.2.1:80")[0] == 201  # UPSTREAM, not the TLV
        assert "PROXY_RETURN_ALLOW" not in svc.logs()
    finally:
        assert svc.stop() == 0
        app.close()


@pytest.mark.parametrize("value", ["tcp://app.internal:80", "vsock://any:5000", "", "peer,,peer"])
def test_bad_allowlist_refuses_to_start(tmp_path, bin_dir, value):
    env = {"PATH": os.environ.get("PATH", ""), "PROXY_RETURN_ALLOW": value,
           "LISTEN": "tcp://127.0.0.1:0"}
    p = subprocess.run([str(bin_dir / "nitro-enc-svc"), "--local-mode"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=20, check=False)
    assert p.returncode == 2
    assert "PROXY_RETURN_ALLOW" in p.stderr.decode()


def samples(svc, name):
    """{labels-string: value} of every sample of `name` on /metrics."""
    _, _, body = svc.request("GET", "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, val = line.rsplit(" ", 1)
            out[key[len(name):]] = float(val)
    return out


TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def test_upstream_metrics_and_span(tmp_path):
    rcv = Receiver()
    app = App()
    env = {"UPSTREAM": app.uri, "WORKER_THREADS": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": rcv.url,
           "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRIC_EXPORT_INTERVAL": "200"}
    svc = Service(tmp_path, env=env, specs=("shop",))
    try:
        s = ssl.create_default_context(cafile=svc.cafile).wrap_socket(
            socket.create_connection(("127.0.0.1", svc.port), timeout=10),
            server_hostname="127.0.0.1")
        r = Reader(s)
        for i in range(3):  # one worker: the first opens, the next two reuse the pooled one
            extra = [("traceparent", f"00-{TRACE}-{PARENT}-01")] if i == 2 else []
            s.sendall(request_bytes("PUT", f"/orders/{i}", json.dumps(PII).encode(), extra))
            assert r.response()[0] == 201
        s.close()
        conns = samples(svc, "nes_upstream_connections_total")
        assert conns == {'{pool="new"}': 1, '{pool="reused"}': 2}, conns
        assert app.connections == 1
        head = samples(svc, "nes_upstream_response_head_seconds_count")
        assert head == {'{upstream="app"}': 3}, head
        assert sum(samples(svc, "nes_upstream_errors_total").values()) == 0

        def spans():
            return [sp for _, sp in rcv.spans() if sp.trace_id.hex() == TRACE]
        assert rcv.wait(lambda: any(sp.name == "upstream" for sp in spans())), rcv.errors
        server = [sp for sp in spans() if sp.parent_span_id.hex() == PARENT]
        assert len(server) == 1
        up = [sp for sp in spans() if sp.name == "upstream"]
        assert len(up) == 1 and up[0].parent_span_id == server[0].span_id
        assert up[0].kind == 3  # SPAN_KIND_CLIENT
        at = {kv.key: (kv.value.int_value if kv.value.HasField("int_value")
                       else kv.value.string_value) for kv in up[0].attributes}
        assert at["nes.upstream.reused"] == 1 and at["http.response.status_code"] == 201
        # the application's parent is the upstream span (the client's traceparent replaced)
        assert app.requests[-1]["h"]["traceparent"] == \
            f"00-{TRACE}-{up[0].span_id.hex()}-01"
        assert app.requests[0]["h"]["traceparent"] != app.requests[1]["h"]["traceparent"]
        assert server[0].start_time_unix_nano <= up[0].start_time_unix_nano
        assert up[0].end_time_unix_nano <= server[0].end_time_unix_nano
    finally:
        assert svc.stop() == 0
        app.close()
        rcv.close()


def test_a_404_span_is_exported_without_harm(tmp_path):
    """The server span of a request no route matches has a name (it had none: the exporter
    crashed on it, in proxy mode on every request)."""
    rcv = Receiver()
    svc = Service(tmp_path, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.url,
                                 "OTEL_BSP_SCHEDULE_DELAY": "100"}, specs=("shop",))
    try:
        assert svc.request("GET", "/nope")[0] == 404
        assert rcv.wait(lambda: any(sp.name == "HTTP request" for _, sp in rcv.spans())), \
            rcv.errors
        assert svc.alive()
    finally:
        assert svc.stop() == 0
        rcv.close()


SHOP = {"X-Schema-Name": "shop", "Content-Type": "application/json"}


def test_upstream_errors_by_kind(tmp_path):
    app = App()
    svc = Service(tmp_path, env={"UPSTREAM": f"tcp://127.0.0.1:{dead_port()}"},
                  specs=("shop",))
    try:
        assert svc.request("PUT", "/orders/1", json.dumps(PII).encode(), SHOP)[0] == 502
        errs = samples(svc, "nes_upstream_errors_total")
        assert errs['{kind="connect"}'] == 1, errs
        assert sum(errs.values()) == 1
    finally:
        assert svc.stop() == 0
    svc = Service(tmp_path / "b", env={"UPSTREAM": app.uri, "PROXY_PASS_UNMATCHED": "on"},
                  specs=("shop",))
    try:
        assert svc.request("GET", "/x/bad", None, SHOP)[0] == 502  # an invalid status line
        assert samples(svc, "nes_upstream_errors_total")['{kind="invalid"}'] == 1
    finally:
        assert svc.stop() == 0
        app.close()
