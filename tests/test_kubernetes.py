"""The Kubernetes example (examples/kubernetes/flags.yaml) as its readers rely
on it: probes on the endpoints that mean liveness and readiness, the flag
file mounted as a directory (a subPath mount never sees an update), the
cache on a volume of its own, and only `flags serve` options that exist.

No cluster runs here; this checks the manifest against the server's own
documentation of its options and endpoints (docs/server.md).
"""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "kubernetes" / "flags.yaml"
SERVER_DOC = (ROOT / "docs" / "server.md").read_text()


def documents():
    return {d["kind"]: d for d in yaml.safe_load_all(MANIFEST.read_text())}


def container():
    deployment = documents()["Deployment"]
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, c


def test_every_kind_is_there():
    assert set(documents()) == {"ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"}


def test_the_configmap_holds_a_flag_file():
    import json

    data = documents()["ConfigMap"]["data"]["flags.json"]
    flags = json.loads(data)
    assert flags["version"] == 1 and flags["flags"]


def test_probes_follow_readiness_and_liveness():
    _, c = container()
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for path in ("/readyz", "/healthz"):
        assert f"`GET {path}`" in SERVER_DOC or f"GET {path}" in SERVER_DOC


def test_the_arguments_are_documented_options():
    _, c = container()
    args = c["args"]
    assert args[0] == "serve"
    documented = set(re.findall(r"^\| `(--[a-z-]+)", SERVER_DOC, re.M))
    used = {a.split("=")[0] for a in args if a.startswith("--")}
    assert used <= documented, f"not in docs/server.md: {used - documented}"
    assert "--cache" in used and "--listen" in used


def test_mounts_are_directories_and_the_cache_has_its_own_volume():
    deployment, c = container()
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert all("subPath" not in m for m in mounts.values())
    args = dict(a.split("=", 1) for a in c["args"] if "=" in a)
    file = c["args"][1]
    assert file.startswith(mounts["flags"]["mountPath"] + "/")
    assert args["--cache"].startswith(mounts["cache"]["mountPath"] + "/")
    assert args["--tokens-file"].startswith(mounts["tokens"]["mountPath"] + "/")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["flags"]["configMap"]["name"] == documents()["ConfigMap"]["metadata"]["name"]
    assert "emptyDir" in volumes["cache"]
    assert not mounts["cache"].get("readOnly", False)


def test_service_and_disruption_budget_select_the_pods():
    docs = documents()
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for kind, selector in (("Service", docs["Service"]["spec"]["selector"]),
                           ("PodDisruptionBudget",
                            docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"])):
        assert selector.items() <= labels.items(), kind
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] < docs["Deployment"]["spec"]["replicas"]
