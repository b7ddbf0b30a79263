"""make enclave-rootfs: reproducible, minimal, self-contained.

The tarball is built twice from clean build directories in two places (the second without
ccache, so a cached object cannot hide a compiler that embeds paths or times) and the two
sha256 must be equal. Its entries are sorted, owned by 0:0 and dated SOURCE_DATE_EPOCH; it holds
the binary, exactly the libraries ldd resolves for it, the CA bundle and the empty mount points.
Extracted alone, the binary runs under chroot: --version, and --check-config with enclave
settings (from the environment, and from deploy/enclave/config.example.yaml as the image uses it).
"""
import hashlib
import http.client
import os
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import tarfile
import time

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("NES_BIN", ROOT / "build" / "bin"))
SCRIPT = ROOT / "scripts" / "enclave-rootfs.sh"
MOUNT_POINTS = {"dev", "proc", "sys", "tmp", "run"}
ENCLAVE_ENV = {
    "SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:nitro-enc/dek",
    "KMS_KEY_ID": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "AWS_REGION": "eu-west-1",
    "S3_BUCKET": "example-nitro-enc-specs",
    "VSOCK_PROXY_CID": "3",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4318",
    "TLS_CERT": "pkcs11:token=nitro-enc;object=server",
    "TLS_KEY": "pkcs11:token=nitro-enc;object=server",
}


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(bdir, out, epoch, ccache=True):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    if not ccache:
        env["CCACHE_DISABLE"] = "1"
    subprocess.run([str(SCRIPT), str(bdir), str(out)], check=True, env=env, timeout=1800,
                   stdout=subprocess.DEVNULL)
    return out / "enclave-rootfs.tar"


def sanitizer_run():
    """True when NES_BIN holds sanitizer builds (make integration-asan): the rootfs is built from
    source by its own release build, so running it again there only doubles the time."""
    svc = BIN / "nitro-enc-svc"
    if not svc.exists():
        return False
    ldd = subprocess.run(["ldd", str(svc)], capture_output=True, text=True).stdout
    return "libasan" in ldd or "libubsan" in ldd


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    if sanitizer_run():
        pytest.skip("sanitizer run: the rootfs is checked in the plain integration run")
    epoch = int(subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
                               capture_output=True, text=True).stdout.strip() or "0")
    a = tmp_path_factory.mktemp("rootfs-a")
    b = tmp_path_factory.mktemp("rootfs-b")
    tar_a = build(a / "build", a / "out", epoch)
    tar_b = build(b / "deeper" / "build-elsewhere", b / "out", epoch, ccache=False)
    return {"a": tar_a, "b": tar_b, "epoch": epoch, "build_dirs": [a / "build", b / "deeper"],
            "unstripped": a / "out" / "nitro-enc-svc.unstripped"}


def test_two_clean_builds_give_the_same_bytes(rootfs):
    assert sha256(rootfs["a"]) == sha256(rootfs["b"])
    side = rootfs["a"].parent / "enclave-rootfs.tar.sha256"
    assert side.read_text().split()[0] == sha256(rootfs["a"])


def test_entries_sorted_fixed_owner_and_time_and_nothing_else(rootfs):
    with tarfile.open(rootfs["a"]) as t:
        members = t.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names), "entries must be sorted by name"
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "", ""), m.name
        assert m.mtime == rootfs["epoch"], m.name
        assert m.isdir() or m.isfile(), f"{m.name}: only directories and regular files"
    files = {m.name.removeprefix("./") for m in members if m.isfile()}
    ldd = subprocess.run(["ldd", str(rootfs["unstripped"])], capture_output=True, text=True,
                         check=True).stdout
    libs = set()
    for line in ldd.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("/"):
            libs.add(parts[2].lstrip("/"))
        elif parts and parts[0].startswith("/"):
            libs.add(parts[0].lstrip("/"))
    assert any("ld-linux" in x for x in libs) and any("libc.so" in x for x in libs)
    want = {"usr/bin/nitro-enc-svc", "etc/ssl/certs/ca-certificates.crt"} | libs
    assert files == want
    dirs = {m.name.removeprefix("./").rstrip("/") for m in members if m.isdir()} - {".", ""}
    parents = {str(pathlib.PurePosixPath(f).parents[i]) for f in files
               for i in range(len(pathlib.PurePosixPath(f).parents) - 1)}
    assert dirs == parents | MOUNT_POINTS


def test_no_build_paths_in_the_binary(rootfs, tmp_path):
    with tarfile.open(rootfs["a"]) as t:
        binary = t.extractfile("./usr/bin/nitro-enc-svc").read()
    unstripped = rootfs["unstripped"].read_bytes()
    for path in [ROOT, *rootfs["build_dirs"]]:
        for blob in (binary, unstripped):
            assert str(path).encode() not in blob, f"{path} is in the binary"
    # __DATE__ / __TIME__ text ("Nov 30 2026", "14:05:09"); the build also uses -Wdate-time.
    stamp = re.compile(rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-3][0-9] (19|20)[0-9]{2}")
    for blob in (binary, unstripped):
        assert not stamp.search(blob), stamp.search(blob)
    assert b"nitro-enc-svc" in binary


def chroot_cmd(root):
    if os.geteuid() == 0 and shutil.which("chroot"):
        return [shutil.which("chroot"), str(root)]
    if shutil.which("unshare") and subprocess.run(["unshare", "-r", "true"]).returncode == 0:
        return ["unshare", "-r", "chroot", str(root)]
    pytest.skip("neither root nor unprivileged user namespaces: cannot chroot here")


@pytest.fixture(scope="module")
def extracted(rootfs, tmp_path_factory):
    root = tmp_path_factory.mktemp("extracted")
    with tarfile.open(rootfs["a"]) as t:
        t.extractall(root, filter="fully_trusted")
    return root


def run_in(extracted, args, env=None):
    return subprocess.run(chroot_cmd(extracted) + ["/usr/bin/nitro-enc-svc", *args],
                          env=env or {}, capture_output=True, text=True, timeout=60)


def test_version_runs_from_the_rootfs_alone(extracted):
    r = run_in(extracted, ["--version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("nitro-enc-svc ")


def test_check_config_in_enclave_mode_from_the_rootfs(extracted):
    r = run_in(extracted, ["--check-config"], ENCLAVE_ENV)
    assert r.returncode == 0, r.stderr
    assert "(enclave mode)" in r.stdout
    for k, v in ENCLAVE_ENV.items():
        assert f"{k}={v}  # environment" in r.stdout
    # The check is real: without the secret it refuses with exit 2 and names it.
    env = {k: v for k, v in ENCLAVE_ENV.items() if k != "SECRET_ARN"}
    r = run_in(extracted, ["--check-config"], env)
    assert r.returncode == 2 and "SECRET_ARN" in r.stderr


def test_the_image_settings_example_is_accepted(extracted):
    """deploy/enclave/config.example.yaml, where the Dockerfile puts it, as the entrypoint reads it."""
    example = ROOT / "deploy" / "enclave" / "config.example.yaml"
    (extracted / "etc" / "nitro-enc").mkdir(exist_ok=True)
    shutil.copy(example, extracted / "etc" / "nitro-enc" / "config.yaml")
    try:
        r = run_in(extracted, ["--config", "/etc/nitro-enc/config.yaml", "--check-config"])
    finally:
        shutil.rmtree(extracted / "etc" / "nitro-enc")
    assert r.returncode == 0, r.stderr
    for k, v in yaml.safe_load(example.read_text()).items():
        assert f"{k}={v}  # config file" in r.stdout, k


def test_service_answers_from_the_rootfs(extracted):
    """Beyond --version: TLS (GnuTLS), crypto (OpenSSL), specs (libfyaml) all work with only
    what the rootfs holds, so no library is loaded at run time that ldd did not list. Local
    mode (no AWS here), started under chroot, asked from outside over TLS."""
    shutil.copytree(ROOT / "schemas", extracted / "tmp" / "schemas")
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    env = {"LISTEN": f"tcp://127.0.0.1:{port}", "LOCAL_SCHEMA_DIR": "/tmp/schemas",
           "LOCAL_STATE_DIR": "/tmp/state", "WORKER_THREADS": "1"}
    p = subprocess.Popen(chroot_cmd(extracted) + ["/usr/bin/nitro-enc-svc", "--local-mode"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        crt = extracted / "tmp" / "state" / "tls.crt"
        status, deadline = None, time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            if crt.exists():
                try:
                    ctx = ssl.create_default_context(cafile=str(crt))
                    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                    c.request("GET", "/readyz")
                    status = c.getresponse().status
                    c.close()
                    if status == 200:
                        break
                except (OSError, ssl.SSLError):
                    pass
            time.sleep(0.1)
        assert status == 200, p.stderr.read1().decode() if p.poll() is not None else status
        body = (ROOT / "examples" / "payments" / "payment.json").read_bytes()
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        c.request("POST", "/encrypt", body, {"Content-Type": "application/json",
                                              "X-Schema-Name": "payments"})
        r = c.getresponse()
        out = r.read()
        assert r.status == 200, out
        assert b'"v1.' in out and len(out) > len(body)
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_dockerfile_uses_the_tarball_and_the_settings():
    text = (ROOT / "deploy" / "enclave" / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "FROM scratch"
    assert "ADD enclave-rootfs.tar /" in lines
    assert "COPY config.yaml /etc/nitro-enc/config.yaml" in lines
    assert lines[-1] == ('ENTRYPOINT ["/usr/bin/nitro-enc-svc", "--config", '
                         '"/etc/nitro-enc/config.yaml"]')


def test_make_eif_says_what_is_missing(rootfs, tmp_path):
    """Without a Docker engine or nitro-cli, the EIF step names what is missing and fails."""
    have_engine = shutil.which("docker") and subprocess.run(
        ["docker", "info"], capture_output=True).returncode == 0
    if have_engine and shutil.which("nitro-cli"):
        pytest.skip("Docker and nitro-cli are both here: make eif builds for real")
    r = subprocess.run([str(ROOT / "scripts" / "eif.sh"), str(rootfs["a"].parent),
                        str(ROOT / "deploy" / "enclave" / "config.example.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert "missing" in r.stderr
    if not shutil.which("nitro-cli"):
        assert "nitro-cli" in r.stderr
    if not have_engine:
        assert "docker" in r.stderr.lower()
