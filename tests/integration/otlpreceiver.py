"""A small OTLP/HTTP receiver for the integration tests.

It accepts POST /v1/traces, /v1/metrics and /v1/logs with JSON (OTLP/HTTP JSON encoding) or
protobuf bodies and decodes each with the official opentelemetry-proto classes, so the service's
encoding is checked by someone else's decoder: a body the classes refuse is answered 400 and
recorded in `errors`. The OTLP JSON encoding differs from proto3's JSON mapping in one point
(trace and span ids are hex, not base64); that is undone before the decode.

`delay` makes every answer slow, `status` makes every answer fail: the "receiver slow / down"
tests use them.
"""
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import \
    ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

KINDS = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
}
ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def hex_ids_to_base64(node):
    """Rewrites OTLP JSON's hex ids as proto3 JSON's base64 (in place)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ID_KEYS and isinstance(v, str):
                node[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                hex_ids_to_base64(v)
    elif isinstance(node, list):
        for v in node:
            hex_ids_to_base64(v)


class Receiver:
    def __init__(self, delay=0.0, status=200, tls=None):
        """tls: (certfile, keyfile) to serve https:// (the URL then names localhost)."""
        self.delay = delay
        self.status = status
        self.lock = threading.Lock()
        self.requests = {p: [] for p in KINDS}  # decoded messages
        self.raw = []  # every body as received (for the plaintext grep)
        self.headers = []
        self.errors = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if outer.delay:
                    time.sleep(outer.delay)
                cls = KINDS.get(self.path)
                code = outer.status
                if cls is None:
                    code = 404
                else:
                    try:
                        if self.headers.get("Content-Type", "").startswith("application/json"):
                            doc = json.loads(body)
                            hex_ids_to_base64(doc)
                            msg = json_format.ParseDict(doc, cls())
                        else:
                            msg = cls.FromString(body)
                        with outer.lock:
                            outer.raw.append(body)
                            outer.headers.append(dict(self.headers))
                            if code == 200:
                                outer.requests[self.path].append(msg)
                    except Exception as e:  # noqa: BLE001 - recorded for the test to show
                        with outer.lock:
                            outer.errors.append(f"{self.path}: {e}")
                        code = 400
                reply = b"{}"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls is not None:
            import ssl  # pylint: disable=import-outside-toplevel
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- views -----------------------------------------------------------------------------
    def spans(self):
        out = []
        with self.lock:
            for req in self.requests["/v1/traces"]:
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        out.extend((rs.resource, s) for s in ss.spans)
        return out

    def logs(self):
        out = []
        with self.lock:
            for req in self.requests["/v1/logs"]:
                for rl in req.resource_logs:
                    for sl in rl.scope_logs:
                        out.extend(sl.log_records)
        return out

    def last_metrics(self):
        """{name: Metric} of the newest metrics export."""
        with self.lock:
            if not self.requests["/v1/metrics"]:
                return {}
            req = self.requests["/v1/metrics"][-1]
        out = {}
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out[m.name] = m
        return out

    def wait(self, pred, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False
