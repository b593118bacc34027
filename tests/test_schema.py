"""Checks schema/flags.schema.json against the shared vectors.

Run with: python3 -m pytest -q tests/test_schema.py

Everything is loaded with parse_float=decimal.Decimal so that `multipleOf: 0.01`
is checked on exact decimals (with binary floats, 0.07 / 0.01 is not an integer).
The schema is an editor aid: `flags check` is the authoritative validator, and
the invalid-file vectors say, case by case, whether the schema can see the
problem (`schema_rejects`).
"""

import decimal
import json
import pathlib
import re

import pytest
from jsonschema import Draft202012Validator, FormatChecker

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schema" / "flags.schema.json"
VECTORS = ROOT / "tests" / "vectors"
INVALID_PATH = VECTORS / "invalid-files.json"
EXAMPLE_PATH = ROOT / "examples" / "flags.json"
DOC_PATH = ROOT / "docs" / "flag-file.md"


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def loads(text):
    """Strict JSON: exact decimals, no NaN / Infinity."""
    return json.loads(text, parse_float=decimal.Decimal, parse_constant=_reject_constant)


def load_path(path):
    return loads(path.read_text(encoding="utf-8"))


SCHEMA = load_path(SCHEMA_PATH)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())


def schema_errors(instance):
    return sorted(VALIDATOR.iter_errors(instance), key=lambda e: list(e.absolute_path))


def describe(errors):
    return "\n".join(f"  {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors)


# --------------------------------------------------------------------------- schema itself

def test_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_schema_has_no_absolute_id():
    assert "$id" not in SCHEMA or not re.match(r"^[a-z]+:", SCHEMA["$id"])


def test_date_time_format_is_checked():
    # Without rfc3339-validator the format checker silently accepts any string.
    checker = FormatChecker()
    assert "date-time" in checker.checkers
    assert not checker.conforms("2026-11-21T00:00:00", "date-time")
    assert checker.conforms("2026-11-21T00:00:00Z", "date-time")


def _walk_properties(node, path):
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                yield f"{path}.properties.{name}", sub
        for key, sub in node.items():
            yield from _walk_properties(sub, f"{path}.{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _walk_properties(sub, f"{path}[{i}]")


def _resolve(sub):
    ref = sub.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return {**SCHEMA["$defs"][ref[len("#/$defs/"):]], **sub}
    return sub


def test_every_property_has_title_and_description():
    missing = []
    for where, sub in _walk_properties(SCHEMA, "#"):
        if "if" in where.split(".") or ".not" in where:
            continue  # conditional sub-schemas only restate property constraints
        sub = _resolve(sub)
        for field in ("title", "description"):
            if not sub.get(field):
                missing.append(f"{where}: {field}")
    assert not missing, "\n".join(missing)


# --------------------------------------------------------------------------- valid files

SPEC_EXAMPLE = """
{
  "$schema": "./schema/flags.schema.json",
  "version": 1,
  "kill_all": false,
  "pilots": { "user_id": ["1", "2", "3"] },
  "flags": {
    "community_dual_write": {
      "description": "Dual-write community posts to the v2 store",
      "owner": "communities-platform",
      "killed": false,
      "requires": [
        { "attribute": "app_version", "op": "semver_gte", "value": "3.2.0" },
        { "attribute": "tenant_id", "op": "not_in", "values": ["legacy-tenant"] }
      ],
      "deny":   { "user_id": ["666"] },
      "pilots": { "user_id": ["7"], "tenant_id": ["acme"] },
      "ramp": [
        { "at": "2026-11-21T00:00:00Z", "percentage": 10 },
        { "at": "2026-11-22T00:00:00Z", "percentage": 100 }
      ],
      "bucket_by": "user_id",
      "salt": "community_dual_write",
      "variants": [ { "name": "control", "weight": 50 }, { "name": "treatment", "weight": 50 } ]
    },
    "enrollment_service": { "percentage": 12.5 }
  }
}
"""

MINIMAL = '{"version": 1, "flags": {}}'

EDGE_CASES = """
{
  "version": 1,
  "pilots": { "user_id": [], "tenant_id": ["", "José", "日本語", "🚀"] },
  "flags": {
    "empty": {},
    "zero": { "percentage": 0 },
    "all": { "percentage": 100 },
    "all.with.trailing.zeros": { "percentage": 100.00 },
    "half-written-long": { "percentage": 12.50 },
    "exponent_form": { "percentage": 1.25e1 },
    "float_trap": { "percentage": 0.07 },
    "float_trap_2": { "percentage": 99.99 },
    "smallest": { "percentage": 0.01 },
    "ramp_down_with_offsets": {
      "ramp": [
        { "at": "2026-11-21T09:00:00+09:00", "percentage": 100 },
        { "at": "2026-11-21T00:00:00.5Z", "percentage": 50.25 },
        { "at": "2026-11-20T23:00:00-05:00", "percentage": 0 }
      ]
    },
    "single_point_ramp": { "ramp": [ { "at": "2026-11-21T00:00:00Z", "percentage": 33.33 } ] },
    "variants_thirds": {
      "percentage": 100,
      "bucket_by": "tenant_id",
      "salt": "shared-salt",
      "variants": [
        { "name": "a", "weight": 33.33 },
        { "name": "b", "weight": 33.33 },
        { "name": "c", "weight": 33.34 }
      ]
    },
    "variant_with_zero_weight": {
      "percentage": 50,
      "variants": [ { "name": "off", "weight": 0 }, { "name": "on", "weight": 100 } ]
    },
    "conditions": {
      "requires": [
        { "attribute": "app_version", "op": "semver_gte", "value": "1.0.0-rc.1+build.5" },
        { "attribute": "app_version", "op": "semver_lt", "value": "10.20.30" },
        { "attribute": "country", "op": "in", "values": [] },
        { "values": ["x"], "op": "not_in", "attribute": "tenant_id" }
      ],
      "deny": { "country": ["FR", "ES"] },
      "pilots": { "user_id": ["7"] },
      "percentage": 5
    },
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA": {
      "description": "a key of exactly 128 characters",
      "owner": "",
      "killed": true
    }
  }
}
"""

INLINE_VALID = {
    "spec example": SPEC_EXAMPLE,
    "minimal": MINIMAL,
    "edge cases": EDGE_CASES,
}


def _files_in(node, where):
    """Every `file` member (object or raw text) anywhere in a vector document."""
    if isinstance(node, dict):
        for key, sub in node.items():
            if key == "file" and isinstance(sub, (dict, str)):
                yield where, sub
            else:
                yield from _files_in(sub, f"{where}.{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            label = sub.get("name") if isinstance(sub, dict) and isinstance(sub.get("name"), str) else i
            yield from _files_in(sub, f"{where}[{label}]")


def _valid_vector_files():
    return sorted(p for p in VECTORS.glob("*.json") if not p.name.startswith("invalid-"))


def _valid_instances():
    out = [pytest.param(loads(text), id=f"inline: {name}") for name, text in INLINE_VALID.items()]
    if EXAMPLE_PATH.exists():
        out.append(pytest.param(load_path(EXAMPLE_PATH), id="examples/flags.json"))
    for path in _valid_vector_files():
        doc = load_path(path)
        for where, file in _files_in(doc, path.name):
            if isinstance(file, str):
                file = loads(file)
            out.append(pytest.param(file, id=where))
    return out


@pytest.mark.parametrize("instance", _valid_instances())
def test_valid_file_is_accepted(instance):
    errors = schema_errors(instance)
    assert not errors, "schema rejects a valid file:\n" + describe(errors)


def _doc_examples():
    if not DOC_PATH.exists():
        return []
    out = []
    blocks = re.findall(r"```json\n(.*?)```", DOC_PATH.read_text(encoding="utf-8"), re.S)
    for i, block in enumerate(blocks):
        try:
            doc = loads(block)
        except ValueError:
            continue  # a fragment, not a whole file
        if isinstance(doc, dict) and "version" in doc and "flags" in doc:
            out.append(pytest.param(doc, id=f"docs/flag-file.md json block {i}"))
    return out


@pytest.mark.parametrize("instance", _doc_examples())
def test_documented_example_is_accepted(instance):
    errors = schema_errors(instance)
    assert not errors, "schema rejects an example of docs/flag-file.md:\n" + describe(errors)


def test_vector_sources_were_found():
    # The inline files always run; this only guards against a broken glob.
    assert INVALID_PATH.exists()
    assert len(_valid_instances()) >= len(INLINE_VALID)


# --------------------------------------------------------------------------- invalid files

INVALID = load_path(INVALID_PATH)
CASES = INVALID["cases"]


def case_bytes(case):
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    return case["text"].encode("utf-8")


def try_parse(case):
    """The instance Python's strict JSON parser reads from the file, or None."""
    try:
        return loads(case_bytes(case).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def test_invalid_file_document_is_well_formed():
    assert set(INVALID) == {"description", "cases"}
    assert isinstance(INVALID["description"], str) and INVALID["description"]
    assert len(CASES) >= 45
    names = [c.get("name") for c in CASES]
    assert all(isinstance(n, str) and n for n in names)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, duplicates
    multi = [c["name"] for c in CASES if len(c.get("errors", [])) >= 3]
    assert len(multi) >= 4, multi


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_invalid_case_is_well_formed(case):
    allowed = {"name", "text", "hex", "errors", "schema_rejects"}
    assert set(case) <= allowed, set(case) - allowed
    assert ("text" in case) != ("hex" in case), "exactly one of text / hex"
    if "hex" in case:
        assert re.fullmatch(r"(?:[0-9a-f]{2})*", case["hex"]), "hex must be lowercase byte pairs"
        with pytest.raises(UnicodeDecodeError):
            case_bytes(case).decode("utf-8")  # hex is only for invalid UTF-8
    else:
        assert isinstance(case["text"], str)
    assert isinstance(case["schema_rejects"], bool)

    errors = case["errors"]
    assert isinstance(errors, list) and errors, "errors must not be empty"
    raw = case_bytes(case)
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    previous = (0, 0)
    for error in errors:
        assert set(error) == {"path", "line", "column"}, error
        assert isinstance(error["path"], str) and error["path"], error
        assert type(error["line"]) is int and error["line"] >= 1, error
        assert type(error["column"]) is int and error["column"] >= 1, error
        # The position exists: at most just past the last character of its line.
        assert error["line"] <= len(lines), error
        assert error["column"] <= len(lines[error["line"] - 1]) + 1, error
        position = (error["line"], error["column"])
        assert position >= previous, "errors must be in document order"
        previous = position


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_invalid_case_against_schema(case):
    instance = try_parse(case)
    if case["schema_rejects"]:
        assert instance is not None, "schema_rejects is true but the file is not JSON Python can parse"
        assert not VALIDATOR.is_valid(instance), "the schema accepts a file it must reject"
    elif instance is not None:
        # Parseable but invisible to the schema (duplicate keys, ramp order,
        # weight sums, duplicate variant names, version 1.0): the flag says so,
        # so the schema must accept what Python reads.
        errors = schema_errors(instance)
        assert not errors, "schema_rejects is false but the schema rejects:\n" + describe(errors)
