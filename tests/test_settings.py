"""Settings: defaults < kabar.toml < KABAR_* environment < command line, with clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.settings import SettingsError, load_settings


def test_defaults_name_the_topics_with_the_kabar_prefix() -> None:
    settings = load_settings(env={})
    assert settings.topic_name("articles") == "kabar.articles"
    assert settings.store.url == "memory://"
    assert settings.fetch.allow_private_addresses is False


def test_environment_overrides_the_file_and_flags_override_both(tmp_path: Path) -> None:
    config = tmp_path / "kabar.toml"
    config.write_text('[topic]\nprefix = "file."\npartitions = 8\n[fetch]\nper_host_delay = 3\n')
    settings = load_settings(
        config,
        env={"KABAR_TOPIC_PREFIX": "env.", "KABAR_FETCH_ALLOW_PRIVATE_ADDRESSES": "1",
             "KABAR_BROKER": "kafka://127.0.0.1:9092"},
        overrides={"topic.partitions": 2, "broker.url": None},
    )
    assert settings.topic.prefix == "env."
    assert settings.topic.partitions == 2
    assert settings.fetch.per_host_delay == 3.0
    assert settings.fetch.allow_private_addresses is True
    assert settings.broker.url == "kafka://127.0.0.1:9092"
    assert settings.origin["topic.prefix"] == "env KABAR_TOPIC_PREFIX"
    assert settings.origin["topic.partitions"] == "command line"
    assert settings.origin["fetch.per_host_delay"] == str(config)


def test_list_settings_read_comma_separated_environment_values() -> None:
    settings = load_settings(env={"KABAR_FETCH_TRACKING_PARAMS": "utm_*, fbclid"})
    assert settings.fetch.tracking_params == ["utm_*", "fbclid"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[topic]\npartitions = 'many'\n", "topic.partitions: expected an integer"),
        ("[nope]\nx = 1\n", "unknown section [nope]"),
        ("[topic]\nnope = 1\n", "unknown setting topic.nope"),
        ("[topic\n", "invalid TOML"),
        ("prefix = 'x'\n", "must be a [section]"),
    ],
)
def test_bad_config_files_are_reported_with_the_file_and_setting(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "kabar.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError, match=re.escape(message)) as info:
        load_settings(config, env={})
    assert str(config) in str(info.value)


def test_bad_boolean_in_the_environment_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="KABAR_FETCH_VERIFY_TLS"):
        load_settings(env={"KABAR_FETCH_VERIFY_TLS": "perhaps"})


def test_unrelated_kabar_variables_are_ignored() -> None:
    assert load_settings(env={"KABAR_TEST_BROKER": "tansu"}).broker.url == ""


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_a_number_setting_that_is_not_finite_names_the_variable(value: str) -> None:
    # nan passed the "at least 0" check, and an infinite delay or timeout never ends
    with pytest.raises(SettingsError, match=re.escape(
            "KABAR_FETCH_PER_HOST_DELAY: fetch.per_host_delay: expected a finite number")):
        load_settings(env={"KABAR_FETCH_PER_HOST_DELAY": value})
