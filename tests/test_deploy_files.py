"""No Docker engine runs here, so the deployment files are checked statically: they parse,
and every Kabar command they run exists in the CLI with the options given."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml

from worker.cli import main

ROOT = Path(__file__).resolve().parent.parent


def assert_kabar_command_exists(argv: list[str]) -> None:
    assert argv[0] == "kabar", argv
    command: click.Command = main
    args = argv[1:]
    while isinstance(command, click.Group):
        name, *args = args
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"`kabar {name}` does not exist"
        command = sub
    command.make_context(argv[0], list(args))  # raises on an unknown option


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_apache_kafka_4_in_kraft_mode() -> None:
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


@pytest.mark.parametrize("service", ["worker", "fetcher"])
def test_compose_services_run_existing_kabar_commands(service: str) -> None:
    spec = compose()["services"][service]
    assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / spec["build"]["dockerfile"]).is_file()
    assert spec["environment"]["KABAR_BROKER"].startswith("kafka://")
    assert_kabar_command_exists(spec["command"])


def test_worker_service_scales_without_fixed_names_or_ports() -> None:
    worker = compose()["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_kubernetes_manifests_run_existing_kabar_commands() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/kabar.yaml").read_text()))
    commands = [
        c["command"]
        for d in docs if d["kind"] in {"Deployment", "StatefulSet"}
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert len(commands) == 2
    for argv in commands:
        assert_kabar_command_exists(argv)
