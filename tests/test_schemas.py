"""The JSON Schemas in worker/schemas/ are the contract with consumers: these tests fail when
the records in worker/models.py and the schema files drift apart, and when a published
schema file is edited without bumping its record's schema version."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from worker.models import (
    TOPIC_RECORDS,
    Article,
    DeadLetter,
    DuplicateEvent,
    FetchHints,
    FetchRequest,
    RawPage,
    SourceHealth,
    schema_version_of,
)

SCHEMAS = resources.files("worker").joinpath("schemas")


def schema_for(suffix: str, version: int | None = None) -> dict[str, Any]:
    version = version or schema_version_of(TOPIC_RECORDS[suffix])
    return json.loads(SCHEMAS.joinpath(f"{suffix}.v{version}.json").read_text())


SAMPLES = {
    "fetch": FetchRequest(url="https://example.org/a", source="s", host="example.org",
                          requested_at="2024-01-01T00:00:00+00:00", kind="article",
                          hints=FetchHints(title="t", published_at="2024-01-01T00:00:00Z")),
    "pages": RawPage(url="https://example.org/a", final_url="https://example.org/a", status=200,
                     fetched_at="2024-01-01T00:00:00+00:00", html="<p>x</p>", charset="utf-8",
                     headers={"content-type": "text/html"}, redirects=[], source="s"),
    "articles": Article(id="abc", url="https://example.org/a", title="T", body="p1\n\np2",
                        paragraphs=["p1", "p2"], authors=["A"],
                        published_at="2024-01-01T07:00:00+07:00",
                        published_at_utc="2024-01-01T00:00:00+00:00", language="id",
                        word_count=2, tags=["x"]),
    "duplicates": DuplicateEvent(duplicate_id="b", duplicate_url="u2", original_id="a",
                                 original_url="u1", kind="exact", similarity=1.0,
                                 detected_at="2024-01-01T00:00:00+00:00"),
    "deadletter": DeadLetter(stage="clean", reason="no_article_body", message="m",
                             failed_at="2024-01-01T00:00:00+00:00", url="u", payload={"a": 1}),
    "source-health": SourceHealth(
        source="s", state="failing", reason="3 errors in a row",
        evaluated_at="2024-01-01T00:00:00+00:00", tracked_since="2023-12-01T00:00:00+00:00",
        last_poll_at="2024-01-01T00:00:00+00:00", last_poll_outcome="http_403",
        last_new_article_at=None, usual_interval_s=None, articles_per_day=0.0,
        consecutive_errors=3, errors_by_reason={"bot_wall": 3}, last_error="http_403 on u",
        pages=2, dead_letter_share=0.5, extracted_pages=1, drift_share=0.0,
        drift_by_kind={"no_body": 0, "no_date": 0, "short": 0}, drift_baseline=None,
        drift_baseline_pages=0,
        rules={"quiet_factor": 4.0, "quiet_min": 3600.0, "failing_errors": 3,
               "drift_margin": 0.25, "drift_window": 50, "drift_min_baseline": 50}),
}


@pytest.mark.parametrize("suffix", sorted(TOPIC_RECORDS))
def test_schema_lists_exactly_the_record_fields(suffix: str) -> None:
    fields = [f.name for f in dataclasses.fields(TOPIC_RECORDS[suffix])]
    schema = schema_for(suffix)
    assert sorted(schema["properties"]) == sorted(fields)
    assert sorted(schema["required"]) == sorted(fields)
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("suffix", sorted(TOPIC_RECORDS))
def test_records_serialise_to_valid_json_per_schema(suffix: str) -> None:
    record = SAMPLES[suffix]
    assert isinstance(record, TOPIC_RECORDS[suffix])
    jsonschema.validate(json.loads(record.to_json()), schema_for(suffix))


@pytest.mark.parametrize("suffix", sorted(TOPIC_RECORDS))
def test_records_round_trip_through_json(suffix: str) -> None:
    record = SAMPLES[suffix]
    assert type(record).from_json(record.to_json()) == record


def test_schema_rejects_a_wrongly_typed_field() -> None:
    data = json.loads(SAMPLES["articles"].to_json())
    data["word_count"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema_for("articles"))


def test_published_schemas_are_frozen_per_version() -> None:
    """A schema file, once published under a version, never changes: edit → bump the version
    (new file) and record its digest in schemas/DIGESTS."""
    digests = dict(
        line.split() for line in SCHEMAS.joinpath("DIGESTS").read_text().splitlines() if line
    )
    for path in SCHEMAS.iterdir():
        if path.name.endswith(".json"):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digests.get(path.name) == digest, (
                f"{path.name} changed without a SCHEMA_VERSION bump (or DIGESTS not updated)"
            )


def test_missing_required_field_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="RawPage: missing required field"):
        RawPage.from_json(b'{"url": "u"}')


def test_fetch_request_v1_records_are_still_read_as_depth_zero() -> None:
    """A request a v1 worker queued before an upgrade: valid v1, read by the v2 code."""
    v1 = {"url": "https://example.org/sitemap.xml", "source": "s", "host": "example.org",
          "requested_at": "2024-01-01T00:00:00+00:00", "kind": "sitemap",
          "hints": {"modified_at": None}, "schema_version": 1}
    jsonschema.validate(v1, schema_for("fetch", 1))
    request = FetchRequest.from_dict(v1)
    assert (request.kind, request.depth) == ("sitemap", 0)


def test_fetch_request_v2_carries_depth_that_a_v1_reader_can_drop() -> None:
    record = json.loads(FetchRequest(url="https://example.org/s.xml", source="s",
                                     host="example.org", requested_at="t", kind="sitemap",
                                     depth=2).to_json())
    assert (record["depth"], record["schema_version"]) == (2, 2)
    jsonschema.validate(record, schema_for("fetch", 2))
    # what a v1 reader keeps (FetchRequest.from_dict drops unknown fields) is valid v1
    v1_fields = set(schema_for("fetch", 1)["properties"])
    jsonschema.validate({**{k: v for k, v in record.items() if k in v1_fields},
                         "schema_version": 1}, schema_for("fetch", 1))
