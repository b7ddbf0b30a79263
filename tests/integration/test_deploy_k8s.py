"""deploy/k8s and the Helm chart: valid Kubernetes objects that run the programs as they are.

- helm lint + helm template (Helm v3.22.0 built once from the Go module proxy by
  scripts/go-tool.sh and cached outside the clone), and deploy/k8s/nitro-enc-svc.yaml equal to
  the chart rendered with its defaults (scripts/k8s-manifests.sh --check);
- every manifest and the rendered chart pass kubernetes-validate --strict and yamllint;
- the containers match the programs, read from the programs at test time: nitro-enc-proxy's
  modes, environment variables and metrics path from its source, its --check-config run on each
  container's environment (the egress allowlist ConfigMap parsed by the real program); probe
  paths from the service's route table; the enclave's vsock ports from the image's settings;
  the launcher's variables from its script. Where a program's source is not in this tree yet,
  only the checks of that program skip, and say why.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("NES_BIN", ROOT / "build" / "bin"))
CHART = ROOT / "deploy" / "helm" / "nitro-enc-svc"
K8S = ROOT / "deploy" / "k8s"
RENDERED = K8S / "nitro-enc-svc.yaml"
YAMLLINT_CFG = ROOT / "deploy" / ".yamllint.yaml"
VENV_BIN = pathlib.Path(sys.executable).parent
PROXY_SRC = ROOT / "src" / "proxy"
LAUNCHER = ROOT / "deploy" / "launcher" / "run-enclave.sh"
ENCLAVE_SETTINGS = ROOT / "deploy" / "enclave" / "config.example.yaml"


# ---- the programs, read from their code ------------------------------------------------------

def service_routes():
    text = (ROOT / "src" / "enclave" / "httputil.c").read_text()
    routes = set(re.findall(r'\{"(/[^"]*)", NES_ROUTE_', text))
    assert "/readyz" in routes, "route table not found in src/enclave/httputil.c"
    return routes


def need_proxy_source():
    if not (PROXY_SRC / "config.c").exists():
        pytest.skip("nitro-enc-proxy (branch relay-proxy) is not in this tree: its names cannot "
                    "be read; the proxy containers are checked once it is merged")


def proxy_env_names():
    need_proxy_source()
    text = (PROXY_SRC / "config.c").read_text()
    names = set(re.findall(r'(?:env|get_uint|get_ep)\(envp, "([A-Z0-9_]+)"', text))
    assert {"LISTEN", "METRICS_ADDR"} <= names, "proxy config names not found"
    return names


def proxy_modes():
    need_proxy_source()
    m = re.search(r"usage: nitro-enc-proxy ([a-z|]+)", (PROXY_SRC / "main.c").read_text())
    assert m, "usage line not found in src/proxy/main.c"
    return set(m.group(1).split("|"))


def proxy_metrics_path():
    need_proxy_source()
    m = re.search(r'"GET (/\S+) "', (PROXY_SRC / "main.c").read_text())
    assert m, "metrics request line not found in src/proxy/main.c"
    return m.group(1)


def launcher_env_names():
    return set(re.findall(r"\$\{([A-Z_]+):-", LAUNCHER.read_text()))


def enclave_settings():
    return yaml.safe_load(ENCLAVE_SETTINGS.read_text())


# ---- the manifests ---------------------------------------------------------------------------

def docs():
    return [d for d in yaml.safe_load_all(RENDERED.read_text()) if d]


def workloads():
    return [d for d in docs() if d["kind"] in ("DaemonSet", "Deployment")]


def containers():
    for w in workloads():
        for c in w["spec"]["template"]["spec"]["containers"]:
            yield w, c


def env_of(c):
    return {e["name"]: e["value"] for e in c.get("env", [])}


def proxy_containers():
    return [(w, c) for w, c in containers() if c.get("command", [""])[0] == "nitro-enc-proxy"]


def tcp_port(uri):
    m = re.fullmatch(r"tcp://[^/]+:(\d+)", uri)
    return int(m.group(1)) if m else None


def port_number(c, ref):
    for p in c.get("ports", []):
        if ref in (p["containerPort"], p.get("name")):
            return p["containerPort"]
    raise AssertionError(f"{c['name']}: probe port {ref} is not a declared port")


# ---- Helm ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def helm():
    r = subprocess.run([str(ROOT / "scripts" / "go-tool.sh"), "helm"], capture_output=True,
                       text=True, timeout=3600)
    if r.returncode == 3:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_helm_lint(helm):
    r = subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_plain_manifests_are_the_rendered_chart(helm):
    r = subprocess.run([str(ROOT / "scripts" / "k8s-manifests.sh"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_chart_renders_with_options_off_and_on(helm, tmp_path):
    """Optional parts switch cleanly; each rendering is valid."""
    for i, sets in enumerate((["exampleApp.enabled=false", "networkPolicy.enabled=false"],
                              ["egress.hostNetwork=true", "egress.otlpHost=",
                               "enclave.debugMode=true"])):
        args = [helm, "template", "x", str(CHART), "--namespace", "ns"]
        for s in sets:
            args += ["--set", s]
        r = subprocess.run(args, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out = tmp_path / f"render{i}.yaml"
        out.write_text(r.stdout)
        kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
        if i == 0:
            assert "Deployment" not in kinds and "NetworkPolicy" not in kinds
        validate(out)


# ---- schema and style ------------------------------------------------------------------------

def validate(path):
    r = subprocess.run([str(VENV_BIN / "kubernetes-validate"), "--strict", "--quiet", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in K8S.glob("*.yaml")))
def test_manifest_validates_against_the_api_schema(name):
    validate(K8S / name)


def test_yamllint_clean():
    files = [*K8S.glob("*.yaml"), CHART / "values.yaml", CHART / "Chart.yaml", ENCLAVE_SETTINGS]
    r = subprocess.run([str(VENV_BIN / "yamllint"), "--strict", "-c", str(YAMLLINT_CFG),
                        *map(str, files)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_rendering_has_every_part():
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs()}
    for kind, suffix in (("DaemonSet", "-enclave"), ("DaemonSet", "-egress"),
                         ("ConfigMap", "-egress-allowlist"), ("Deployment", "-example-app"),
                         ("Service", ""), ("PodDisruptionBudget", "-example-app"),
                         ("NetworkPolicy", "-egress")):
        assert any(k == kind and n.endswith(suffix) for k, n in kinds), (kind, suffix)


# ---- security contexts and the enclave's resources -------------------------------------------

def test_security_contexts():
    for w, c in containers():
        sc = c.get("securityContext", {})
        where = f"{w['metadata']['name']}/{c['name']}"
        assert sc.get("allowPrivilegeEscalation") is False, where
        assert sc.get("readOnlyRootFilesystem") is True, where
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
        assert "add" not in sc.get("capabilities", {}), where
        assert not sc.get("privileged", False), where
        if c["name"] != "launcher":  # nitro-cli runs as root (without capabilities)
            assert sc.get("runAsNonRoot") is True, where


def test_enclave_daemonset_resources():
    ds = next(w for w in workloads() if w["metadata"]["name"].endswith("-enclave"))
    launcher = next(c for c in ds["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "launcher")
    for side in ("requests", "limits"):
        res = launcher["resources"][side]
        assert res["aws.ec2.nitro/nitro_enclaves"] == "1"
        assert any(k.startswith("hugepages-") for k in res)
    env = env_of(launcher)
    assert set(env) <= launcher_env_names(), set(env) - launcher_env_names()
    assert launcher["command"] == ["/usr/local/bin/run-enclave.sh"]
    dockerfile = (ROOT / "deploy" / "launcher" / "Dockerfile").read_text()
    assert "COPY run-enclave.sh /usr/local/bin/run-enclave.sh" in dockerfile
    assert f"COPY nitro-enc-svc.eif {env['EIF_PATH']}" in dockerfile


# ---- the proxies against nitro-enc-proxy -----------------------------------------------------

def test_proxy_containers_use_the_program_as_it_is():
    names, modes = proxy_env_names(), proxy_modes()
    for w, c in proxy_containers():
        where = f"{w['metadata']['name']}/{c['name']}"
        assert c["image"].rsplit("/", 1)[-1].split(":")[0] == "nitro-enc-proxy", where
        assert c["args"][0] in modes, where
        unknown = set(env_of(c)) - names
        assert not unknown, f"{where}: nitro-enc-proxy does not read {sorted(unknown)}"


def test_ports_and_probes_match_the_listeners():
    routes, metrics = service_routes(), proxy_metrics_path()
    for w, c in proxy_containers():
        where = f"{w['metadata']['name']}/{c['name']}"
        env = env_of(c)
        listen, mport = tcp_port(env.get("LISTEN", "")), tcp_port(env.get("METRICS_ADDR", ""))
        declared = {p["containerPort"] for p in c.get("ports", [])}
        assert declared == {p for p in (listen, mport) if p is not None}, where
        for kind in ("readinessProbe", "livenessProbe"):
            probe = c.get(kind, {}).get("httpGet")
            if probe is None:
                continue
            port = port_number(c, probe["port"])
            if port == mport:
                assert (probe["path"], probe.get("scheme", "HTTP")) == (metrics, "HTTP"), where
            else:
                # The ingress listener passes TLS through: the enclave's routes answer.
                assert port == listen and c["args"][0] == "ingress", where
                assert probe["path"] in routes and probe["scheme"] == "HTTPS", where


def test_vsock_wiring_matches_the_enclave_settings():
    settings = enclave_settings()
    m = re.fullmatch(r"vsock://any:(\d+)", settings["LISTEN"])
    assert m, "the enclave listens on vsock"
    enclave_port = int(m.group(1))
    ds = next(w for w in workloads() if w["metadata"]["name"].endswith("-enclave"))
    cid = env_of(next(c for c in ds["spec"]["template"]["spec"]["containers"]
                      if c["name"] == "launcher"))["ENCLAVE_CID"]
    seen = set()
    for w, c in proxy_containers():
        env = env_of(c)
        seen.add(c["args"][0])
        if c["args"][0] == "ingress":
            assert env["ENCLAVE"] == f"vsock://{cid}:{enclave_port}"
        else:
            assert env["LISTEN"] == f"vsock://any:{settings['VSOCK_PROXY_PORT']}"
            assert settings["VSOCK_PROXY_CID"] == "3", "the parent is CID 3 for the enclave"
    assert seen == {"ingress", "egress"}


def test_sidecar_reaches_the_app_and_the_nlb_reaches_the_sidecar():
    routes = service_routes()
    dep = next(w for w in workloads() if w["kind"] == "Deployment")
    cs = {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}
    app_port = cs["app"]["ports"][0]["containerPort"]
    assert env_of(cs["ingress"])["MAIN_APP_ADDR"] == f"127.0.0.1:{app_port}"
    svc = next(d for d in docs() if d["kind"] == "Service")
    target = svc["spec"]["ports"][0]["targetPort"]
    assert target in [p.get("name") for p in cs["ingress"]["ports"]]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    ann = svc["metadata"]["annotations"]
    assert ann["service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"] in routes
    pdb = next(d for d in docs() if d["kind"] == "PodDisruptionBudget")
    assert all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())


def test_each_proxy_container_passes_check_config(tmp_path):
    """The real nitro-enc-proxy accepts each container's environment (and the allowlist)."""
    need_proxy_source()
    prog = BIN / "nitro-enc-proxy"
    if not prog.exists():
        pytest.skip(f"{prog} not built")
    allow = next(d for d in docs() if d["kind"] == "ConfigMap")["data"]["allowlist.yaml"]
    (tmp_path / "allowlist.yaml").write_text(allow)
    for w, c in proxy_containers():
        env = env_of(c)
        if "ALLOWLIST" in env:
            env["ALLOWLIST"] = str(tmp_path / "allowlist.yaml")
        r = subprocess.run([str(prog), c["args"][0], "--check-config"], env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"{w['metadata']['name']}/{c['name']}: {r.stderr}"
        for k in ("LISTEN", "METRICS_ADDR", "ENCLAVE"):
            if k in env:
                assert f"{k}={env[k]}" in r.stdout, (k, r.stdout)
        if "ALLOWLIST" in env:
            n = allow.count("- {address:")
            assert f"({n} entries)" in r.stdout


def test_enclave_settings_names_are_the_service_s():
    prog = BIN / "nitro-enc-svc"
    r = subprocess.run([str(prog), "--local-mode", "--check-config"], capture_output=True,
                       text=True, env={"LOCAL_STATE_DIR": "/nonexistent"}, timeout=30)
    assert r.returncode == 0, r.stderr
    names = set(re.findall(r"^([A-Z0-9_]+)=", r.stdout, re.M))
    assert {"SECRET_ARN", "LISTEN"} <= names
    unknown = set(enclave_settings()) - names
    assert not unknown, f"nitro-enc-svc does not read {sorted(unknown)}"
