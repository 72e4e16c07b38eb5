"""The deploy recipes (Dockerfile, compose.yaml, deploy/kubernetes, deploy/systemd) only use real
settings and real commands, probe the right endpoints and run without privileges."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from beproduct_sync import cli
from beproduct_sync.config import Settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
SYSTEMD = ROOT / "deploy" / "systemd"
IMAGE = "beproduct-sync"


# --- the two things the recipes must agree with ------------------------------------------


@cache
def cli_group() -> Any:
    """The click group behind `beproduct-sync`, every subcommand registered. The one place that
    knows how the command-line package is laid out: update it when the commands move.

    (Typer ships its own copy of click, so groups are recognised by their `commands`.)"""
    return typer.main.get_command(cli.app)


@cache
def setting_names() -> frozenset[str]:
    """Environment variables the service reads: one per settings field, upper case."""

    return frozenset(name.upper() for name in Settings.model_fields)


def command_of(argv: list[str]) -> Any:
    """The subcommand `beproduct-sync ARGV` runs; fails on an unknown command or option."""
    command = cli_group()
    rest = list(argv)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        found = command.commands.get(rest[0])
        assert found is not None, f"no such command: {argv}"
        command, rest = found, rest[1:]
    assert command is not cli_group(), f"no command given: {argv}"
    options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for token in rest:
        if token.startswith("-"):
            assert token.split("=", 1)[0] in options | {"--help"}, f"{token} in {argv}"
    return command


def test_the_helpers_know_the_real_cli_and_settings() -> None:
    assert {"serve", "worker", "migrate", "status"} <= set(cli_group().commands)
    assert command_of(["worker", "--metrics-port", "9100"]).name == "worker"
    with pytest.raises(AssertionError):
        command_of(["serve", "--no-such-option"])
    with pytest.raises(AssertionError):
        command_of(["no-such-command"])
    assert {"DATABASE_URL", "BEPRODUCT_WEBHOOK_SECRET", "BEPRODUCT_SYNC_PORT"} <= setting_names()


def env_file_names(path: Path) -> set[str]:
    """Variable names in an env file, commented-out examples included."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", path.read_text(), flags=re.M))


# --- Dockerfile --------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    steps = [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def instruction(name: str) -> list[str]:
    return [args for key, args in dockerfile() if key == name]


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def test_the_image_is_slim_python_312() -> None:
    assert re.match(r"python:3\.12-slim", instruction("FROM")[-1])


def test_the_image_runs_as_a_non_root_user() -> None:
    users = instruction("USER")
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric UID lets Kubernetes check runAsNonRoot"


def test_the_image_healthcheck_asks_healthz_with_the_standard_library_only() -> None:
    (check,) = instruction("HEALTHCHECK")
    argv = json.loads(check[check.index("CMD") + 3 :])
    assert argv[:2] == ["python", "-c"]
    compile(argv[2], "<healthcheck>", "exec")
    assert "/healthz" in argv[2] and "urllib.request" in argv[2]
    assert not re.search(r"\b(curl|wget)\b", check)
    assert set(re.findall(r"BEPRODUCT_\w+", argv[2])) <= setting_names()


def test_the_image_entrypoint_is_the_cli_and_its_default_command_exists() -> None:
    assert json.loads(instruction("ENTRYPOINT")[-1]) == ["beproduct-sync"]
    assert command_of(json.loads(instruction("CMD")[-1])).name == "serve"


def test_the_image_installs_the_project_without_the_embedded_postgres() -> None:
    installs = " ".join(instruction("RUN"))
    assert "pip install" in installs
    assert "pgserver" not in installs and "[" not in installs  # no extras at all


def test_the_image_settings_are_real_and_the_exposed_port_is_the_one_served() -> None:
    env = docker_env()
    ours = {k for k in env if k.startswith(("BEPRODUCT", "DATABASE"))}
    assert ours <= setting_names()
    assert env["BEPRODUCT_SYNC_HOST"] == "0.0.0.0"
    assert instruction("EXPOSE") == [env["BEPRODUCT_SYNC_PORT"]]


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*") + 1 :][:3] == ["!pyproject.toml", "!README.md", "!src/"]


# --- compose.yaml ------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def our_services() -> dict[str, dict[str, Any]]:
    return {
        name: s
        for name, s in compose()["services"].items()
        if str(s.get("image", "")).startswith(IMAGE) or "build" in s
    }


def test_compose_runs_real_commands_with_real_settings() -> None:
    services = our_services()
    assert set(services) == {"migrate", "receiver", "worker"}
    for name, service in services.items():
        command_of(service["command"])
        assert set(service.get("environment", {})) <= setting_names(), name
        for env_file in service.get("env_file", []):
            path = ROOT / env_file["path"]
            example = path.with_name(path.name + ".example")
            assert env_file_names(example) <= setting_names()


def test_compose_migrates_as_the_owner_and_serves_as_the_service_role() -> None:
    services = our_services()
    assert services["migrate"]["command"] == ["migrate"]
    assert "//postgres:" in services["migrate"]["environment"]["DATABASE_URL"]
    for name in ("receiver", "worker"):
        env = services[name]["environment"]
        assert "//beproduct_sync_app:" in env["DATABASE_URL"], name
        assert env["BEPRODUCT_SYNC_AUTO_MIGRATE"] == "false"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    init = (ROOT / "deploy/compose/initdb/10-beproduct-sync-roles.sh").read_text()
    assert "GRANT beproduct_sync_service TO beproduct_sync_app" in init


def test_compose_has_postgres_16_and_an_optional_transaction_mode_pgbouncer() -> None:
    services = compose()["services"]
    assert services["db"]["image"] == "postgres:16"
    assert services["pgbouncer"]["profiles"] == ["pgbouncer"]
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert services["receiver"]["depends_on"]["pgbouncer"]["required"] is False


def test_compose_probes_the_ports_the_processes_serve() -> None:
    services = our_services()
    receiver = services["receiver"]
    assert receiver["ports"] == [f"8000:{receiver['environment']['BEPRODUCT_SYNC_PORT']}"]
    worker = services["worker"]
    port = worker["command"][worker["command"].index("--metrics-port") + 1]
    assert f"127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])


# --- Kubernetes --------------------------------------------------------------------------


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def kind(name: str) -> list[dict[str, Any]]:
    return [d for d in manifests() if d["kind"] == name]


def workload(name: str) -> dict[str, Any]:
    (found,) = [d for d in manifests() if d["metadata"]["name"] == name]
    return found


def pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def env_sources(container: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(variable names, "Kind/name" of the Secrets and ConfigMaps) a container gets."""
    names = {e["name"] for e in container.get("env", [])}
    refs = set()
    for source in container.get("envFrom", []):
        ((ref_kind, ref),) = source.items()
        source_kind = {"secretRef": "Secret", "configMapRef": "ConfigMap"}[ref_kind]
        refs.add(f"{source_kind}/{ref['name']}")
        (data,) = [d for d in kind(source_kind) if d["metadata"]["name"] == ref["name"]]
        names |= set(data.get("stringData", {})) | set(data.get("data", {}))
    return names, refs


def test_kubernetes_has_receivers_workers_a_service_a_secret_and_a_migrate_job() -> None:
    assert {d["metadata"]["name"] for d in kind("Deployment")} == {
        "beproduct-sync-receiver",
        "beproduct-sync-worker",
    }
    assert len(kind("Service")) == 1 and len(kind("Job")) == 1 and kind("Secret")


def test_kubernetes_containers_run_real_commands_with_real_settings() -> None:
    for doc in kind("Deployment") + kind("Job"):
        for container in pod(doc)["containers"]:
            assert container["image"].startswith(IMAGE)
            assert "command" not in container  # the image's entrypoint stays beproduct-sync
            command_of(container["args"])
            names, _ = env_sources(container)
            assert names <= setting_names(), doc["metadata"]["name"]


def test_kubernetes_migrates_as_the_owner_and_serves_as_the_service_role() -> None:
    (job,) = kind("Job")
    (migrate,) = pod(job)["containers"]
    assert migrate["args"] == ["migrate"]
    assert env_sources(migrate)[1] == {"Secret/beproduct-sync-migrate"}
    (config,) = kind("ConfigMap")
    assert config["data"]["BEPRODUCT_SYNC_AUTO_MIGRATE"] == "false"
    for doc in kind("Deployment"):
        (container,) = pod(doc)["containers"]
        # Never the owner's URL.
        assert env_sources(container)[1] == {"ConfigMap/beproduct-sync", "Secret/beproduct-sync"}


def test_kubernetes_receivers_probe_healthz_and_readyz_on_the_served_port() -> None:
    (receiver,) = pod(workload("beproduct-sync-receiver"))["containers"]
    assert receiver["args"][0] == "serve"
    (config,) = kind("ConfigMap")
    (port,) = receiver["ports"]
    assert port["containerPort"] == int(config["data"]["BEPRODUCT_SYNC_PORT"])
    assert receiver["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert receiver["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    (service,) = kind("Service")
    assert service["spec"]["selector"].items() <= (
        workload("beproduct-sync-receiver")["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_kubernetes_workers_probe_their_metrics_port() -> None:
    (worker,) = pod(workload("beproduct-sync-worker"))["containers"]
    port = int(worker["args"][worker["args"].index("--metrics-port") + 1])
    assert worker["ports"] == [{"name": "metrics", "containerPort": port}]
    assert worker["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def test_kubernetes_pods_run_without_privileges() -> None:
    for doc in kind("Deployment") + kind("Job"):
        security = pod(doc)["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
        for container in pod(doc)["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


# --- systemd -----------------------------------------------------------------------------


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / "beproduct-sync.service").read_text())
    return parser


def test_systemd_unit_runs_a_real_command_as_an_unprivileged_user() -> None:
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/beproduct-sync")
    assert command_of(argv[1:]).name == "serve"
    assert service.get("DynamicUser") == "yes" or service.get("User") not in (None, "root")
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/etc/")
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "RestrictSUIDSGID"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""


def test_systemd_settings_are_real() -> None:
    defaults = {pair.split("=", 1)[0] for pair in shlex.split(unit()["Service"]["Environment"])}
    assert defaults <= setting_names()
    assert env_file_names(SYSTEMD / "beproduct-sync.env.example") <= setting_names()


# --- packaging ---------------------------------------------------------------------------


def test_the_embedded_postgres_is_an_optional_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("pgserver") for d in project["dependencies"])
    assert any(d.startswith("pgserver") for d in project["optional-dependencies"]["embedded"])


def test_the_dev_extra_brings_the_embedded_postgres_for_the_quick_start() -> None:
    # README: `pip install -e '.[dev]'` then `serve` without a DATABASE_URL.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "beproduct-sync[embedded]" in extras["optional-dependencies"]["dev"]
    readme = (ROOT / "README.md").read_text()
    assert "pip install -q -e '.[dev]' && .venv/bin/beproduct-sync serve --insecure-dev" in readme
