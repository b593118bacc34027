"""The Kubernetes example (examples/kubernetes/flags.yaml, and the Dockerfile
beside it) as its readers rely on it: probes on the endpoints that mean
liveness and readiness, the flag file mounted as a directory (a subPath
mount never sees an update), the cache on a volume of its own, only `flags
serve` options that exist, and an image that runs `flags` as a non-root
user on the manifest's port.

No cluster and no Docker daemon run here; this checks the files against
the server's own documentation of its options and endpoints
(docs/server.md) and its Cargo manifest.
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


DOCKERFILE = ROOT / "examples" / "kubernetes" / "Dockerfile"


def stages():
    """The Dockerfile's stages: a list of (FROM line, [instruction lines])."""
    result = []
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    for line in (l.strip() for l in lines):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append((line, []))
        else:
            assert result, f"instruction before FROM: {line}"
            result[-1][1].append(line)
    return result


def test_the_image_is_built_in_one_stage_and_run_small_as_non_root():
    (build, steps), (runtime, final) = stages()
    # The build stage's toolchain is at least the server's rust-version.
    server_toml = (ROOT / "flags-server" / "Cargo.toml").read_text()
    msrv = tuple(map(int, re.search(r'^rust-version = "(\d+)\.(\d+)"', server_toml, re.M).groups()))
    image = tuple(map(int, re.search(r"rust:(\d+)\.(\d+)", build).groups()))
    assert image >= msrv, f"{build} is older than the server's rust-version {msrv}"
    assert any("cargo build --release --locked -p flags-server" in s for s in steps)
    # The runtime stage has no toolchain and a numeric non-root user, which
    # `runAsNonRoot: true` in the Deployment needs to check.
    assert "distroless" in runtime
    (user,) = [s.split()[1] for s in final if s.startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    _, c = container()
    assert c["securityContext"]["runAsNonRoot"] is True


def test_the_image_runs_the_flags_binary_on_the_manifest_port():
    _, final = stages()[-1]
    server_toml = (ROOT / "flags-server" / "Cargo.toml").read_text()
    binary = re.search(r'\[\[bin\]\]\s*name = "([^"]+)"', server_toml).group(1)
    (entrypoint,) = [s for s in final if s.startswith("ENTRYPOINT ")]
    assert entrypoint.endswith(f'/{binary}"]')
    copied = [s for s in final if s.startswith("COPY --from=")]
    assert any(s.split()[-1] == f"/usr/local/bin/{binary}" for s in copied)
    (expose,) = [int(s.split()[1]) for s in final if s.startswith("EXPOSE ")]
    _, c = container()
    assert {p["containerPort"] for p in c["ports"]} == {expose}
    listen = [a for a in c["args"] if a.startswith("--listen=")]
    assert listen == [f"--listen=0.0.0.0:{expose}"]


RELAY = ROOT / "examples" / "kubernetes" / "relay.yaml"


def relay_documents():
    return {d["kind"]: d for d in yaml.safe_load_all(RELAY.read_text())}


def test_the_relay_follows_an_upstream_with_documented_options():
    docs = relay_documents()
    assert set(docs) == {"Secret", "Deployment", "Service", "PodDisruptionBudget"}
    deployment = docs["Deployment"]
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    args = c["args"]
    assert args[0] == "serve"
    # A relay has no flag file argument: FILE and --upstream exclude each other.
    assert all(a.startswith("--") for a in args[1:])
    documented = set(re.findall(r"^\| `(--[a-z-]+)", SERVER_DOC, re.M))
    used = {a.split("=")[0] for a in args if a.startswith("--")}
    assert used <= documented, f"not in docs/server.md: {used - documented}"
    assert {"--upstream", "--cache", "--listen"} <= used
    upstream = dict(a.split("=", 1) for a in args if "=" in a)["--upstream"]
    assert upstream.startswith(("http://", "https://"))
    # The upstream token comes from the Secret through the documented
    # environment variable, never from the arguments (visible in `ps`).
    assert "--upstream-token" not in used
    assert "FLAGS_UPSTREAM_TOKEN" in SERVER_DOC
    (env,) = [e for e in c["env"] if e["name"] == "FLAGS_UPSTREAM_TOKEN"]
    ref = env["valueFrom"]["secretKeyRef"]
    assert ref["name"] == docs["Secret"]["metadata"]["name"]
    assert ref["key"] in docs["Secret"]["stringData"]


def test_the_relay_is_probed_and_run_like_the_origin():
    docs = relay_documents()
    (c,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    _, origin = container()
    for key in ("readinessProbe", "livenessProbe", "securityContext", "ports"):
        assert c[key] == origin[key], key
    assert c["image"] == origin["image"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    args = dict(a.split("=", 1) for a in c["args"] if "=" in a)
    assert args["--cache"].startswith(mounts["cache"]["mountPath"] + "/")
    assert args["--tokens-file"].startswith(mounts["tokens"]["mountPath"] + "/")
    # The tokens file holds scoped lines as docs/server.md describes them.
    tokens = docs["Secret"]["stringData"]["tokens"].split("\n")
    scopes = {line.split()[1] if len(line.split()) == 2 else "server" for line in tokens if line}
    assert scopes == {"server", "client"}
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for selector in (docs["Service"]["spec"]["selector"],
                     docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] < docs["Deployment"]["spec"]["replicas"]
