#!/usr/bin/env python3
"""Cold start to ready of nitro-enc-svc in enclave mode against moto (a figure, not a test).

Sets up what tests/integration/test_enclave_dek.py uses: moto (KMS, Secrets Manager, S3) behind
its gate, the Recipient-aware KMS front, a DEK made by `nitro-enc dek create`, the payments spec
pushed by `nitro-enc schema push`, the test NSM. Then starts the service ROUNDS times and
measures, per start, the wall time from exec until `GET /readyz` answers 200 (TLS ready, DEK
fetched, attested, unwrapped; specs listed, fetched and compiled), and prints one table. The
machine must be quiet for the figures to mean anything; the issue's goal is <= 1 s.

    python3 bench/enclave/bench.py BIN_DIR [ROUNDS]
"""
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from awspeer import MotoPeer  # noqa: E402
from kmsfront import KmsFront  # noqa: E402
from tlsutil import CA  # noqa: E402


def main():
    bindir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "bin")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    os.environ["NES_BIN"] = str(bindir)
    import svc  # noqa: E402  (reads NES_BIN)

    with tempfile.TemporaryDirectory() as tmp, MotoPeer() as moto:
        tmp = pathlib.Path(tmp)
        key = moto.client("kms").create_key()["KeyMetadata"]["KeyId"]
        env = moto.env()
        run = lambda *a: subprocess.run([str(bindir / "nitro-enc"), *a], env=env, check=True,
                                        capture_output=True)
        run("dek", "create", "--kms-key-id", key, "--secret-id", "nes/dek")
        moto.client("s3").create_bucket(Bucket="nes-specs")
        run("schema", "push", str(ROOT / "schemas" / "payments.yaml"), "--bucket", "nes-specs",
            "--prefix", "schemas/")
        ca = CA()
        cert, tkey, _ = ca.write(tmp, "server", "localhost")
        (tmp / "ca.pem").write_bytes(ca.pem())
        front = KmsFront(moto.url, str(tmp / "nsm" / "ca.crt")).start()
        senv = moto.env(AWS_ENDPOINT_URL_KMS=front.url, AWS_EGRESS="direct", SECRET_ARN="nes/dek",
                        KMS_KEY_ID=key, S3_BUCKET="nes-specs", S3_PREFIX="schemas/",
                        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
                        NSM_DEVICE=f"test:{tmp / 'nsm'}", TLS_CERT=cert, TLS_KEY=tkey)
        times = []
        try:
            for i in range(rounds):
                t0 = time.monotonic()
                s = svc.Service(tmp / f"svc{i}", env=senv, args=(), specs=None, wait_ready=False,
                                cafile=str(tmp / "ca.pem"))
                s.wait_ready(timeout=30)
                times.append(time.monotonic() - t0)
                s.stop()
        finally:
            front.close()
    ms = sorted(t * 1000 for t in times)
    print("nitro-enc-svc enclave mode, cold start to /readyz 200 against moto "
          f"({rounds} starts; test NSM, RSA-2048 key generation, KMS front, S3 specs)")
    print(f"{'min ms':>10} {'median ms':>10} {'p90 ms':>10} {'max ms':>10}")
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    print(f"{ms[0]:10.0f} {statistics.median(ms):10.0f} {p90:10.0f} {ms[-1]:10.0f}")


if __name__ == "__main__":
    main()
