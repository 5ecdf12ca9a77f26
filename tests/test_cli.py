"""The command line as a user meets it: help that explains, errors without tracebacks and
with exit codes that say what went wrong, and `kabar extract` without any broker."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from worker.cli import EXIT_BROKER, EXIT_FAILED, EXIT_USAGE, main
from worker.newsroom import page_html

SEED_URL = "https://nasional.sindonews.example/read/1211457/kalah-lawan-azerbaijan"


def all_commands(group: click.Group = main, prefix: tuple[str, ...] = ()
                 ) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
def test_every_command_explains_itself(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 20, summary


def test_the_console_script_and_python_m_worker_are_the_same_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "worker", "--help"], capture_output=True,
                            text=True, check=True)
    assert "kabar demo --once" in result.stdout


def test_extract_prints_the_seed_article_without_a_broker(tmp_path: Path) -> None:
    page = tmp_path / "seed.html"
    page.write_bytes(page_html("sindonews_armenia.html"))
    result = CliRunner().invoke(main, ["extract", str(page), "--url", SEED_URL])
    assert result.exit_code == 0, result.output
    article = json.loads(result.stdout)
    assert article["published_at"] == "2023-10-07T08:48:00+07:00"
    assert article["dateline"] == "YEREVAN"
    assert article["language"] == "id"
    assert len(article["paragraphs"]) == len(set(article["paragraphs"])) == 16
    assert "Baca Juga" not in article["body"] and "(sya)" not in article["body"]


def test_extract_of_a_directory_writes_one_file_per_page_and_reports_failures(
    tmp_path: Path,
) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "english.html").write_bytes(page_html("english_article.html"))
    (pages / "broken.html").write_bytes(page_html("broken_page.html"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["extract", str(pages), "--out", str(out)])
    assert result.exit_code == EXIT_FAILED
    assert "broken.html: not extracted (no_article_body)" in result.stderr
    assert [p.name for p in out.iterdir()] == ["english.html".replace(".html", ".json")]
    assert json.loads((out / "english.json").read_text())["language"] == "en"


def test_extract_refuses_a_page_over_the_fetch_size_limit_naming_file_size_and_limit(
    tmp_path: Path,
) -> None:
    # the limit is fetch.max_body_bytes, the one the fetcher caps pages at (5 MB)
    page = tmp_path / "big.html"
    page.write_bytes(page_html("sindonews_armenia.html").replace(
        b"</body>", b"<!--" + b" " * 5_000_000 + b"--></body>"))
    size = page.stat().st_size
    result = CliRunner().invoke(main, ["extract", str(page), "--url", SEED_URL])
    assert result.exit_code == EXIT_FAILED
    assert f"big.html: not extracted (too_large): extract: too_large: {size:,} bytes, over " \
           "the limit of 5,000,000 (setting fetch.max_body_bytes)" in result.stderr
    raised = CliRunner().invoke(main, ["extract", str(page), "--url", SEED_URL],
                                env={"KABAR_FETCH_MAX_BODY_BYTES": str(size)})
    assert raised.exit_code == 0, raised.output
    assert json.loads(raised.stdout)["dateline"] == "YEREVAN"


def test_extract_inflates_a_gzipped_saved_page_alone_or_in_a_directory(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    page = pages / "seed.html.gz"
    page.write_bytes(gzip.compress(page_html("sindonews_armenia.html")))
    result = CliRunner().invoke(main, ["extract", str(page), "--url", SEED_URL])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dateline"] == "YEREVAN"
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["extract", str(pages), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["seed.json"]


def test_extract_reads_a_pipe_and_stops_a_device_that_never_ends_at_the_size_limit(
    tmp_path: Path,
) -> None:
    read, write = os.pipe()  # what `kabar extract <(curl …)` hands it
    os.write(write, page_html("english_article.html"))
    os.close(write)
    try:
        result = CliRunner().invoke(main, ["extract", f"/dev/fd/{read}", "--no-enrich"])
    finally:
        os.close(read)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["title"]
    result = CliRunner().invoke(main, ["extract", "/dev/zero"],
                                env={"KABAR_FETCH_MAX_BODY_BYTES": "100000"})
    assert result.exit_code == EXIT_FAILED
    assert result.stderr == ("/dev/zero: not extracted (too_large): extract: too_large: 100,001 "
                             "bytes, over the limit of 100,000 (setting fetch.max_body_bytes)\n")


def test_extract_of_a_directory_reports_files_it_cannot_read_and_goes_on(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "english.html").write_bytes(page_html("english_article.html"))
    (pages / "dangling.html").symlink_to(tmp_path / "gone.html")
    (pages / "folder.html").mkdir()  # a directory named like a page is not a page
    result = CliRunner().invoke(main, ["extract", str(pages), "--no-enrich"])
    assert result.exit_code == EXIT_FAILED
    assert result.stderr == f"{pages / 'dangling.html'}: not read: No such file or directory\n"
    assert json.loads(result.stdout)["language"] is None  # --no-enrich: the page came out


def test_extract_with_an_out_dir_it_cannot_create_is_one_line_and_a_usage_error(
    tmp_path: Path,
) -> None:
    page = tmp_path / "english.html"
    page.write_bytes(page_html("english_article.html"))
    out = page / "out"  # under a file
    result = CliRunner().invoke(main, ["extract", str(page), "--out", str(out)])
    assert result.exit_code == EXIT_USAGE
    assert result.stderr == f"kabar: --out {out}: cannot create the directory: Not a directory\n"


def test_config_shows_where_each_value_came_from() -> None:
    result = CliRunner().invoke(main, ["config", "--json"],
                                env={"KABAR_TOPIC_PREFIX": "news."})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["topic"]["prefix"] == "news."


def test_bad_config_file_is_a_usage_error_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "kabar.toml"
    config.write_text("[topic]\npartitions = 'x'\n")
    result = CliRunner().invoke(main, ["--config", str(config), "config"])
    assert result.exit_code == EXIT_USAGE
    assert "topic" in result.stderr and "Traceback" not in result.output


def test_bad_sources_file_is_reported_with_its_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "a"\nurl = "https://example.org/rss"\n'
                       '[[source]]\nname = "b"\n')
    check = CliRunner().invoke(main, ["sources", "check", str(sources)])
    assert check.exit_code == EXIT_USAGE
    assert "line 4" in check.stderr
    up = CliRunner().invoke(main, ["up", "--sources", str(sources), "--once"])
    assert up.exit_code == EXIT_USAGE and "Traceback" not in up.output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", [["tail", "articles"], ["worker"], ["fetch", "--once"]])
def test_unreachable_broker_is_exit_3_with_the_address(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.toml").write_text('[[source]]\nname="a"\nurl="https://e.org/rss"\n')
    import worker.broker

    async def quick(bootstrap: str, timeout: float) -> None:
        await original(bootstrap, 1.0)

    original = worker.broker.wait_for_kafka
    monkeypatch.setattr(worker.broker, "wait_for_kafka", quick)
    url = f"kafka://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(main, [*command, "--broker", url])
    assert result.exit_code == EXIT_BROKER, result.output
    assert url.removeprefix("kafka://") in result.stderr
    assert "Traceback" not in result.output


def test_worker_without_any_broker_says_how_to_name_one() -> None:
    result = CliRunner().invoke(main, ["worker"], env={"KABAR_BROKER": ""})
    assert result.exit_code == EXIT_USAGE
    assert "--broker" in result.stderr


@pytest.mark.broker
def test_tail_prints_json_lines_and_refuses_unknown_topics(broker_url: str) -> None:
    import asyncio
    import uuid

    from aiokafka import AIOKafkaProducer

    from worker.kafka_io import bootstrap_servers, ensure_topics

    prefix = f"t{uuid.uuid4().hex[:8]}."

    async def publish() -> None:
        await ensure_topics(broker_url, [f"{prefix}articles"], partitions=2, replication=1)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url))
        await producer.start()
        try:
            for n in range(3):
                await producer.send_and_wait(f"{prefix}articles", f'{{"n": {n}}}'.encode())
        finally:
            await producer.stop()

    asyncio.run(publish())
    env = {"KABAR_TOPIC_PREFIX": prefix, "KABAR_BROKER": broker_url}
    result = CliRunner().invoke(main, ["tail", "articles", "--from-beginning", "-n", "3"],
                                env=env)
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(line)["n"] for line in result.stdout.splitlines()) == [0, 1, 2]
    unknown = CliRunner().invoke(main, ["tail", "nosuchtopic"], env=env)
    assert unknown.exit_code == EXIT_USAGE
    assert f"unknown topic '{prefix}nosuchtopic'" in unknown.stderr


def run_up_once(stats: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> click.testing.Result:
    """`kabar up --once` whose pipeline run ends with ``stats`` (no broker, no pipeline)."""
    import worker.cli
    import worker.runner

    async def pipeline(*args: object, **kwargs: object) -> object:
        return stats

    monkeypatch.setattr(worker.runner, "run_pipeline", pipeline)
    monkeypatch.setattr(worker.cli, "_with_broker", lambda stack, settings: "kafka://unused:9")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "a"\nurl = "https://example.org/rss"\n')
    return CliRunner().invoke(main, ["up", "--sources", str(sources), "--once"])


def finished_run(**counts: int) -> object:
    from worker.metrics import PipelineStats

    stats = PipelineStats()
    for kind, n in counts.items():
        stats.counts[kind] += n
    return stats


def test_up_once_whose_pages_all_went_to_dead_letters_exits_1_naming_their_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = finished_run(feeds_polled=1, pages_fetched=3)
    for stage, reason in [("clean", "no_article_body")] * 2 + [("fetch", "http_404")]:
        stats.dead_letter(stage, reason)
    result = run_up_once(stats, tmp_path, monkeypatch)
    assert result.exit_code == EXIT_FAILED, result.output
    reason_line = [line for line in result.stderr.splitlines() if "no article" in line]
    assert reason_line == [
        "kabar: no article came out, only 3 dead letter(s): clean:no_article_body ×2, "
        "fetch:http_404 ×1 (`kabar tail deadletter --from-beginning` shows them)"]


def test_up_once_whose_polls_all_failed_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = finished_run(feeds_polled=1)
    stats.dead_letter("fetch", "http_5xx")
    assert run_up_once(stats, tmp_path, monkeypatch).exit_code == EXIT_FAILED


@pytest.mark.parametrize("fine", ["articles_out", "duplicates", "unchanged", "nothing_new"])
def test_up_once_with_dead_letters_and_anything_else_that_ended_well_exits_0(
    fine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = finished_run(feeds_polled=1, pages_fetched=2, **{fine: 1})
    stats.dead_letter("clean", "no_article_body")
    result = run_up_once(stats, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output


def test_up_once_with_nothing_to_do_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_up_once(finished_run(), tmp_path, monkeypatch).exit_code == 0
