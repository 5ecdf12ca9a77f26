"""No Docker engine or cluster runs here, so the deployment files are checked statically:
they parse; every Kabar command, setting, port and endpoint they name exists; every metric
an alert rule or a dashboard panel reads is one the code exports; and promtool checks the
rules and the Prometheus config and runs the rules' unit tests."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml
from prometheus_client import REGISTRY

from worker.app import app_id
from worker.cli import main
from worker.kafka_io import bootstrap_servers
from worker.metrics import ENDPOINTS
from worker.settings import Settings, load_settings

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


def test_the_image_runs_an_existing_kabar_command_by_default() -> None:
    [cmd] = [line for line in (ROOT / "deploy/Dockerfile").read_text().splitlines()
             if line.startswith("CMD ")]
    assert_kabar_command_exists(json.loads(cmd.removeprefix("CMD ")))


def test_worker_service_scales_without_fixed_names_or_ports() -> None:
    worker = compose()["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_kubernetes_manifests_run_existing_kabar_commands() -> None:
    commands = [
        c["command"]
        for d in k8s() if d["kind"] in {"Deployment", "StatefulSet"}
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert len(commands) == 2
    for argv in commands:
        assert_kabar_command_exists(argv)


# -- settings, ports and probes ----------------------------------------------------------

def k8s(name: str = "kabar.yaml") -> list[dict]:
    return list(yaml.safe_load_all((ROOT / "deploy/k8s" / name).read_text()))


def k8s_object(kind: str, name: str) -> dict:
    [found] = [d for d in k8s() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def configmap_env() -> dict[str, str]:
    data = k8s_object("ConfigMap", "kabar-config")["data"]
    return {k: v for k, v in data.items() if k.startswith("KABAR_")}


def assert_env_names_settings(env: dict[str, str]) -> Settings:
    """Every KABAR_* variable is a setting Kabar reads (a misspelt one would be ignored),
    and the values load."""
    defaults = Settings()
    sections = {f.name: {g.name for g in dataclasses.fields(getattr(defaults, f.name))}
                for f in dataclasses.fields(defaults) if f.name != "origin"}
    for name in env:
        if name in ("KABAR_BROKER", "KABAR_CONFIG"):
            continue
        section, _, key = name.removeprefix("KABAR_").lower().partition("_")
        assert key in sections.get(section, ()), f"{name} is not a Kabar setting"
    return load_settings(env=env)


def test_compose_and_kubernetes_environments_name_real_settings() -> None:
    for service in ("worker", "fetcher"):
        assert_env_names_settings(compose()["services"][service]["environment"])
    settings = assert_env_names_settings(configmap_env())
    assert settings.web.metrics_port and settings.web.bind == "0.0.0.0"


def test_a_misspelt_setting_in_a_manifest_is_caught() -> None:
    with pytest.raises(AssertionError, match="KABAR_WEB_METRIC_PORT is not a Kabar setting"):
        assert_env_names_settings({"KABAR_WEB_METRIC_PORT": "9464"})


def worker_container() -> dict:
    [container] = k8s_object("Deployment", "kabar-worker")["spec"]["template"]["spec"][
        "containers"]
    return container


def test_worker_deployment_probes_the_endpoints_the_worker_serves_on_its_metrics_port() -> None:
    container = worker_container()
    metrics_port = load_settings(env=configmap_env()).web.metrics_port
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probes = {kind: container[kind]["httpGet"]
              for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == "/livez"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in probes.values():
        assert probe["path"] in ENDPOINTS
        assert ports[probe["port"]] == metrics_port
    # a probe waits for up to a loop timeout: the orchestrator must wait longer
    assert all(container[kind]["timeoutSeconds"] > 5 for kind in probes)
    annotations = k8s_object("Deployment", "kabar-worker")["spec"]["template"]["metadata"][
        "annotations"]
    assert int(annotations["prometheus.io/port"]) == metrics_port
    assert annotations["prometheus.io/path"] in ENDPOINTS
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]


def test_worker_disruptions_are_budgeted_and_the_poller_never_runs_twice() -> None:
    worker = k8s_object("Deployment", "kabar-worker")
    budget = k8s_object("PodDisruptionBudget", "kabar-worker")
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"]["selector"]["matchLabels"] == worker["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["maxUnavailable"] == 1
    poller = k8s_object("Deployment", "kabar-fetcher")
    [container] = poller["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["kabar", "fetch"]
    # one replica, and a rollout stops the old poller before starting the new one
    assert poller["spec"]["replicas"] == 1
    assert poller["spec"]["strategy"]["type"] == "Recreate"


def test_keda_scales_the_worker_deployment_on_its_own_consumer_group() -> None:
    [scaled] = k8s("keda-scaledobject.yaml")
    settings = load_settings(env=configmap_env())
    assert (scaled["apiVersion"], scaled["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "kabar-worker"
    k8s_object("Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] <= settings.topic.partitions
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["consumerGroup"] == app_id(settings)  # Faust's group id is the app id
    assert meta["bootstrapServers"] == bootstrap_servers(settings.broker.url)
    assert int(meta["lagThreshold"]) > 0


def test_compose_scrapes_and_healthchecks_the_workers_metrics_port() -> None:
    services = compose()["services"]
    metrics_port = load_settings(env=services["worker"]["environment"]).web.metrics_port
    assert f"127.0.0.1:{metrics_port}/livez" in " ".join(services["worker"]["healthcheck"]["test"])
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "kabar-worker"]
    [dns] = job["dns_sd_configs"]
    assert dns["names"] == ["worker"] and dns["port"] == metrics_port


def mounts(service: dict) -> dict[str, str]:
    """Container path → repository path of a service's bind mounts."""
    pairs = (v.split(":")[:2] for v in service.get("volumes", []))
    return {target: source for source, target in pairs}


def test_compose_runs_prometheus_and_grafana_on_the_files_in_deploy() -> None:
    services = compose()["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    config = next(a.split("=", 1)[1] for a in prometheus["command"]
                  if a.startswith("--config.file="))
    prometheus_mounts = mounts(prometheus)
    assert (ROOT / prometheus_mounts["/etc/prometheus"] / Path(config).name).is_file()
    grafana_mounts = mounts(grafana)
    provisioning = ROOT / grafana_mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    [source] = datasources["datasources"]
    host, port = source["url"].removeprefix("http://").split(":")
    assert host in services and f"{port}:{port}" in prometheus["ports"]
    providers = yaml.safe_load((provisioning / "dashboards/kabar.yml").read_text())
    [provider] = providers["providers"]
    dashboards = ROOT / grafana_mounts[provider["options"]["path"]]
    assert (dashboards / "kabar.json").is_file()
    for panel in dashboard_panels():
        assert panel.get("type") == "row" or panel["datasource"]["uid"] == source["uid"]


# -- rules, dashboard and the metrics they read -------------------------------------------

def registered_metrics() -> set[str]:
    """Every series name the worker can export, from the live registry once every module
    that registers metrics is imported (a labelled metric has no sample before its first
    event, so the names come from each family's type)."""
    import worker.agents
    import worker.fetch.politeness
    import worker.runner  # noqa: F401

    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum"),
                "summary": ("", "_count", "_sum"), "info": ("_info",)}
    return {family.name + suffix for family in REGISTRY.collect()
            for suffix in suffixes.get(family.type, ("",))}


#: series Prometheus makes itself
PROMETHEUS_SERIES = {"up"}


def rules() -> list[dict]:
    groups = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict:
    return json.loads((ROOT / "deploy/grafana/dashboards/kabar.json").read_text())


def dashboard_panels() -> list[dict]:
    panels = dashboard()["panels"]
    return panels + [p for row in panels for p in row.get("panels", [])]


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]


def metrics_in(expr: str) -> set[str]:
    """The series an expression selects: kabar_* names, and any name with label matchers."""
    return set(re.findall(r"\bkabar_\w+", expr)) | set(re.findall(r"\b(\w+)\s*\{", expr))


@pytest.mark.parametrize("where", ["rules", "dashboard"])
def test_every_metric_a_rule_or_panel_reads_exists_in_the_code(where: str) -> None:
    exprs = [r["expr"] for r in rules()] if where == "rules" else dashboard_exprs()
    assert exprs
    known = registered_metrics() | PROMETHEUS_SERIES
    for expr in exprs:
        missing = metrics_in(expr) - known
        assert not missing, f"{where}: {expr!r} reads {sorted(missing)}, which no code exports"


def test_metric_check_catches_a_misspelt_or_suffixless_name() -> None:
    known = registered_metrics()
    assert "kabar_dead_letters_total" in known and "kabar_extract_seconds_bucket" in known
    assert metrics_in("rate(kabar_dead_letter_total[5m])") - known == {"kabar_dead_letter_total"}
    assert metrics_in("kabar_extract_seconds{le='1'}") - known == {"kabar_extract_seconds"}


def test_every_alert_has_a_severity_a_summary_and_a_unit_test() -> None:
    required = {"KabarSourceQuiet", "KabarSourceFailing", "KabarSourceDrifting",
                "KabarConsumerLagGrowing", "KabarDeadLettersAboveBaseline", "KabarNoArticles",
                "KabarWorkerNotReady"}
    alerts = {rule["alert"]: rule for rule in rules()}
    assert set(alerts) == required
    for rule in alerts.values():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    tests = yaml.safe_load((ROOT / "deploy/prometheus/alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]
              if case["exp_alerts"]}
    assert tested == required


def test_dashboard_shows_what_operators_ask_for() -> None:
    board = dashboard()
    assert board["uid"] == "kabar"
    exprs = " ".join(dashboard_exprs())
    for needed in ("kabar_stage_messages_total", "kabar_consumer_lag",
                   "histogram_quantile(0.95, sum by (le) (rate(kabar_discovery_to_article",
                   "kabar_published_to_emit_seconds_bucket", "kabar_extract_seconds_bucket",
                   "kabar_source_health", "sum by (stage, reason) (rate(kabar_dead_letters_total"):
        assert needed in exprs, needed
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids))


# -- promtool (Debian's prometheus package; tests/run.sh installs it) ---------------------

def promtool(*args: str) -> str:
    tool = shutil.which("promtool")
    if tool is None:
        message = "promtool is missing: `apt-get install prometheus` (tests/run.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([tool, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def test_promtool_accepts_the_alert_rules() -> None:
    assert "SUCCESS: 7 rules found" in promtool("check", "rules",
                                                 "deploy/prometheus/alerts.yml")


def test_promtool_accepts_the_prometheus_config() -> None:
    assert "is valid prometheus config file" in promtool("check", "config",
                                                         "deploy/prometheus/prometheus.yml")


def test_promtool_unit_tests_of_the_alert_rules_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "deploy/prometheus/alerts.test.yml")
