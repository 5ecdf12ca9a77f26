"""Bad arguments and settings as a new user types them: each one is a usage error (exit 2)
that names the bad value, never a traceback, and error text reaches the terminal whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from worker.cli import EXIT_USAGE, main


def assert_usage_error(result: Result, *expected: str) -> None:
    assert result.exit_code == EXIT_USAGE, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    for text in expected:
        assert text in result.stderr, result.stderr


def test_error_messages_keep_their_square_brackets(tmp_path: Path) -> None:
    config = tmp_path / "kabar.toml"
    config.write_text("broker = 1\n")
    result = CliRunner().invoke(main, ["--config", str(config), "config"])
    assert_usage_error(result, "must be a [section]")


def test_file_names_and_problems_keep_their_square_brackets(tmp_path: Path) -> None:
    page = tmp_path / "page[1].html"
    page.write_text("<html><body><p>too short</p></body></html>")
    extract = CliRunner().invoke(main, ["extract", str(page)])
    assert "page[1].html: not extracted" in extract.stderr
    sources = tmp_path / "sources[old].toml"
    sources.write_text("source = 1\n")
    check = CliRunner().invoke(main, ["sources", "check", str(sources)])
    assert_usage_error(check, "sources[old].toml", "[[source]]")


@pytest.mark.parametrize("command", [["worker"], ["tail", "articles"], ["sources", "status"],
                                     ["fetch", "--once"], ["up", "--once"]])
@pytest.mark.parametrize("url", ["notaurl", "http://broker.example", "kafka://h:port"])
def test_a_broker_address_without_a_port_is_a_usage_error(command: list[str], url: str) -> None:
    result = CliRunner().invoke(main, [*command, "--broker", url])
    assert_usage_error(result, "broker.url", "host:port")


def test_a_bad_broker_in_the_environment_names_the_variable() -> None:
    result = CliRunner().invoke(main, ["config"], env={"KABAR_BROKER": "localhost"})
    assert_usage_error(result, "KABAR_BROKER", "'localhost'")


@pytest.mark.parametrize("url", ["http://[::1", "notaurl", "ftp://example.org/a"])
def test_extract_with_a_url_that_cannot_be_a_page_is_a_usage_error(
    tmp_path: Path, url: str
) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>one paragraph of text</p></body></html>")
    result = CliRunner().invoke(main, ["extract", str(page), "--url", url])
    assert result.exit_code == EXIT_USAGE, (result.output, result.exception)
    assert "is not an absolute http(s) URL" in result.stderr


@pytest.mark.parametrize("arguments", [
    ["tail", "articles", "-n", "-5"], ["tail", "articles", "-n", "0"],
    ["search", "db.sqlite", "-n", "0"], ["up", "--once", "--timeout", "-1"],
    ["demo", "--once", "--timeout", "0"], ["sources", "status", "--timeout", "-3"],
    ["sink", "db.sqlite", "--idle-exit", "-1"], ["demo", "--once", "--timeout", "nan"],
    ["up", "--once", "--timeout", "nan"], ["sink", "db.sqlite", "--idle-exit", "nan"],
])
def test_counts_and_time_limits_below_one_are_refused_before_any_work(arguments: list[str]
                                                                       ) -> None:
    result = CliRunner().invoke(main, [*arguments, "--broker", "kafka://127.0.0.1:1"]
                                if arguments[0] not in ("search",) else arguments)
    assert result.exit_code == EXIT_USAGE, (result.output, result.exception)
    assert "Invalid value" in result.stderr


def test_sources_check_names_the_file_once_per_problem(tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    result = CliRunner().invoke(main, ["sources", "check", str(missing)])
    assert_usage_error(result, f"{missing}: file does not exist")
    assert result.stderr.count(str(missing)) == 1, result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[[source]\n")
    result = CliRunner().invoke(main, ["sources", "check", str(broken)])
    assert_usage_error(result, f"{broken}: invalid TOML")


@pytest.mark.parametrize(("variable", "value", "least"), [
    ("KABAR_TOPIC_PARTITIONS", "0", "1"), ("KABAR_FETCH_PER_HOST_DELAY", "-1", "0"),
    ("KABAR_BROKER_FLUSH_BATCH", "0", "1"), ("KABAR_DEDUPE_RETENTION_DAYS", "-14", "0"),
])
def test_a_setting_out_of_range_is_a_usage_error_naming_the_variable(
    variable: str, value: str, least: str
) -> None:
    result = CliRunner().invoke(main, ["config"], env={variable: value})
    assert_usage_error(result, variable, f"must be at least {least}")


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("KABAR_BROKER_PROCESSING_GUARANTEE", "bogus", "at_least_once, exactly_once"),
    ("KABAR_BROKER_KIND", "redpanda", "kafka, tansu"),
    ("KABAR_STORE_URL", "bogus://", "memory, rocksdb://"),
])
def test_a_setting_outside_its_choices_is_a_usage_error_naming_them(
    variable: str, value: str, expected: str
) -> None:
    result = CliRunner().invoke(main, ["config"], env={variable: value})
    assert_usage_error(result, variable, f"must be one of {expected}")


@pytest.mark.parametrize("command", [["up", "--once"], ["worker"], ["demo", "--once"]])
def test_a_rocksdb_store_without_its_package_says_which_extra_to_install(
    command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.toml").write_text('[[source]]\nname="a"\nurl="https://e.org/rss"\n')
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "rocksdict" else real(name, *a))
    result = CliRunner().invoke(main, [*command, "--broker", "kafka://127.0.0.1:1"],
                                env={"KABAR_STORE_URL": "rocksdb://"})
    assert_usage_error(result, "KABAR_STORE_URL", ".[rocksdb]")


def test_up_without_a_sources_file_says_what_to_do_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # a fresh clone has no sources.toml
    result = CliRunner().invoke(main, ["up", "--once"])
    assert_usage_error(result, "sources file sources.toml does not exist (pass --sources FILE",
                       "`kabar demo` runs without one")
    assert result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("command", [["up", "--once"], ["worker", "--broker", "kafka://h:9"]])
@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot read routing rules: No such file or directory"),
    (b"[[route]\n", "not valid TOML"),
    (b"\x80\x81 binary", "routing rules are not UTF-8 text"),
])
def test_a_routing_file_that_cannot_be_used_is_a_usage_error_before_any_broker(
    command: list[str], content: bytes | None, expected: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.toml").write_text('[[source]]\nname="a"\nurl="https://e.org/rss"\n')
    routes = tmp_path / "routes.toml"
    if content is not None:
        routes.write_bytes(content)
    result = CliRunner().invoke(main, [*command, "--routes", str(routes)])
    assert_usage_error(result, f"kabar: {routes}: ", expected)
    assert "broker" not in result.stderr  # refused before starting or reaching one


@pytest.mark.parametrize(("how", "expected"), [
    ("env", "cannot read: Is a directory"), ("binary", "not UTF-8 text"),
])
def test_a_config_file_that_cannot_be_read_is_a_usage_error(
    how: str, expected: str, tmp_path: Path
) -> None:
    if how == "env":  # KABAR_CONFIG is not checked by click as --config is
        result = CliRunner().invoke(main, ["config"], env={"KABAR_CONFIG": str(tmp_path)})
    else:
        config = tmp_path / "kabar.toml"
        config.write_bytes(b"\x80\x81 binary")
        result = CliRunner().invoke(main, ["--config", str(config), "config"])
    assert_usage_error(result, "config file", expected)


@pytest.mark.parametrize(("command", "env", "setting"), [
    (["worker"], {"KABAR_WEB_METRICS_PORT": "{port}"}, "web.metrics_port"),
    (["worker"], {"KABAR_WEB_ENABLED": "1", "KABAR_WEB_PORT": "{port}"}, "web.port"),
    (["up", "--once"], {"KABAR_WEB_METRICS_PORT": "{port}"}, "web.metrics_port"),
    (["fetch"], {"KABAR_WEBSUB_ENABLED": "1", "KABAR_WEBSUB_PORT": "{port}"}, "websub.port"),
    (["fetch", "--once"], {"KABAR_WEB_METRICS_PORT": "{port}"}, "web.metrics_port"),
])
def test_a_port_another_process_holds_is_a_usage_error_naming_its_setting(
    command: list[str], env: dict[str, str], setting: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.toml").write_text('[[source]]\nname="a"\nurl="https://e.org/rss"\n')
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(
            main, [*command, "--broker", "kafka://127.0.0.1:1"],
            env={k: v.format(port=port) for k, v in env.items()})
    assert_usage_error(result, f"kabar: {setting}: cannot listen on 127.0.0.1:{port}: "
                       "Address already in use")
    assert "no Kafka broker" not in result.stderr  # refused before reaching for one
