#!/usr/bin/env python3
"""Generate the golden evaluation vectors in tests/vectors/.

Every case below states by hand what the answer must be: the reason (and so
`enabled`), and the variant or bucket wherever they can be known without
running the algorithm. Rollout cases state the effective percentage in basis
points, worked out by hand (for ramps, from the interpolation formula), and
the expected decision follows from it and the bucket. The generator computes
each result with the independent reference implementation
(tests/reference/flags_ref.py), fails loudly if it disagrees with the hand
statement, and writes the complete result, including `bucket` and `variant`.

Boundary cases need ids with a given bucket ("an id whose bucket is exactly
5499"); those ids are found by scanning `user-0`, `user-1`, ... with the
reference hash, and the expectation is still stated by hand.

Usage:
  python3 tests/gen_vectors.py          write the files
  python3 tests/gen_vectors.py --check  exit 1 if the files on disk differ

Files named invalid-*.json in tests/vectors are not generated here and are
left alone.

One file of about 1,450 lines on purpose: it is mostly data (every case with
its expectation stated by hand), in the order of the vector files it writes.
"""

from __future__ import annotations

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "reference"))

import flags_ref as ref  # noqa: E402

OUT_DIR = HERE / "vectors"
NOW = "2026-11-21T12:00:00Z"
ON_REASONS = {ref.PILOT, ref.ROLLOUT_IN}
ROLLOUT_REASONS = {ref.ROLLOUT_IN, ref.ROLLOUT_OUT}
UNSET = object()
# A migration flag's case whose stage a cross-case check states (by its reason).
UNSET_STAGE = object()


class GenError(Exception):
    pass


def fail(msg: str) -> None:
    raise GenError(msg)


class Rollout:
    """Hand statement for a case decided in step 7.

    `bp` is the flag's effective percentage at `now` in basis points, worked
    out by hand. `v_present` says whether the context has the bucket_by
    attribute. The expected reason then follows from the spec:
    bp >= 10000 -> ROLLOUT_IN; bp == 0 -> ROLLOUT_OUT; v absent ->
    MISSING_BUCKET_KEY; bucket < bp -> ROLLOUT_IN; else ROLLOUT_OUT.
    """

    def __init__(self, bp: int, v_present: bool = True):
        self.bp = bp
        self.v_present = v_present


# ---------------------------------------------------------------------------
# Finding ids with a given bucket (for boundary cases)
# ---------------------------------------------------------------------------


class IdFinder:
    """First `user-N` (N = 0, 1, ...) whose bucket or variant bucket is a target."""

    LIMIT = 400_000

    def __init__(self):
        self._seen: dict[tuple[str, str], dict[int, str]] = {}
        self._next: dict[tuple[str, str], int] = {}

    def _find(self, salt: str, kind: str, target: int) -> str:
        key = (salt, kind)
        seen = self._seen.setdefault(key, {})
        n = self._next.get(key, 0)
        hasher = ref.bucket_of if kind == "bucket" else ref.variant_bucket_of
        while target not in seen:
            if n >= self.LIMIT:
                fail(f"no id with {kind} {target} for salt {salt!r}")
            uid = f"user-{n}"
            seen.setdefault(hasher(salt, uid), uid)
            n += 1
        self._next[key] = n
        return seen[target]

    def bucket(self, salt: str, target: int) -> str:
        return self._find(salt, "bucket", target)

    def vb(self, salt: str, target: int) -> str:
        return self._find(salt, "variant", target)


FIND = IdFinder()


def spread_ids(n: int) -> list[str]:
    """A deterministic mix of id shapes: numeric strings, e-mails, UUID-like."""
    ids = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            ids.append(str(1000 + i * 7919))
        elif kind == 1:
            ids.append(f"member{i:03d}@example.com")
        else:
            ids.append(f"{i * 2654435761 % 2**32:08x}-7d2c-4f3a-9b1e-{i * 40503:012x}")
    return ids


# ---------------------------------------------------------------------------
# A vector file
# ---------------------------------------------------------------------------


class Vectors:
    def __init__(self, filename: str, description: str, file_obj: dict):
        self.filename = filename
        self.description = description
        self.file_obj = file_obj
        self.specs: list[dict] = []
        self.checks = []
        self.results: dict[str, dict] = {}

    def case(self, name, flag, context, reason, *, now=NOW, variant=UNSET, bucket=UNSET):
        if any(s["name"] == name for s in self.specs):
            fail(f"{self.filename}: duplicate case name {name!r}")
        self.specs.append(
            dict(name=name, flag=flag, context=context, now=now, reason=reason,
                 variant=variant, bucket=bucket)
        )
        return name

    def check(self, fn):
        """Register a cross-case check; fn(results_by_name) raises on failure."""
        self.checks.append(fn)
        return fn

    def same_result(self, a: str, b: str) -> None:
        def fn(r):
            if r[a] != r[b]:
                fail(f"{self.filename}: {a!r} and {b!r} differ: {r[a]} vs {r[b]}")
        self.check(fn)

    def same_bucket(self, a: str, b: str) -> None:
        def fn(r):
            if r[a]["bucket"] is None or r[a]["bucket"] != r[b]["bucket"]:
                fail(f"{self.filename}: buckets of {a!r} and {b!r} differ")
        self.check(fn)

    # -- building ----------------------------------------------------------

    def build(self) -> str:
        doc = {
            "description": self.description,
            "file": self.file_obj,
            "cases": [
                {
                    "name": s["name"],
                    "flag": s["flag"],
                    "context": s["context"],
                    "now": s["now"],
                    "expected": None,
                }
                for s in self.specs
            ],
        }
        # Evaluate from the serialized text, exactly as a consumer will read it.
        parsed = ref.parse_json(json.dumps(doc, ensure_ascii=False))
        try:
            ff = ref.load_file_obj(parsed["file"])
        except ValueError as e:
            fail(f"{self.filename}: flag file not usable: {e}")
        for spec, out_case, in_case in zip(self.specs, doc["cases"], parsed["cases"]):
            ref.parse_rfc3339_ms(spec["now"])  # must be a valid time
            result = ref.evaluate_json(ff, in_case["flag"], in_case["context"], in_case["now"])
            self._verify(ff, spec, result)
            out_case["expected"] = result
            self.results[spec["name"]] = result
        for fn in self.checks:
            fn(self.results)
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    def _verify(self, ff, spec, r) -> None:
        where = f"{self.filename}: case {spec['name']!r}"
        # Rules that hold for every result.
        if r["reason"] not in ref.REASONS:
            fail(f"{where}: unknown reason {r['reason']}")
        if r["enabled"] != (r["reason"] in ON_REASONS):
            fail(f"{where}: enabled does not match reason")
        if r["bucket"] is not None and r["reason"] not in ROLLOUT_REASONS:
            fail(f"{where}: bucket reported outside the rollout step")
        flag = ff.flags.get(spec["flag"])
        if flag is not None and flag.migration is not None:
            # A migration flag's variant is its stage, on or off, and every
            # case states the stage by hand.
            if r["variant"] not in ref.STAGE_SETS[flag.migration.stages]:
                fail(f"{where}: variant {r['variant']!r} is not a stage of the flag")
            if spec["variant"] is UNSET:
                fail(f"{where}: a migration flag's case must state its stage (variant=)")
            if spec["variant"] is UNSET_STAGE:
                spec = dict(spec, variant=UNSET)
        else:
            if r["variant"] is not None and not r["enabled"]:
                fail(f"{where}: variant on a disabled result")
            has_variants = flag is not None and bool(flag.variants)
            if r["enabled"] and has_variants != (r["variant"] is not None):
                fail(f"{where}: variant presence does not match the flag")
        # The hand statement.
        want = spec["reason"]
        if isinstance(want, Rollout):
            if want.v_present != (r["bucket"] is not None):
                fail(f"{where}: bucket presence {r['bucket']!r} vs v_present={want.v_present}")
            if want.bp >= 10_000:
                expect = ref.ROLLOUT_IN
            elif want.bp == 0:
                expect = ref.ROLLOUT_OUT
            elif not want.v_present:
                expect = ref.MISSING_BUCKET_KEY
            elif r["bucket"] < want.bp:
                expect = ref.ROLLOUT_IN
            else:
                expect = ref.ROLLOUT_OUT
            if r["reason"] != expect:
                fail(f"{where}: reason {r['reason']}, expected {expect} "
                     f"(p={want.bp}bp, bucket={r['bucket']})")
        elif r["reason"] != want:
            fail(f"{where}: reason {r['reason']}, expected {want}")
        if spec["variant"] is not UNSET and r["variant"] != spec["variant"]:
            fail(f"{where}: variant {r['variant']!r}, expected {spec['variant']!r}")
        if spec["bucket"] is not UNSET and r["bucket"] != spec["bucket"]:
            fail(f"{where}: bucket {r['bucket']!r}, expected {spec['bucket']!r}")


def fraction_on(results: dict, names) -> float:
    names = list(names)
    return sum(results[n]["enabled"] for n in names) / len(names)


# ---------------------------------------------------------------------------
# reasons.json
# ---------------------------------------------------------------------------


def build_reasons() -> Vectors:
    long_key = "flag." + "a" * 123  # 128 characters, the maximum
    assert len(long_key) == 128
    vf = Vectors(
        "reasons.json",
        "Every reason except KILL_ALL (see kill_all.json), and the order of the "
        "evaluation steps: killed before requires before deny before pilots before rollout.",
        {
            "$schema": "../../schema/flags.schema.json",
            "version": 1,
            "kill_all": False,
            "flags": {
                "community_dual_write": {
                    "description": "Dual-write community posts to the v2 store",
                    "owner": "communities-platform",
                    "killed": False,
                    "requires": [
                        {"attribute": "app_version", "op": "semver_gte", "value": "3.2.0"},
                        {"attribute": "tenant_id", "op": "not_in", "values": ["legacy-tenant"]},
                    ],
                    "deny": {"user_id": ["666"]},
                    "pilots": {"user_id": ["7"], "tenant_id": ["acme"]},
                    "ramp": [
                        {"at": "2026-11-21T00:00:00Z", "percentage": 10},
                        {"at": "2026-11-22T00:00:00Z", "percentage": 100},
                    ],
                    "bucket_by": "user_id",
                    "salt": "community_dual_write",
                    "variants": [
                        {"name": "control", "weight": 50},
                        {"name": "treatment", "weight": 50},
                    ],
                },
                "enrollment_service": {"percentage": 12.5},
                "killed_flag": {
                    "description": "Killed: off for everyone, pilots included",
                    "killed": True,
                    "pilots": {"user_id": ["7"]},
                    "percentage": 100,
                },
                "not_killed": {"killed": False, "percentage": 100},
                "denied_flag": {
                    "deny": {"user_id": ["666"], "tenant_id": ["banned-co"]},
                    "pilots": {"user_id": ["666", "7"]},
                    "percentage": 100,
                },
                "pilot_only": {"pilots": {"user_id": ["7"], "tenant_id": ["acme"]}},
                "no_percentage": {"owner": "platform"},
                "zero": {"percentage": 0},
                "full": {"percentage": 100},
                "half": {"percentage": 50},
                "checkout.v2-beta_flag": {"percentage": 100},
                long_key: {"percentage": 100},
            },
        },
    )
    c = vf.case
    halfp = FIND.bucket("half", 4999)
    halfo = FIND.bucket("half", 5000)

    # FLAG_NOT_FOUND
    for name, key in [
        ("unknown flag", "does_not_exist"),
        ("flag keys are case-sensitive", "Enrollment_Service"),
        ("no trimming of flag keys", "enrollment_service "),
        ("empty flag key", ""),
        ("dashes are not underscores", "community-dual-write"),
        ("non-ASCII flag key", "función"),
        ("129-character key", long_key + "a"),
    ]:
        c(f"FLAG_NOT_FOUND: {name}", key, {"user_id": "42"}, ref.FLAG_NOT_FOUND)
    c("FLAG_NOT_FOUND with an empty context", "nope", {}, ref.FLAG_NOT_FOUND)

    # KILLED
    c("KILLED: ordinary user", "killed_flag", {"user_id": "1"}, ref.KILLED)
    c("KILLED beats a flag pilot", "killed_flag", {"user_id": "7"}, ref.KILLED)
    c("KILLED with an empty context", "killed_flag", {}, ref.KILLED)
    c("killed false is not killed", "not_killed", {"user_id": "1"}, Rollout(10_000))

    # REQUIREMENT_UNMET (community_dual_write requires app_version >= 3.2.0)
    c("REQUIREMENT_UNMET: old app", "community_dual_write",
      {"user_id": "100", "app_version": "3.1.0", "tenant_id": "globex"}, ref.REQUIREMENT_UNMET)
    c("REQUIREMENT_UNMET: app_version absent", "community_dual_write",
      {"user_id": "100", "tenant_id": "globex"}, ref.REQUIREMENT_UNMET)
    c("REQUIREMENT_UNMET: tenant_id absent fails not_in", "community_dual_write",
      {"user_id": "100", "app_version": "3.2.0"}, ref.REQUIREMENT_UNMET)
    c("REQUIREMENT_UNMET: legacy tenant", "community_dual_write",
      {"user_id": "100", "app_version": "3.2.0", "tenant_id": "legacy-tenant"},
      ref.REQUIREMENT_UNMET)
    c("requirements beat pilots", "community_dual_write",
      {"user_id": "7", "app_version": "3.1.9", "tenant_id": "acme"}, ref.REQUIREMENT_UNMET)
    c("requirements beat deny", "community_dual_write",
      {"user_id": "666", "app_version": "2.0.0", "tenant_id": "globex"}, ref.REQUIREMENT_UNMET)
    c("REQUIREMENT_UNMET with an empty context", "community_dual_write", {},
      ref.REQUIREMENT_UNMET)

    # DENIED
    c("DENIED by user_id", "community_dual_write",
      {"user_id": "666", "app_version": "3.2.0", "tenant_id": "globex"}, ref.DENIED)
    c("deny beats a pilot on the same attribute", "denied_flag", {"user_id": "666"}, ref.DENIED)
    c("deny on tenant beats a user pilot", "denied_flag",
      {"user_id": "7", "tenant_id": "banned-co"}, ref.DENIED)
    c("deny by tenant without user_id", "denied_flag", {"tenant_id": "banned-co"}, ref.DENIED)
    c("deny beats the pilot tenant of the flag", "community_dual_write",
      {"user_id": "666", "app_version": "3.2.0", "tenant_id": "acme"}, ref.DENIED)
    c("not denied: other tenant", "denied_flag", {"user_id": "8", "tenant_id": "other-co"},
      Rollout(10_000))

    # PILOT
    c("PILOT by user_id at 0%", "pilot_only", {"user_id": "7"}, ref.PILOT)
    c("PILOT by tenant_id at 0%", "pilot_only", {"user_id": "8", "tenant_id": "acme"}, ref.PILOT)
    c("PILOT by tenant_id without user_id", "pilot_only", {"tenant_id": "acme"}, ref.PILOT)
    c("not a pilot: 0% is off", "pilot_only", {"user_id": "8", "tenant_id": "globex"}, Rollout(0))
    c("PILOT by user 7 before the ramp starts",
      "community_dual_write",
      {"user_id": "7", "app_version": "3.2.0", "tenant_id": "globex"}, ref.PILOT,
      now="2026-11-01T00:00:00Z")
    c("PILOT by tenant acme without user_id gets the first variant", "community_dual_write",
      {"app_version": "4.0.0", "tenant_id": "acme"}, ref.PILOT, variant="control")
    c("PILOT via the second listed attribute", "denied_flag", {"user_id": "7"}, ref.PILOT)

    # Rollout outcomes and the p == 0 / v absent order
    c("no percentage and no ramp means 0%", "no_percentage", {"user_id": "42"}, Rollout(0))
    c("0% with v absent is ROLLOUT_OUT, not MISSING_BUCKET_KEY", "no_percentage", {},
      Rollout(0, v_present=False))
    c("percentage 0", "zero", {"user_id": "42"}, Rollout(0))
    c("percentage 0, v absent", "zero", {"tenant_id": "acme"}, Rollout(0, v_present=False))
    c("percentage 100", "full", {"user_id": "42"}, Rollout(10_000))
    c("100% with v absent is ROLLOUT_IN, bucket null", "full", {}, Rollout(10_000, False))
    c("MISSING_BUCKET_KEY: empty context", "half", {}, Rollout(5000, v_present=False))
    c("MISSING_BUCKET_KEY: only other attributes", "half", {"tenant_id": "acme"},
      Rollout(5000, v_present=False))
    c("MISSING_BUCKET_KEY: user_id null", "half", {"user_id": None},
      Rollout(5000, v_present=False))
    c("ROLLOUT_IN: bucket 4999 at 50%", "half", {"user_id": halfp}, Rollout(5000), bucket=4999)
    c("ROLLOUT_OUT: bucket 5000 at 50%", "half", {"user_id": halfo}, Rollout(5000), bucket=5000)
    c("flag key with dots and dashes", "checkout.v2-beta_flag", {"user_id": "42"},
      Rollout(10_000))
    c("128-character flag key", long_key, {"user_id": "42"}, Rollout(10_000))
    for uid in ["42", "1", "2", "3", "100", "1000"]:
        c(f"enrollment_service 12.5% user {uid}", "enrollment_service", {"user_id": uid},
          Rollout(1250))

    # community_dual_write through its ramp (10% at 00:00Z -> 100% at 24:00Z)
    ctx = {"app_version": "3.2.0", "tenant_id": "globex"}
    in_12 = FIND.bucket("community_dual_write", 5499)
    out_12 = FIND.bucket("community_dual_write", 5500)
    c("community_dual_write before the ramp", "community_dual_write",
      {"user_id": "42", **ctx}, Rollout(0), now="2026-11-20T23:59:59Z")
    c("community_dual_write mid-ramp, bucket 5499 of 5500", "community_dual_write",
      {"user_id": in_12, **ctx}, Rollout(5500), bucket=5499)
    c("community_dual_write mid-ramp, bucket 5500 of 5500", "community_dual_write",
      {"user_id": out_12, **ctx}, Rollout(5500), bucket=5500)
    c("community_dual_write mid-ramp, no user_id", "community_dual_write", ctx,
      Rollout(5500, v_present=False))
    c("community_dual_write after the ramp", "community_dual_write",
      {"user_id": "42", **ctx}, Rollout(10_000), now="2026-12-01T00:00:00Z")
    return vf


# ---------------------------------------------------------------------------
# kill_all.json
# ---------------------------------------------------------------------------


def build_kill_all() -> Vectors:
    vf = Vectors(
        "kill_all.json",
        "kill_all: true turns every flag off with KILL_ALL, before any other step, "
        "even for flags that are not in the file; a migration flag answers its safe stage.",
        {
            "version": 1,
            "kill_all": True,
            "pilots": {"user_id": ["1"]},
            "flags": {
                "full": {"percentage": 100},
                "killed": {"killed": True, "percentage": 100},
                "piloted": {"pilots": {"user_id": ["7"]}, "percentage": 100},
                "denied": {"deny": {"user_id": ["666"]}, "percentage": 100},
                "gated": {
                    "requires": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
                    "percentage": 100,
                },
                "variants": {
                    "percentage": 100,
                    "variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}],
                },
                "migration_default_safe": {
                    "migration": {"stages": 6, "stage": "live", "next": "complete"},
                    "percentage": 100,
                },
                "migration_safe_shadow": {
                    "migration": {"stages": 4, "stage": "shadow", "next": "live",
                                  "safe": "shadow"},
                    "pilots": {"user_id": ["7"]},
                    "percentage": 100,
                },
            },
        },
    )
    # A migration flag's answer is its `safe` stage (off unless set).
    for flag, ctx, stage, why in [
        ("migration_default_safe", {"user_id": "42"}, "off", "safe defaults to off"),
        ("migration_safe_shadow", {"user_id": "42"}, "shadow", "safe shadow"),
        ("migration_safe_shadow", {"user_id": "7"}, "shadow", "safe shadow beats a pilot"),
        ("migration_safe_shadow", {}, "shadow", "safe shadow, empty context"),
    ]:
        vf.case(f"KILL_ALL: migration flag, {why}", flag, ctx, ref.KILL_ALL, variant=stage,
                bucket=None)
    for flag, ctx, why in [
        ("full", {"user_id": "42"}, "100% flag"),
        ("full", {}, "empty context"),
        ("killed", {"user_id": "42"}, "killed flag"),
        ("piloted", {"user_id": "7"}, "flag pilot"),
        ("full", {"user_id": "1"}, "global pilot"),
        ("denied", {"user_id": "666"}, "denied user"),
        ("gated", {"user_id": "42"}, "requirement unmet"),
        ("gated", {"user_id": "42", "plan": "pro"}, "requirement met"),
        ("variants", {"user_id": "42"}, "flag with variants: variant null"),
        ("no_such_flag", {"user_id": "42"}, "unknown flag"),
        ("", {}, "empty flag key"),
    ]:
        vf.case(f"KILL_ALL: {why}", flag, ctx, ref.KILL_ALL, variant=None, bucket=None)
    return vf


# ---------------------------------------------------------------------------
# pilots.json
# ---------------------------------------------------------------------------


def build_pilots() -> Vectors:
    vf = Vectors(
        "pilots.json",
        "Top-level (global) pilots apply to every flag; flag pilots on a non-bucket "
        "attribute; deny, requires and killed all beat pilots; pilots beat 0%.",
        {
            "version": 1,
            "pilots": {"user_id": ["1", "2", "3", "42"], "tenant_id": ["beta-co"]},
            "flags": {
                "dark": {"description": "0%: only pilots"},
                "dark_deny": {"deny": {"user_id": ["2"], "tenant_id": ["beta-co"]}},
                "dark_requires": {
                    "requires": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
                },
                "dark_killed": {"killed": True},
                "tenant_pilot": {"pilots": {"tenant_id": ["acme", "initech"]}, "percentage": 0},
                "half": {"percentage": 50},
                "by_tenant": {"bucket_by": "tenant_id", "percentage": 0},
                "pilot_variants": {
                    "pilots": {"tenant_id": ["acme"]},
                    "percentage": 0,
                    "variants": [
                        {"name": "blue", "weight": 30},
                        {"name": "green", "weight": 70},
                    ],
                },
            },
        },
    )
    c = vf.case
    for uid in ["1", "2", "3", "42"]:
        c(f"global pilot user {uid} on a 0% flag", "dark", {"user_id": uid}, ref.PILOT)
    c("global pilot given as integer 42", "dark", {"user_id": 42}, ref.PILOT)
    vf.same_result("global pilot user 42 on a 0% flag", "global pilot given as integer 42")
    c("global pilot by tenant", "dark", {"user_id": "9001", "tenant_id": "beta-co"}, ref.PILOT)
    c("global pilot by tenant, no user_id", "dark", {"tenant_id": "beta-co"}, ref.PILOT)
    for uid, why in [("4", "not listed"), ("01", "leading zero differs"),
                     (" 1", "no trimming"), ("42.0", "not the same string")]:
        c(f"not a global pilot: {why}", "dark", {"user_id": uid}, Rollout(0))
    c("not a pilot: empty context", "dark", {}, Rollout(0, v_present=False))
    c("flag deny beats a global user pilot", "dark_deny", {"user_id": "2"}, ref.DENIED)
    c("flag deny on tenant beats a global tenant pilot", "dark_deny",
      {"user_id": "9", "tenant_id": "beta-co"}, ref.DENIED)
    c("other global pilots pass dark_deny", "dark_deny", {"user_id": "3"}, ref.PILOT)
    c("requires beat a global pilot", "dark_requires", {"user_id": "1"}, ref.REQUIREMENT_UNMET)
    c("global pilot with requirement met", "dark_requires", {"user_id": "1", "plan": "pro"},
      ref.PILOT)
    c("killed beats a global pilot", "dark_killed", {"user_id": "1"}, ref.KILLED)
    c("flag pilot on tenant_id, any user", "tenant_pilot",
      {"user_id": "5551", "tenant_id": "acme"}, ref.PILOT)
    c("flag pilot on tenant_id, second tenant", "tenant_pilot",
      {"user_id": "5552", "tenant_id": "initech"}, ref.PILOT)
    c("flag pilot on tenant_id, no user_id", "tenant_pilot", {"tenant_id": "initech"}, ref.PILOT)
    c("tenant not piloted", "tenant_pilot", {"user_id": "5551", "tenant_id": "globex"}, Rollout(0))
    c("tenant names are case-sensitive", "tenant_pilot",
      {"user_id": "5551", "tenant_id": "ACME"}, Rollout(0))
    c("global pilot also applies to tenant_pilot", "tenant_pilot", {"user_id": "3"}, ref.PILOT)
    c("global pilot on a 50% flag: bucket null", "half",
      {"user_id": "1"}, ref.PILOT, bucket=None)
    for uid in ["4", "5", "6", "7", "8"]:
        c(f"non-pilot {uid} on the 50% flag", "half", {"user_id": uid}, Rollout(5000))
    c("global pilot on a tenant-bucketed flag: bucket null", "by_tenant",
      {"user_id": "2", "tenant_id": "globex"}, ref.PILOT, bucket=None)
    c("tenant-bucketed 0% flag, not a pilot", "by_tenant",
      {"user_id": "9", "tenant_id": "globex"}, Rollout(0))
    c("flag pilot with variants, no user_id: first variant", "pilot_variants",
      {"tenant_id": "acme"}, ref.PILOT, variant="blue")
    blue = FIND.vb("pilot_variants", 2999)
    green = FIND.vb("pilot_variants", 3000)
    c("tenant pilot with variants, user variant bucket 2999 -> blue", "pilot_variants",
      {"user_id": blue, "tenant_id": "acme"}, ref.PILOT, variant="blue")
    c("tenant pilot with variants, user variant bucket 3000 -> green", "pilot_variants",
      {"user_id": green, "tenant_id": "acme"}, ref.PILOT, variant="green")
    return vf


# ---------------------------------------------------------------------------
# targeting.json
# ---------------------------------------------------------------------------


def build_targeting() -> Vectors:
    def flag(*conds, **extra):
        return {"requires": list(conds), "percentage": 100, **extra}

    def cond(attr, op, x):
        key = "values" if op in ("in", "not_in") else "value"
        return {"attribute": attr, "op": op, key: x}

    vf = Vectors(
        "targeting.json",
        "requires conditions: in, not_in, semver_gte, semver_lt (SemVer 2.0 precedence, "
        "pre-release, build metadata, invalid context versions), absent attributes fail "
        "every op, several conditions must all hold.",
        {
            "version": 1,
            "flags": {
                "min_version": flag(cond("app_version", "semver_gte", "3.2.0")),
                "below_4": flag(cond("app_version", "semver_lt", "4.0.0")),
                "window": flag(
                    cond("app_version", "semver_gte", "3.2.0"),
                    cond("app_version", "semver_lt", "4.0.0"),
                ),
                "rc_gate": flag(cond("app_version", "semver_gte", "1.0.0-rc.1")),
                "rc10_gate": flag(cond("app_version", "semver_gte", "1.0.0-rc.10")),
                "beta2_gte": flag(cond("app_version", "semver_gte", "1.0.0-beta.2")),
                "beta2_lt": flag(cond("app_version", "semver_lt", "1.0.0-beta.2")),
                "lt_build": flag(cond("app_version", "semver_lt", "2.0.0+build.7")),
                "country_in": flag(cond("country", "in", ["FR", "DE", "日本"])),
                "not_legacy": flag(cond("tenant_id", "not_in", ["legacy-tenant", "old-co"])),
                "beta_opt_in": flag(cond("beta", "in", ["true"])),
                "combined": flag(
                    cond("country", "in", ["FR"]),
                    cond("tenant_id", "not_in", ["legacy-tenant"]),
                    cond("app_version", "semver_gte", "2.0.0"),
                    pilots={"user_id": ["7"]},
                    percentage=0,
                ),
            },
        },
    )
    c = vf.case
    met = Rollout(10_000)
    unmet = ref.REQUIREMENT_UNMET

    def ver(flag_key, version, ok, why):
        ctx = {"user_id": "42"} if version is UNSET else {"user_id": "42", "app_version": version}
        c(f"{flag_key} {'passes' if ok else 'fails'}: {why}", flag_key, ctx, met if ok else unmet)

    # semver_gte 3.2.0
    for v, ok, why in [
        ("3.2.0", True, "equal"),
        ("3.2.1", True, "higher patch"),
        ("3.10.0", True, "minor 10 > 2 numerically"),
        ("10.0.0", True, "major 10 > 3 numerically"),
        ("3.2.0+build.1", True, "build metadata ignored"),
        ("3.2.0+001", True, "build identifiers may have leading zeros"),
        ("3.3.0-rc.1", True, "pre-release of a higher version"),
        ("4.0.0-alpha", True, "pre-release of 4.0.0"),
        ("3.1.9", False, "lower"),
        ("2.99.99", False, "lower major"),
        ("0.0.0", False, "zero"),
        ("3.2.0-rc.1", False, "pre-release is below the release"),
        ("3.2.0-0", False, "numeric pre-release is below the release"),
        ("3.2.0-rc.1+build.9", False, "pre-release with build metadata"),
        ("3.2", False, "invalid: two components"),
        ("3", False, "invalid: one component"),
        ("v3.2.0", False, "invalid: leading v"),
        ("03.2.0", False, "invalid: leading zero in major"),
        ("3.02.0", False, "invalid: leading zero in minor"),
        ("3.2.00", False, "invalid: leading zero in patch"),
        ("3.2.0.1", False, "invalid: four components"),
        ("", False, "invalid: empty string"),
        (" 3.2.0", False, "invalid: leading space"),
        ("3.2.0 ", False, "invalid: trailing space"),
        ("3.2.0\n", False, "invalid: trailing newline"),
        ("3.2.0-", False, "invalid: empty pre-release"),
        ("3.2.0+", False, "invalid: empty build"),
        ("3.2.1-01", False, "invalid: leading zero in numeric pre-release"),
        ("3.2.1-rc..1", False, "invalid: empty pre-release identifier"),
        ("3.2.1+build..1", False, "invalid: empty build identifier"),
        ("3.2.1-rc_1", False, "invalid: underscore"),
        ("=3.2.0", False, "invalid: operator prefix"),
        ("3.2.x", False, "invalid: wildcard"),
        ("３.2.0", False, "invalid: full-width digit"),
        ("-3.2.0", False, "invalid: negative"),
        (UNSET, False, "app_version absent"),
    ]:
        ver("min_version", v, ok, why if v is UNSET else f"{why} ({v!r})")
    c("min_version fails: app_version null", "min_version",
      {"user_id": "42", "app_version": None}, unmet)
    c("min_version fails: integer app_version 3 is '3'", "min_version",
      {"user_id": "42", "app_version": 3}, unmet)

    # semver_lt 4.0.0
    for v, ok, why in [
        ("3.99.99", True, "lower"),
        ("4.0.0-rc.1", True, "pre-release of 4.0.0 is lower"),
        ("4.0.0-0", True, "lowest pre-release"),
        ("0.1.0", True, "much lower"),
        ("4.0.0", False, "equal"),
        ("4.0.0+meta", False, "equal once build metadata is ignored"),
        ("4.0.1", False, "higher"),
        ("40.0.0", False, "40 > 4 numerically"),
        ("v3.0.0", False, "invalid version fails semver_lt too"),
        ("3.0", False, "invalid: two components"),
        (UNSET, False, "app_version absent"),
    ]:
        ver("below_4", v, ok, why if v is UNSET else f"{why} ({v!r})")

    # a window: >= 3.2.0 and < 4.0.0
    for v, ok, why in [
        ("3.2.0", True, "lower edge"),
        ("3.9.9", True, "inside"),
        ("4.0.0-beta", True, "pre-release of the upper edge"),
        ("3.1.0", False, "below"),
        ("4.0.0", False, "upper edge excluded"),
    ]:
        ver("window", v, ok, f"{why} ({v!r})")

    # pre-release precedence, from the SemVer 2.0.0 specification's example chain:
    # 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
    #   < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
    chain = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
             "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]
    for i, v in enumerate(chain):
        ver("beta2_gte", v, i >= 4, f"chain position {i} ({v!r})")
        ver("beta2_lt", v, i < 4, f"chain position {i} ({v!r})")

    for v, ok, why in [
        ("1.0.0-rc.1", True, "equal"),
        ("1.0.0-rc.2", True, "higher numeric identifier"),
        ("1.0.0-rc.1.0", True, "more identifiers rank higher when the rest are equal"),
        ("1.0.0-rc.a", True, "alphanumeric ranks above numeric"),
        ("1.0.0-rc.1-x", True, "'1-x' is alphanumeric, above numeric 1"),
        ("1.0.0-rc-1", True, "'rc-1' sorts after 'rc' in ASCII"),
        ("1.0.0", True, "release above its pre-releases"),
        ("1.0.0+exp.sha.5114f85", True, "release with build metadata"),
        ("1.0.0-rc", False, "fewer identifiers rank lower"),
        ("1.0.0-rc.0", False, "lower numeric identifier"),
        ("1.0.0-RC.2", False, "upper case sorts before lower case in ASCII"),
        ("1.0.0-beta.11", False, "beta < rc"),
        ("0.9.9", False, "lower release"),
    ]:
        ver("rc_gate", v, ok, f"{why} ({v!r})")

    for v, ok, why in [
        ("1.0.0-rc.9", False, "numeric 9 < 10 (a string compare would say otherwise)"),
        ("1.0.0-rc.10", True, "equal"),
        ("1.0.0-rc.11", True, "numeric 11 > 10"),
        ("1.0.0-rc.100", True, "numeric 100 > 10"),
    ]:
        ver("rc10_gate", v, ok, f"{why} ({v!r})")

    for v, ok, why in [
        ("1.9.9", True, "lower"),
        ("2.0.0-rc.1", True, "pre-release is lower"),
        ("2.0.0", False, "equal: the condition's build metadata is ignored"),
        ("2.0.0+build.8", False, "equal: both build metadata ignored"),
        ("2.0.0+build.6", False, "equal: build metadata never orders"),
    ]:
        ver("lt_build", v, ok, f"{why} ({v!r})")

    # in
    for country, ok, why in [
        ("FR", True, "listed"), ("DE", True, "listed"), ("日本", True, "listed non-ASCII"),
        ("fr", False, "case-sensitive"), ("US", False, "not listed"),
        ("", False, "empty string not listed"), ("FR ", False, "no trimming"),
    ]:
        c(f"country_in {'passes' if ok else 'fails'}: {why} ({country!r})", "country_in",
          {"user_id": "42", "country": country}, met if ok else unmet)
    c("country_in fails: country absent", "country_in", {"user_id": "42"}, unmet)
    c("country_in fails: country null", "country_in", {"user_id": "42", "country": None}, unmet)
    c("country_in passes without user_id: 100%, bucket null", "country_in", {"country": "DE"},
      Rollout(10_000, v_present=False))

    # not_in
    for tenant, ok, why in [
        ("acme", True, "not listed"), ("Legacy-Tenant", True, "case-sensitive"),
        ("", True, "empty string is present and not listed"),
        ("legacy-tenant", False, "listed"), ("old-co", False, "listed"),
    ]:
        c(f"not_legacy {'passes' if ok else 'fails'}: {why} ({tenant!r})", "not_legacy",
          {"user_id": "42", "tenant_id": tenant}, met if ok else unmet)
    c("not_legacy fails: tenant_id absent (fail closed)", "not_legacy", {"user_id": "42"}, unmet)
    c("not_legacy fails: tenant_id null (absent)", "not_legacy",
      {"user_id": "42", "tenant_id": None}, unmet)
    c("not_legacy fails: empty context", "not_legacy", {}, unmet)

    # booleans match their string form
    c("beta_opt_in passes: boolean true is 'true'", "beta_opt_in",
      {"user_id": "42", "beta": True}, met)
    c("beta_opt_in passes: string 'true'", "beta_opt_in", {"user_id": "42", "beta": "true"}, met)
    vf.same_result("beta_opt_in passes: boolean true is 'true'",
                   "beta_opt_in passes: string 'true'")
    c("beta_opt_in fails: boolean false", "beta_opt_in", {"user_id": "42", "beta": False}, unmet)
    c("beta_opt_in fails: 'True' is not 'true'", "beta_opt_in",
      {"user_id": "42", "beta": "True"}, unmet)
    c("beta_opt_in fails: integer 1 is '1'", "beta_opt_in", {"user_id": "42", "beta": 1}, unmet)

    # all conditions must hold; pilots only after requires
    good = {"country": "FR", "tenant_id": "acme", "app_version": "2.0.0"}
    c("combined: all hold, not a pilot, 0%", "combined", {"user_id": "8", **good}, Rollout(0))
    c("combined: all hold, pilot", "combined", {"user_id": "7", **good}, ref.PILOT)
    for attr, bad in [("country", "DE"), ("tenant_id", "legacy-tenant"),
                      ("app_version", "1.9.0")]:
        c(f"combined: pilot but {attr}={bad!r} fails", "combined",
          {"user_id": "7", **good, attr: bad}, unmet)
        ctx = {"user_id": "7", **good}
        del ctx[attr]
        c(f"combined: pilot but {attr} absent", "combined", ctx, unmet)
    return vf


# ---------------------------------------------------------------------------
# rollout.json
# ---------------------------------------------------------------------------


def build_rollout() -> Vectors:
    vf = Vectors(
        "rollout.json",
        "Percentage rollout: 0, 0.01, 12.5, 50, 99.99 and 100 percent; exact bucket "
        "boundaries (bucket < p is in); a spread of ids over a 50% flag.",
        {
            "version": 1,
            "flags": {
                "p0": {"percentage": 0},
                "p0_01": {"percentage": 0.01},
                "enrollment_service": {"percentage": 12.5},
                "p50": {"percentage": 50},
                "p99_99": {"percentage": 99.99},
                "p100": {"percentage": 100},
                "p33_33": {"percentage": 33.33},
            },
        },
    )
    c = vf.case
    # exact boundaries
    for flag, bp, targets in [
        ("p0_01", 1, [0, 1, 2, 9999]),
        ("enrollment_service", 1250, [0, 1249, 1250, 9999]),
        ("p50", 5000, [0, 4999, 5000, 9999]),
        ("p99_99", 9999, [0, 9998, 9999]),
        ("p33_33", 3333, [3332, 3333]),
        ("p0", 0, [0, 9999]),
        ("p100", 10_000, [0, 9999]),
    ]:
        for t in targets:
            c(f"{flag}: bucket {t}", flag, {"user_id": FIND.bucket(flag, t)}, Rollout(bp),
              bucket=t)
    # v absent at each percentage
    for flag, bp in [("p0", 0), ("p0_01", 1), ("enrollment_service", 1250), ("p50", 5000),
                     ("p99_99", 9999), ("p100", 10_000)]:
        c(f"{flag}: user_id absent", flag, {"tenant_id": "acme"}, Rollout(bp, v_present=False))
    # a few plain ids at every percentage
    for uid in ["1", "42", "1000", "alice", "bob"]:
        for flag, bp in [("p0", 0), ("p0_01", 1), ("enrollment_service", 1250),
                         ("p99_99", 9999), ("p100", 10_000)]:
            c(f"{flag}: user {uid}", flag, {"user_id": uid}, Rollout(bp))
    # a spread of 150 ids over the 50% flag
    spread = []
    for uid in spread_ids(150):
        spread.append(c(f"p50 spread: {uid}", "p50", {"user_id": uid}, Rollout(5000)))
    spread12 = []
    for uid in spread_ids(60):
        spread12.append(c(f"enrollment_service spread: {uid}", "enrollment_service",
                          {"user_id": uid}, Rollout(1250)))

    @vf.check
    def _(r):
        f50 = fraction_on(r, spread)
        f12 = fraction_on(r, spread12)
        if not 0.38 <= f50 <= 0.62:
            fail(f"rollout.json: {f50:.2f} of the 50% spread is on")
        if not 0.03 <= f12 <= 0.25:
            fail(f"rollout.json: {f12:.2f} of the 12.5% spread is on")
        if len({r[n]["bucket"] for n in spread}) < 140:
            fail("rollout.json: buckets of the spread barely vary")
    return vf


# ---------------------------------------------------------------------------
# ramps.json
# ---------------------------------------------------------------------------


def build_ramps() -> Vectors:
    vf = Vectors(
        "ramps.json",
        "Ramps: before the first point (0), exactly at a point, between points "
        "(integer interpolation with floor toward negative infinity), after the last "
        "point; ramps up and down; single-point ramps; offsets other than Z; "
        "fractional and sub-millisecond seconds; a paused ramp (`paused_at`: evaluated at "
        "min(now, paused_at)); a `guard`, which evaluation ignores.",
        {
            "version": 1,
            "flags": {
                # 10% at 00:00Z -> 100% 24 h later
                "ramp_up": {"ramp": [
                    {"at": "2026-11-21T00:00:00Z", "percentage": 10},
                    {"at": "2026-11-22T00:00:00Z", "percentage": 100},
                ]},
                # 100% at 00:00Z -> 0% at 10:00Z
                "ramp_down": {"ramp": [
                    {"at": "2026-11-21T00:00:00Z", "percentage": 100},
                    {"at": "2026-11-21T10:00:00Z", "percentage": 0},
                ]},
                "ramp_steps": {"ramp": [
                    {"at": "2026-11-01T00:00:00Z", "percentage": 1},
                    {"at": "2026-11-10T00:00:00Z", "percentage": 5},
                    {"at": "2026-11-20T00:00:00Z", "percentage": 5},
                    {"at": "2026-11-25T00:00:00Z", "percentage": 50},
                    {"at": "2026-12-01T00:00:00Z", "percentage": 25},
                ]},
                # one point at 10:00Z written as 12:00+02:00
                "ramp_single": {"ramp": [
                    {"at": "2026-11-21T12:00:00+02:00", "percentage": 37.5},
                ]},
                # 0% at 00:00:00Z -> 100% at 00:00:10Z, written in two other offsets;
                # the second point's local wall-clock reading is earlier than the first's.
                "ramp_offsets": {"ramp": [
                    {"at": "2026-11-21T05:30:00+05:30", "percentage": 0},
                    {"at": "2026-11-20T19:00:10-05:00", "percentage": 100},
                ]},
                # 50.01% at 00:00:00.0009Z (= ...00.000 after the floor) -> 50% 3 ms later
                "ramp_tiny_down": {"ramp": [
                    {"at": "2026-11-21T00:00:00.0009Z", "percentage": 50.01},
                    {"at": "2026-11-21T00:00:00.003Z", "percentage": 50},
                ]},
                "ramp_tiny_up": {"ramp": [
                    {"at": "2026-11-21T00:00:00Z", "percentage": 50},
                    {"at": "2026-11-21T00:00:00.003Z", "percentage": 50.01},
                ]},
                "ramp_decimals": {"ramp": [
                    {"at": "2026-11-21T00:00:00.250Z", "percentage": 0.01},
                    {"at": "2026-11-21T00:00:01.250Z", "percentage": 99.99},
                ]},
                # starts before the unix epoch
                "ramp_historic": {"ramp": [
                    {"at": "1969-07-20T20:17:40Z", "percentage": 0},
                    {"at": "2026-11-21T00:00:00Z", "percentage": 20},
                ]},
                # ramp_up paused at 06:00Z (written as 07:00+01:00): frozen at 32.5%
                "ramp_paused": {
                    "ramp": [
                        {"at": "2026-11-21T00:00:00Z", "percentage": 10},
                        {"at": "2026-11-22T00:00:00Z", "percentage": 100},
                    ],
                    "paused_at": "2026-11-21T07:00:00+01:00",
                },
                # paused before its first point: stays at 0%
                "ramp_paused_early": {
                    "ramp": [{"at": "2026-11-21T00:00:00Z", "percentage": 50}],
                    "paused_at": "2026-11-20T00:00:00Z",
                },
                # a guard changes nothing in evaluation
                "ramp_guarded": {
                    "ramp": [
                        {"at": "2026-11-21T00:00:00Z", "percentage": 10},
                        {"at": "2026-11-22T00:00:00Z", "percentage": 100},
                    ],
                    "guard": {
                        "query": "sum(rate(errors_total[1m]))",
                        "above": 0.05,
                        "for": "2m",
                        "action": "pause",
                    },
                },
            },
        },
    )
    c = vf.case

    def pair(flag, label, now, bp, salt=None):
        """Two ids straddling bp: bucket bp-1 (in) and bucket bp (out)."""
        salt = salt or flag
        if 0 < bp < 10_000:
            c(f"{flag} {label}: p={bp}, bucket {bp - 1} in", flag,
              {"user_id": FIND.bucket(salt, bp - 1)}, Rollout(bp), now=now, bucket=bp - 1)
            c(f"{flag} {label}: p={bp}, bucket {bp} out", flag,
              {"user_id": FIND.bucket(salt, bp)}, Rollout(bp), now=now, bucket=bp)
        else:
            c(f"{flag} {label}: p={bp}", flag, {"user_id": "42"}, Rollout(bp), now=now)

    # ramp_up: p(t) = 1000 + floor(9000 * (t - t0) / 86_400_000)
    pair("ramp_up", "1 ms before the first point", "2026-11-20T23:59:59.999Z", 0)
    c("ramp_up before the first point, no user_id", "ramp_up", {}, Rollout(0, False),
      now="2026-11-20T23:59:59.999Z")
    pair("ramp_up", "exactly at the first point", "2026-11-21T00:00:00Z", 1000)
    pair("ramp_up", "first point written as +01:00", "2026-11-21T01:00:00+01:00", 1000)
    pair("ramp_up", "1 ms in: floor(9000*1/86400000)=0", "2026-11-21T00:00:00.001Z", 1000)
    pair("ramp_up", "9599 ms in: floor(0.99989)=0", "2026-11-21T00:00:09.599Z", 1000)
    pair("ramp_up", "9600 ms in: exactly +1", "2026-11-21T00:00:09.600Z", 1001)
    pair("ramp_up", "a quarter in", "2026-11-21T06:00:00Z", 3250)
    pair("ramp_up", "half way", "2026-11-21T12:00:00Z", 5500)
    pair("ramp_up", "half way written as -08:00", "2026-11-21T04:00:00-08:00", 5500)
    pair("ramp_up", "1 ms before the last point", "2026-11-21T23:59:59.999Z", 9999)
    pair("ramp_up", "exactly at the last point", "2026-11-22T00:00:00Z", 10_000)
    pair("ramp_up", "long after the last point", "2027-06-01T00:00:00Z", 10_000)
    c("ramp_up half way, no user_id", "ramp_up", {"tenant_id": "acme"},
      Rollout(5500, v_present=False))
    c("ramp_up at the last point, no user_id: 100% needs no bucket", "ramp_up", {},
      Rollout(10_000, v_present=False), now="2026-11-22T00:00:00Z")

    # ramp_down: p(t) = 10000 + floor(-10000 * (t - t0) / 36_000_000)
    pair("ramp_down", "before the first point", "2026-11-20T23:00:00Z", 0)
    pair("ramp_down", "exactly at the first point", "2026-11-21T00:00:00Z", 10_000)
    pair("ramp_down", "1 ms in: floor(-0.00028)=-1", "2026-11-21T00:00:00.001Z", 9999)
    pair("ramp_down", "3600 ms in: exactly -1", "2026-11-21T00:00:03.600Z", 9999)
    pair("ramp_down", "3601 ms in: floor(-1.00028)=-2", "2026-11-21T00:00:03.601Z", 9998)
    pair("ramp_down", "half way", "2026-11-21T05:00:00Z", 5000)
    pair("ramp_down", "1 ms before the last point: floor(-9999.9997)=-10000",
         "2026-11-21T09:59:59.999Z", 0)
    pair("ramp_down", "3600 ms before the last point: exactly -9999",
         "2026-11-21T09:59:56.400Z", 1)
    pair("ramp_down", "3601 ms before the last point: floor(-9998.9997)=-9999",
         "2026-11-21T09:59:56.399Z", 1)
    pair("ramp_down", "exactly at the last point", "2026-11-21T10:00:00Z", 0)
    pair("ramp_down", "after the last point", "2026-11-22T00:00:00Z", 0)
    c("ramp_down at the last point, no user_id: 0% is ROLLOUT_OUT", "ramp_down", {},
      Rollout(0, v_present=False), now="2026-11-21T10:00:00Z")

    # ramp_steps: 1% (11-01) -> 5% (11-10) -> 5% (11-20) -> 50% (11-25) -> 25% (12-01)
    pair("ramp_steps", "before the first point", "2026-10-31T23:59:59Z", 0)
    pair("ramp_steps", "at the first point", "2026-11-01T00:00:00Z", 100)
    pair("ramp_steps", "half way up the first segment: 100+floor(400*4.5/9)",
         "2026-11-05T12:00:00Z", 300)
    pair("ramp_steps", "at the second point", "2026-11-10T00:00:00Z", 500)
    pair("ramp_steps", "on the flat segment", "2026-11-15T00:00:00Z", 500)
    pair("ramp_steps", "at the third point", "2026-11-20T00:00:00Z", 500)
    pair("ramp_steps", "half way up: 500+floor(4500*2.5/5)", "2026-11-22T12:00:00Z", 2750)
    pair("ramp_steps", "at the peak", "2026-11-25T00:00:00Z", 5000)
    pair("ramp_steps", "half way down: 5000+floor(-2500*3/6)", "2026-11-28T00:00:00Z", 3750)
    pair("ramp_steps", "5/6 down: 5000+floor(-2083.33)=2916", "2026-11-30T00:00:00Z", 2916)
    pair("ramp_steps", "at the last point", "2026-12-01T00:00:00Z", 2500)
    pair("ramp_steps", "after the last point", "2027-01-01T00:00:00Z", 2500)

    # ramp_single: one point, 37.5% at 10:00Z
    pair("ramp_single", "1 ms before its only point", "2026-11-21T09:59:59.999Z", 0)
    pair("ramp_single", "at its point (Z)", "2026-11-21T10:00:00Z", 3750)
    pair("ramp_single", "at its point (+02:00)", "2026-11-21T12:00:00+02:00", 3750)
    pair("ramp_single", "at its point (-05:00)", "2026-11-21T05:00:00-05:00", 3750)
    pair("ramp_single", "after its point", "2026-12-25T00:00:00Z", 3750)

    # ramp_offsets: 0 -> 10000 over 10 s from 00:00:00Z
    pair("ramp_offsets", "before the first point", "2026-11-20T23:59:59.999Z", 0)
    pair("ramp_offsets", "at the first point", "2026-11-21T00:00:00Z", 0)
    pair("ramp_offsets", "2.5 s in", "2026-11-21T00:00:02.500Z", 2500)
    pair("ramp_offsets", "2.5 s in, sub-millisecond digits dropped",
         "2026-11-21T00:00:02.5004999Z", 2500)
    pair("ramp_offsets", "2.501 s in", "2026-11-21T00:00:02.501Z", 2501)
    pair("ramp_offsets", "2.5 s in, written as +05:30", "2026-11-21T05:30:02.5+05:30", 2500)
    pair("ramp_offsets", "at the last point", "2026-11-21T00:00:10Z", 10_000)

    # ramp_tiny_down: 5001 at t0 (= 00:00:00.000Z) -> 5000 at t0 + 3 ms
    pair("ramp_tiny_down", "at t0: the point's sub-ms fraction is floored",
         "2026-11-21T00:00:00Z", 5001)
    pair("ramp_tiny_down", "t0+1ms: 5001+floor(-1/3)=5000", "2026-11-21T00:00:00.001Z", 5000)
    pair("ramp_tiny_down", "t0+2ms: 5001+floor(-2/3)=5000", "2026-11-21T00:00:00.002Z", 5000)
    pair("ramp_tiny_down", "t0+3ms: last point", "2026-11-21T00:00:00.003Z", 5000)
    pair("ramp_tiny_down", "0.0001 ms before t0 floors to 1 ms before",
         "2026-11-20T23:59:59.9999Z", 0)

    # ramp_tiny_up: 5000 -> 5001 over 3 ms
    pair("ramp_tiny_up", "t0+1ms: 5000+floor(1/3)=5000", "2026-11-21T00:00:00.001Z", 5000)
    pair("ramp_tiny_up", "t0+2ms: 5000+floor(2/3)=5000", "2026-11-21T00:00:00.002Z", 5000)
    pair("ramp_tiny_up", "t0+2.9999ms is still t0+2ms", "2026-11-21T00:00:00.0029999Z", 5000)
    pair("ramp_tiny_up", "t0+3ms: last point", "2026-11-21T00:00:00.003Z", 5001)

    # ramp_decimals: 1 bp at .250 s -> 9999 bp at 1.250 s (1000 ms)
    pair("ramp_decimals", "at the first point", "2026-11-21T00:00:00.25Z", 1)
    pair("ramp_decimals", "1 ms in: 1+floor(9998/1000)=10", "2026-11-21T00:00:00.251Z", 10)
    pair("ramp_decimals", "half way: 1+4999", "2026-11-21T00:00:00.750Z", 5000)
    pair("ramp_decimals", "at the last point", "2026-11-21T00:00:01.250Z", 9999)

    # ramp_historic: 0% in 1969 -> 20% at 2026-11-21; span 1_795_219_200_000 + 14_182_940_000 ms
    span = ref.parse_rfc3339_ms("2026-11-21T00:00:00Z") - ref.parse_rfc3339_ms(
        "1969-07-20T20:17:40Z")
    assert span == 1_795_219_200_000 + 14_182_940_000
    pair("ramp_historic", "unix epoch: floor(2000*14182940000/span)", "1970-01-01T00:00:00Z",
         (2000 * 14_182_940_000) // span)
    pair("ramp_historic", "at the last point", "2026-11-21T00:00:00Z", 2000)

    # ramp_paused: ramp_up's schedule up to 06:00Z, then 1000 + 9000/4 = 3250 for ever
    pair("ramp_paused", "before the pause, as ramp_up: a twelfth in",
         "2026-11-21T02:00:00Z", 1750, salt="ramp_paused")
    pair("ramp_paused", "1 ms before the pause", "2026-11-21T05:59:59.999Z", 3249)
    pair("ramp_paused", "at the pause", "2026-11-21T06:00:00Z", 3250)
    pair("ramp_paused", "half way (ramp_up would be at 5500)", "2026-11-21T12:00:00Z", 3250)
    pair("ramp_paused", "after the last point (ramp_up would be at 100%)",
         "2027-01-01T00:00:00Z", 3250)
    # ramp_paused_early: paused a day before its only point
    pair("ramp_paused_early", "after its only point", "2026-11-21T12:00:00Z", 0)
    # ramp_guarded: the same as ramp_up (its own salt)
    pair("ramp_guarded", "half way, guard ignored", "2026-11-21T12:00:00Z", 5500)
    return vf


# ---------------------------------------------------------------------------
# variants.json
# ---------------------------------------------------------------------------


def build_variants() -> Vectors:
    def vs(*pairs):
        return [{"name": n, "weight": w} for n, w in pairs]

    vf = Vectors(
        "variants.json",
        "Variants: picked by the variant hash when on and v is present; the first variant "
        "when v is absent (even with weight 0); null when off; pilots get variants too.",
        {
            "version": 1,
            "flags": {
                "ab": {"percentage": 100, "variants": vs(("control", 50), ("treatment", 50))},
                "abc": {"percentage": 100,
                        "variants": vs(("a", 33.33), ("b", 33.33), ("c", 33.34))},
                "zero_first": {"percentage": 100, "variants": vs(("off_arm", 0), ("on_arm", 100))},
                "zeros_mixed": {"percentage": 100,
                                "variants": vs(("a", 0), ("b", 50), ("c", 0), ("d", 50))},
                "tiny_first": {"percentage": 100,
                               "variants": vs(("w", 0.01), ("x", 24.99), ("y", 25), ("z", 50))},
                "single": {"percentage": 100, "variants": vs(("only", 100))},
                "half_ab": {"percentage": 50, "variants": vs(("control", 50), ("treatment", 50))},
                "pilot_ab": {
                    "pilots": {"user_id": ["p-1"], "tenant_id": ["acme"]},
                    "deny": {"user_id": ["666"]},
                    "variants": vs(("control", 50), ("treatment", 50)),
                },
                "killed_ab": {"killed": True, "percentage": 100,
                              "variants": vs(("control", 50), ("treatment", 50))},
                "tenant_ab": {"percentage": 100, "bucket_by": "tenant_id",
                              "variants": vs(("control", 50), ("treatment", 50))},
                "ab_shared": {"percentage": 100, "salt": "ab",
                              "variants": vs(("left", 50), ("right", 50))},
                "no_variants": {"percentage": 100},
            },
        },
    )
    c = vf.case
    full = Rollout(10_000)

    def at_vb(flag, vb, variant, salt=None, extra=None):
        uid = FIND.vb(salt or flag, vb)
        c(f"{flag}: variant bucket {vb} -> {variant}", flag, {"user_id": uid, **(extra or {})},
          full, variant=variant)

    for vb, v in [(0, "control"), (4999, "control"), (5000, "treatment"), (9999, "treatment")]:
        at_vb("ab", vb, v)
    for vb, v in [(0, "a"), (3332, "a"), (3333, "b"), (6665, "b"), (6666, "c"), (9999, "c")]:
        at_vb("abc", vb, v)
    for vb in [0, 5000, 9999]:
        at_vb("zero_first", vb, "on_arm")
    for vb, v in [(0, "b"), (4999, "b"), (5000, "d"), (9999, "d")]:
        at_vb("zeros_mixed", vb, v)
    for vb, v in [(0, "w"), (1, "x"), (2499, "x"), (2500, "y"), (4999, "y"), (5000, "z"),
                  (9999, "z")]:
        at_vb("tiny_first", vb, v)
    at_vb("single", 1234, "only")
    # shared salt, different variant lists: same variant bucket, position-wise same pick
    at_vb("ab_shared", 4999, "left", salt="ab")
    at_vb("ab_shared", 5000, "right", salt="ab")

    # v absent -> first variant, even with weight 0
    for flag, first in [("ab", "control"), ("abc", "a"), ("zero_first", "off_arm"),
                        ("zeros_mixed", "a"), ("tiny_first", "w"), ("single", "only")]:
        c(f"{flag}: user_id absent -> first variant {first}", flag, {"tenant_id": "acme"},
          Rollout(10_000, v_present=False), variant=first)
    c("zero_first: user_id null -> first variant off_arm", "zero_first", {"user_id": None},
      Rollout(10_000, v_present=False), variant="off_arm")
    c("no_variants: variant null when on", "no_variants", {"user_id": "42"}, full, variant=None)

    # off -> null
    out_id = FIND.bucket("half_ab", 5000)
    in_id = FIND.bucket("half_ab", 4999)
    c("half_ab: rollout out -> variant null", "half_ab", {"user_id": out_id}, Rollout(5000),
      variant=None)
    c("half_ab: rollout in -> a variant", "half_ab", {"user_id": in_id}, Rollout(5000))
    c("half_ab: missing bucket key -> variant null", "half_ab", {}, Rollout(5000, False),
      variant=None)
    c("killed_ab: killed -> variant null", "killed_ab", {"user_id": "42"}, ref.KILLED,
      variant=None)
    c("pilot_ab: denied -> variant null", "pilot_ab", {"user_id": "666", "tenant_id": "acme"},
      ref.DENIED, variant=None)
    c("pilot_ab: not a pilot at 0% -> variant null", "pilot_ab", {"user_id": "42"}, Rollout(0),
      variant=None)

    # pilots get variants
    c("pilot_ab: tenant pilot without user_id -> first variant", "pilot_ab",
      {"tenant_id": "acme"}, ref.PILOT, variant="control")
    c("pilot_ab: user pilot p-1 -> variant by its variant bucket", "pilot_ab",
      {"user_id": "p-1"}, ref.PILOT)
    c("pilot_ab: tenant pilot, user variant bucket 4999 -> control", "pilot_ab",
      {"user_id": FIND.vb("pilot_ab", 4999), "tenant_id": "acme"}, ref.PILOT, variant="control")
    c("pilot_ab: tenant pilot, user variant bucket 5000 -> treatment", "pilot_ab",
      {"user_id": FIND.vb("pilot_ab", 5000), "tenant_id": "acme"}, ref.PILOT,
      variant="treatment")

    # bucket_by tenant: the variant follows the tenant, not the user
    tenant_cases = []
    for user in ["1", "2", "3", "4"]:
        tenant_cases.append(c(f"tenant_ab: tenant acme, user {user}", "tenant_ab",
                              {"user_id": user, "tenant_id": "acme"}, full))
    c("tenant_ab: tenant absent -> first variant", "tenant_ab", {"user_id": "1"},
      Rollout(10_000, v_present=False), variant="control")
    for a, b in zip(tenant_cases, tenant_cases[1:]):
        vf.same_result(a, b)

    # a spread over the 50/50 and the three-way split
    spread_ab = [c(f"ab spread: {u}", "ab", {"user_id": u}, full) for u in spread_ids(60)]
    spread_abc = [c(f"abc spread: {u}", "abc", {"user_id": u}, full) for u in spread_ids(45)]
    spread_z = [c(f"zeros_mixed spread: {u}", "zeros_mixed", {"user_id": u}, full)
                for u in spread_ids(20)]

    @vf.check
    def _(r):
        n_control = sum(r[n]["variant"] == "control" for n in spread_ab)
        if not 18 <= n_control <= 42:
            fail(f"variants.json: {n_control}/60 control")
        if {r[n]["variant"] for n in spread_abc} != {"a", "b", "c"}:
            fail("variants.json: the three-way spread does not reach every variant")
        if {r[n]["variant"] for n in spread_z} != {"b", "d"}:
            fail("variants.json: zero-weight variants picked, or b/d missing")
    return vf


# ---------------------------------------------------------------------------
# unicode.json
# ---------------------------------------------------------------------------


def build_unicode() -> Vectors:
    vf = Vectors(
        "unicode.json",
        "Ids are hashed as their exact UTF-8 bytes: non-ASCII, emoji (including ZWJ "
        "sequences), no Unicode normalization, the empty string (present, not absent), "
        "whitespace, very long ids; non-ASCII attribute names, values and salts.",
        {
            "version": 1,
            "flags": {
                "enrollment_service": {"percentage": 12.5},
                "half": {"percentage": 50},
                "full": {"percentage": 100},
                "unicode_targeting": {
                    "requires": [{"attribute": "région", "op": "in",
                                  "values": ["Île-de-France", "東京都"]}],
                    "pilots": {"user_id": ["José", "👩‍💻"]},
                    "deny": {"user_id": ["Jose\u0301"]},
                    "percentage": 0,
                },
                "unicode_salt": {"percentage": 50, "salt": "été-2026 🚀"},
            },
        },
    )
    c = vf.case
    ids = [
        ("José (NFC, U+00E9)", "José"),
        ("José (NFD, e + U+0301)", "Jose\u0301"),
        ("日本語", "日本語"),
        ("woman technologist ZWJ emoji", "👩‍💻"),
        ("party popper emoji", "🎉"),
        ("Ærøskøbing", "Ærøskøbing"),
        ("Cyrillic", "Привет"),
        ("Arabic", "مرحبا"),
        ("mathematical fraktur (4-byte UTF-8)", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"),
        ("y with diaeresis (U+00FF)", "\u00ff"),
        ("empty string", ""),
        ("single space", " "),
        ("surrounding spaces", " 42 "),
        ("tab and newline", "a\tb\nc"),
        ("contains a colon", "a:b"),
        ("1000 ASCII characters", "x" * 1000),
        ("600 CJK characters", "日本" * 300),
        ("4096-character mixed id", ("ü1-" * 1366)[:4096]),
    ]
    for label, uid in ids:
        for flag, bp in [("enrollment_service", 1250), ("half", 5000), ("full", 10_000)]:
            c(f"{flag}: {label}", flag, {"user_id": uid}, Rollout(bp))
    for label, uid in ids[:6]:
        c(f"unicode_salt: {label}", "unicode_salt", {"user_id": uid}, Rollout(5000))

    @vf.check
    def _(r):
        a = r["half: José (NFC, U+00E9)"]["bucket"]
        b = r["half: José (NFD, e + U+0301)"]["bucket"]
        if a == b:
            fail("unicode.json: NFC and NFD spellings share a bucket; pick other ids")

    reg = {"région": "Île-de-France"}
    c("unicode_targeting: pilot José (NFC)", "unicode_targeting", {"user_id": "José", **reg},
      ref.PILOT)
    c("unicode_targeting: pilot emoji id", "unicode_targeting", {"user_id": "👩‍💻", **reg},
      ref.PILOT)
    c("unicode_targeting: José in NFD is denied, not the NFC pilot", "unicode_targeting",
      {"user_id": "Jose\u0301", **reg}, ref.DENIED)
    c("unicode_targeting: other CJK region", "unicode_targeting",
      {"user_id": "José", "région": "東京都"}, ref.PILOT)
    c("unicode_targeting: region decomposed differently fails", "unicode_targeting",
      {"user_id": "José", "région": "I\u0302le-de-France"}, ref.REQUIREMENT_UNMET)
    c("unicode_targeting: attribute name without accent is another attribute",
      "unicode_targeting", {"user_id": "José", "region": "Île-de-France"},
      ref.REQUIREMENT_UNMET)
    c("unicode_targeting: not a pilot, 0%", "unicode_targeting", {"user_id": "日本語", **reg},
      Rollout(0))
    c("full: empty string id is present (bucket reported)", "full", {"user_id": ""},
      Rollout(10_000))
    c("half: empty context for comparison with the empty string", "half", {},
      Rollout(5000, v_present=False))
    return vf


# ---------------------------------------------------------------------------
# salts.json
# ---------------------------------------------------------------------------


def build_salts() -> Vectors:
    vf = Vectors(
        "salts.json",
        "Salts and bucket_by: flags sharing a salt give the same bucket to the same id (and "
        "pick nested sets of users as their percentages grow); different salts pick "
        "independent users; salt defaults to the flag key; bucket_by a tenant makes a "
        "tenant's users agree; raising a percentage only adds users.",
        {
            "version": 1,
            "flags": {
                "checkout_a": {"percentage": 50},
                "checkout_b": {"percentage": 50},
                "alias_of_a": {"percentage": 50, "salt": "checkout_a"},
                "shared_30": {"percentage": 30, "salt": "exp-2026"},
                "shared_60": {"percentage": 60, "salt": "exp-2026"},
                "mono_10": {"percentage": 10, "salt": "mono"},
                "mono_12_5": {"percentage": 12.5, "salt": "mono"},
                "mono_50": {"percentage": 50, "salt": "mono"},
                "mono_90": {"percentage": 90, "salt": "mono"},
                "by_tenant": {"percentage": 50, "bucket_by": "tenant_id"},
                "by_tenant_same_salt": {"percentage": 50, "bucket_by": "tenant_id",
                                        "salt": "by_tenant"},
                "colon_a": {"percentage": 50, "salt": "s"},
                "colon_b": {"percentage": 50, "salt": "s:a"},
            },
        },
    )
    c = vf.case
    ids = spread_ids(30)
    for uid in ids:
        a = c(f"checkout_a: {uid}", "checkout_a", {"user_id": uid}, Rollout(5000))
        b = c(f"checkout_b: {uid}", "checkout_b", {"user_id": uid}, Rollout(5000))
        al = c(f"alias_of_a: {uid}", "alias_of_a", {"user_id": uid}, Rollout(5000))
        vf.same_result(a, al)
        s30 = c(f"shared_30: {uid}", "shared_30", {"user_id": uid}, Rollout(3000))
        s60 = c(f"shared_60: {uid}", "shared_60", {"user_id": uid}, Rollout(6000))
        vf.same_bucket(s30, s60)

    @vf.check
    def _(r):
        differ = sum(r[f"checkout_a: {u}"]["enabled"] != r[f"checkout_b: {u}"]["enabled"]
                     for u in ids)
        same_bucket = sum(r[f"checkout_a: {u}"]["bucket"] == r[f"checkout_b: {u}"]["bucket"]
                          for u in ids)
        if differ < 5 or same_bucket > 2:
            fail(f"salts.json: checkout_a and checkout_b look correlated ({differ} differ)")
        for u in ids:
            if r[f"shared_30: {u}"]["enabled"] and not r[f"shared_60: {u}"]["enabled"]:
                fail(f"salts.json: {u} in at 30% but out at 60% with a shared salt")

    mono = [("mono_10", 1000), ("mono_12_5", 1250), ("mono_50", 5000), ("mono_90", 9000)]
    mono_ids = spread_ids(20)
    for uid in mono_ids:
        for flag, bp in mono:
            c(f"{flag}: {uid}", flag, {"user_id": uid}, Rollout(bp))
    # boundary ids: bucket 1249 is in at 12.5% only from 12.5% up
    for b in [999, 1000, 1249, 1250, 4999, 8999, 9000]:
        uid = FIND.bucket("mono", b)
        for flag, bp in mono:
            c(f"{flag}: bucket {b}", flag, {"user_id": uid}, Rollout(bp), bucket=b)

    @vf.check
    def _(r):
        for uid in mono_ids:
            on = [r[f"{flag}: {uid}"]["enabled"] for flag, _ in mono]
            if on != sorted(on):
                fail(f"salts.json: raising the percentage turned {uid} off")

    tenants = ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
    for t in tenants:
        names = [c(f"by_tenant: tenant {t}, user {u}", "by_tenant",
                   {"user_id": u, "tenant_id": t}, Rollout(5000)) for u in ["1", "2", "3"]]
        names.append(c(f"by_tenant: tenant {t}, no user_id", "by_tenant", {"tenant_id": t},
                       Rollout(5000)))
        same = c(f"by_tenant_same_salt: tenant {t}", "by_tenant_same_salt",
                 {"user_id": "9", "tenant_id": t}, Rollout(5000))
        for n in names[1:] + [same]:
            vf.same_result(names[0], n)
    c("by_tenant: user_id without tenant_id", "by_tenant", {"user_id": "1"},
      Rollout(5000, v_present=False))

    @vf.check
    def _(r):
        if len({r[f"by_tenant: tenant {t}, no user_id"]["enabled"] for t in tenants}) != 2:
            fail("salts.json: pick tenants that land on both sides of 50%")

    # salt + ":" + id is ambiguous when salts contain ':': "s" + ":" + "a:b" == "s:a" + ":" + "b"
    a = c("colon_a: salt 's', id 'a:b' hashes 's:a:b'", "colon_a", {"user_id": "a:b"},
          Rollout(5000))
    b = c("colon_b: salt 's:a', id 'b' hashes 's:a:b' too", "colon_b", {"user_id": "b"},
          Rollout(5000))
    vf.same_result(a, b)
    return vf


# ---------------------------------------------------------------------------
# context.json
# ---------------------------------------------------------------------------


def build_context() -> Vectors:
    vf = Vectors(
        "context.json",
        "Context values: integers are their decimal form (42 and \"42\" agree), booleans are "
        "\"true\"/\"false\", null is absent, an empty context has nothing; extra attributes "
        "are ignored.",
        {
            "version": 1,
            "flags": {
                "half": {"percentage": 50},
                "full": {"percentage": 100},
                "targeted": {
                    "requires": [{"attribute": "plan_tier", "op": "in", "values": ["3"]}],
                    "deny": {"user_id": ["666"]},
                    "pilots": {"user_id": ["1001"]},
                    "percentage": 50,
                },
                "by_flag": {"percentage": 50, "bucket_by": "is_staff"},
            },
        },
    )
    c = vf.case
    for n in [42, 0, 7, -7, 1001, 123456789, 12345678901, 9007199254740991]:
        a = c(f"half: integer {n}", "half", {"user_id": n}, Rollout(5000))
        b = c(f"half: string {str(n)!r}", "half", {"user_id": str(n)}, Rollout(5000))
        vf.same_result(a, b)
    a = c("half: string '042' is not 42", "half", {"user_id": "042"}, Rollout(5000))
    b = c("half: string '42.0' is not 42", "half", {"user_id": "42.0"}, Rollout(5000))

    @vf.check
    def _(r):
        if r[a]["bucket"] == r["half: integer 42"]["bucket"] or \
                r[b]["bucket"] == r["half: integer 42"]["bucket"]:
            fail("context.json: '042' or '42.0' collides with 42; pick others")

    for val in [True, False]:
        x = c(f"half: boolean {str(val).lower()}", "half", {"user_id": val}, Rollout(5000))
        y = c(f"half: string {str(val).lower()!r}", "half", {"user_id": str(val).lower()},
              Rollout(5000))
        vf.same_result(x, y)
        x = c(f"by_flag: bucket_by a boolean attribute, {str(val).lower()}", "by_flag",
              {"user_id": "42", "is_staff": val}, Rollout(5000))
        y = c(f"by_flag: bucket_by a boolean attribute, string {str(val).lower()!r}",
              "by_flag", {"user_id": "43", "is_staff": str(val).lower()}, Rollout(5000))
        vf.same_result(x, y)
    c("half: 'True' differs from true", "half", {"user_id": "True"}, Rollout(5000))

    c("half: user_id null is absent", "half", {"user_id": None}, Rollout(5000, False))
    c("half: empty context", "half", {}, Rollout(5000, False))
    c("full: empty context", "full", {}, Rollout(10_000, False))
    c("full: only null values", "full", {"user_id": None, "tenant_id": None},
      Rollout(10_000, False))
    x = c("half: extra attributes are ignored", "half",
          {"user_id": "42", "tenant_id": "acme", "plan": "pro", "beta": True, "n": 5},
          Rollout(5000))
    vf.same_result(x, "half: string '42'")
    x = c("half: an extra null attribute is ignored", "half",
          {"user_id": "42", "tenant_id": None}, Rollout(5000))
    vf.same_result(x, "half: string '42'")

    t = "targeted"
    c("targeted: integer plan_tier 3 passes in ['3']", t, {"user_id": "5", "plan_tier": 3},
      Rollout(5000))
    c("targeted: string '3' passes", t, {"user_id": "5", "plan_tier": "3"}, Rollout(5000))
    vf.same_result("targeted: integer plan_tier 3 passes in ['3']", "targeted: string '3' passes")
    c("targeted: '03' fails", t, {"user_id": "5", "plan_tier": "03"}, ref.REQUIREMENT_UNMET)
    c("targeted: plan_tier null fails", t, {"user_id": "5", "plan_tier": None},
      ref.REQUIREMENT_UNMET)
    c("targeted: empty context fails requires", t, {}, ref.REQUIREMENT_UNMET)
    c("targeted: integer pilot id 1001", t, {"user_id": 1001, "plan_tier": 3}, ref.PILOT)
    c("targeted: integer denied id 666", t, {"user_id": 666, "plan_tier": 3}, ref.DENIED)
    c("targeted: negative integer id", t, {"user_id": -1001, "plan_tier": 3}, Rollout(5000))
    c("targeted: requirement met, user_id absent", t, {"plan_tier": 3},
      Rollout(5000, v_present=False))
    return vf


# ---------------------------------------------------------------------------
# migration.json
# ---------------------------------------------------------------------------


def build_migration() -> Vectors:
    """Migration flags: the variant is the stage, on or off.

    By reason: KILLED -> safe; REQUIREMENT_UNMET, DENIED, ROLLOUT_OUT,
    MISSING_BUCKET_KEY -> stage; PILOT -> pilot_stage; ROLLOUT_IN -> next.
    Defaults: next = stage, pilot_stage = next, safe = off. KILL_ALL is in
    kill_all.json (one file has one kill_all).
    """
    ramp = [
        {"at": "2026-11-21T00:00:00Z", "percentage": 10},
        {"at": "2026-11-22T00:00:00Z", "percentage": 100},
    ]
    vf = Vectors(
        "migration.json",
        "Migration flags: the answer is a stage, carried in `variant` whether the flag is "
        "on or off; `enabled`, `reason` and `bucket` are those of the same flag without "
        "`migration`. KILLED -> safe (off unless set); REQUIREMENT_UNMET, DENIED, "
        "ROLLOUT_OUT, MISSING_BUCKET_KEY -> stage; PILOT (flag or top-level pilots) -> "
        "pilot_stage (next unless set); ROLLOUT_IN -> next (stage unless set). Two-, four- "
        "and six-stage sets, every stage, ramps at several times, a paused ramp, next == "
        "stage. KILL_ALL is in kill_all.json.",
        {
            "$schema": "../../schema/flags.schema.json",
            "version": 1,
            "pilots": {"user_id": ["g1"]},
            "flags": {
                "orders_reads": {
                    "description": "10% in shadow, pilots in live, the rest dual-writing",
                    "migration": {"stages": 6, "stage": "dualwrite", "next": "shadow",
                                  "pilot_stage": "live", "safe": "off"},
                    "requires": [{"attribute": "region", "op": "not_in", "values": ["cn"]}],
                    "deny": {"user_id": ["666"]},
                    "pilots": {"user_id": ["7"]},
                    "percentage": 10,
                },
                "killed_safe_dualwrite": {
                    "migration": {"stages": 6, "stage": "live", "next": "rampdown",
                                  "safe": "dualwrite"},
                    "killed": True,
                    "pilots": {"user_id": ["7"]},
                    "percentage": 100,
                },
                "killed_default_safe": {
                    "migration": {"stages": 4, "stage": "shadow", "next": "live"},
                    "killed": True,
                    "percentage": 100,
                },
                "two_stage": {"migration": {"stages": 2, "stage": "off", "next": "complete"},
                              "percentage": 50},
                "two_stage_done": {"migration": {"stages": 2, "stage": "complete"}},
                "four_stage": {
                    "migration": {"stages": 4, "stage": "off", "next": "shadow",
                                  "pilot_stage": "live"},
                    "pilots": {"tenant_id": ["acme"]},
                    "percentage": 100,
                },
                "pilot_default": {
                    "migration": {"stages": 4, "stage": "shadow", "next": "live"},
                    "pilots": {"user_id": ["7"]},
                },
                "held": {
                    "description": "rolled back: next and pilot_stage written as stage",
                    "migration": {"stages": 6, "stage": "shadow", "next": "shadow",
                                  "pilot_stage": "shadow"},
                    "pilots": {"user_id": ["7"]},
                    "percentage": 100,
                },
                "next_defaults_to_stage": {
                    "migration": {"stages": 6, "stage": "rampdown"},
                    "pilots": {"user_id": ["7"]},
                    "percentage": 100,
                },
                "by_tenant": {
                    "migration": {"stages": 6, "stage": "off", "next": "dualwrite"},
                    "bucket_by": "tenant_id",
                    "percentage": 50,
                },
                "ramp_mig": {"migration": {"stages": 6, "stage": "shadow", "next": "live"},
                             "ramp": ramp},
                "paused_mig": {"migration": {"stages": 6, "stage": "shadow", "next": "live"},
                               "ramp": ramp, "paused_at": "2026-11-21T06:00:00Z"},
                **{
                    f"six_{stage}": {"migration": {"stages": 6, "stage": stage}}
                    for stage in ref.STAGES
                },
                "plain": {"percentage": 100},
            },
        },
    )
    c = vf.case
    ok = {"region": "eu"}
    r_in = FIND.bucket("orders_reads", 999)
    r_out = FIND.bucket("orders_reads", 1000)

    # orders_reads: every reason of a six-stage flag
    c("orders_reads: bucket 999 of 1000 is in: next", "orders_reads",
      {"user_id": r_in, **ok}, Rollout(1000), variant="shadow", bucket=999)
    c("orders_reads: bucket 1000 of 1000 is out: stage", "orders_reads",
      {"user_id": r_out, **ok}, Rollout(1000), variant="dualwrite", bucket=1000)
    c("orders_reads: REQUIREMENT_UNMET (region cn): stage", "orders_reads",
      {"user_id": r_in, "region": "cn"}, ref.REQUIREMENT_UNMET, variant="dualwrite")
    c("orders_reads: REQUIREMENT_UNMET (region absent): stage", "orders_reads",
      {"user_id": "7"}, ref.REQUIREMENT_UNMET, variant="dualwrite")
    c("orders_reads: DENIED: stage", "orders_reads", {"user_id": "666", **ok}, ref.DENIED,
      variant="dualwrite")
    c("orders_reads: flag pilot: pilot_stage", "orders_reads", {"user_id": "7", **ok},
      ref.PILOT, variant="live", bucket=None)
    c("orders_reads: top-level pilot: pilot_stage", "orders_reads", {"user_id": "g1", **ok},
      ref.PILOT, variant="live", bucket=None)
    c("orders_reads: MISSING_BUCKET_KEY: stage", "orders_reads", ok,
      Rollout(1000, v_present=False), variant="dualwrite")
    c("orders_reads: FLAG_NOT_FOUND has no stage", "orders_read", {"user_id": "7", **ok},
      ref.FLAG_NOT_FOUND, variant=None)
    for uid in spread_ids(12):
        c(f"orders_reads: user {uid}", "orders_reads", {"user_id": uid, **ok}, Rollout(1000),
          variant=UNSET_STAGE)

    # killed: the safe stage, pilots included
    c("KILLED: safe dualwrite", "killed_safe_dualwrite", {"user_id": "42"}, ref.KILLED,
      variant="dualwrite")
    c("KILLED: safe dualwrite beats a pilot", "killed_safe_dualwrite", {"user_id": "7"},
      ref.KILLED, variant="dualwrite")
    c("KILLED: safe dualwrite, empty context", "killed_safe_dualwrite", {}, ref.KILLED,
      variant="dualwrite")
    c("KILLED: safe defaults to off", "killed_default_safe", {"user_id": "42"}, ref.KILLED,
      variant="off")

    # two stages
    t_in = FIND.bucket("two_stage", 4999)
    t_out = FIND.bucket("two_stage", 5000)
    c("two stages: bucket 4999 at 50%: complete", "two_stage", {"user_id": t_in},
      Rollout(5000), variant="complete", bucket=4999)
    c("two stages: bucket 5000 at 50%: off", "two_stage", {"user_id": t_out}, Rollout(5000),
      variant="off", bucket=5000)
    c("two stages: no user_id: off", "two_stage", {}, Rollout(5000, v_present=False),
      variant="off")
    c("two stages: top-level pilot: pilot_stage defaults to next", "two_stage",
      {"user_id": "g1"}, ref.PILOT, variant="complete")
    c("two stages, complete: 0% is complete", "two_stage_done", {"user_id": "42"}, Rollout(0),
      variant="complete")
    c("two stages, complete: pilot is complete", "two_stage_done", {"user_id": "g1"},
      ref.PILOT, variant="complete")

    # four stages
    c("four stages: 100% is next", "four_stage", {"user_id": "42"}, Rollout(10_000),
      variant="shadow")
    c("four stages: 100% without user_id is next", "four_stage", {}, Rollout(10_000, False),
      variant="shadow")
    c("four stages: tenant pilot is live", "four_stage", {"user_id": "42",
      "tenant_id": "acme"}, ref.PILOT, variant="live")
    c("four stages: pilot_stage defaults to next", "pilot_default", {"user_id": "7"},
      ref.PILOT, variant="live")
    c("four stages: 0% is stage", "pilot_default", {"user_id": "42"}, Rollout(0),
      variant="shadow")

    # next == stage: nobody moves, though the reason is still ROLLOUT_IN
    c("held: ROLLOUT_IN at 100% stays at stage", "held", {"user_id": "42"}, Rollout(10_000),
      variant="shadow")
    c("held: a pilot stays at stage", "held", {"user_id": "7"}, ref.PILOT, variant="shadow")
    c("next defaults to stage: ROLLOUT_IN", "next_defaults_to_stage", {"user_id": "42"},
      Rollout(10_000), variant="rampdown")
    c("next defaults to stage: pilot", "next_defaults_to_stage", {"user_id": "7"}, ref.PILOT,
      variant="rampdown")

    # bucket_by another attribute
    b_in = FIND.bucket("by_tenant", 4999)
    b_out = FIND.bucket("by_tenant", 5000)
    c("by tenant: tenant bucket 4999 at 50%: next", "by_tenant",
      {"user_id": "1", "tenant_id": b_in}, Rollout(5000), variant="dualwrite", bucket=4999)
    c("by tenant: tenant bucket 5000 at 50%: stage", "by_tenant",
      {"user_id": "1", "tenant_id": b_out}, Rollout(5000), variant="off", bucket=5000)
    c("by tenant: MISSING_BUCKET_KEY (user_id only): stage", "by_tenant", {"user_id": "1"},
      Rollout(5000, v_present=False), variant="off")

    # a ramp from 10% (2026-11-21T00:00Z) to 100% (24 h later)
    for when, bp, b, stage in [
        ("2026-11-20T23:59:59Z", 0, 0, "shadow"),
        ("2026-11-21T00:00:00Z", 1000, 999, "live"),
        ("2026-11-21T00:00:00Z", 1000, 1000, "shadow"),
        ("2026-11-21T06:00:00Z", 3250, 3249, "live"),
        ("2026-11-21T06:00:00Z", 3250, 3250, "shadow"),
        ("2026-11-21T12:00:00Z", 5500, 5499, "live"),
        ("2026-11-21T12:00:00Z", 5500, 5500, "shadow"),
        ("2026-11-21T18:00:00Z", 7750, 7750, "shadow"),
        ("2026-11-22T00:00:00Z", 10_000, 9999, "live"),
    ]:
        uid = FIND.bucket("ramp_mig", b)
        c(f"ramp at {when} ({bp} bp): bucket {b} is {stage}", "ramp_mig", {"user_id": uid},
          Rollout(bp), now=when, variant=stage, bucket=b)
    c("ramp done: no user_id is next", "ramp_mig", {}, Rollout(10_000, v_present=False),
      now="2026-11-23T00:00:00Z", variant="live")
    c("ramp mid-way: no user_id is stage", "ramp_mig", {}, Rollout(5500, v_present=False),
      variant="shadow")

    # the same ramp paused at 06:00Z (32.5%)
    for when, bp, b, stage in [
        ("2026-11-21T03:00:00Z", 2125, 2124, "live"),
        ("2026-11-21T03:00:00Z", 2125, 2125, "shadow"),
        ("2026-11-21T12:00:00Z", 3250, 3249, "live"),
        ("2026-11-21T12:00:00Z", 3250, 3250, "shadow"),
        ("2026-12-01T00:00:00Z", 3250, 5499, "shadow"),
    ]:
        uid = FIND.bucket("paused_mig", b)
        c(f"paused ramp at {when} ({bp} bp): bucket {b} is {stage}", "paused_mig",
          {"user_id": uid}, Rollout(bp), now=when, variant=stage, bucket=b)

    # every stage of the six, as the baseline of a flag at 0%
    for stage in ref.STAGES:
        c(f"six stages: {stage} at 0%", f"six_{stage}", {"user_id": "42"}, Rollout(0),
          variant=stage)
        c(f"six stages: {stage} for a top-level pilot", f"six_{stage}", {"user_id": "g1"},
          ref.PILOT, variant=stage)

    # a flag without migration keeps a null variant
    c("not a migration flag: variant null", "plain", {"user_id": "42"}, Rollout(10_000),
      variant=None)

    @vf.check
    def _(r):
        for uid in spread_ids(12):
            got = r[f"orders_reads: user {uid}"]
            want = "shadow" if got["reason"] == ref.ROLLOUT_IN else "dualwrite"
            if got["variant"] != want:
                fail(f"migration.json: user {uid}: {got['variant']} for {got['reason']}")

    return vf


# ---------------------------------------------------------------------------

BUILDERS = [
    build_reasons, build_kill_all, build_pilots, build_targeting, build_rollout,
    build_ramps, build_variants, build_unicode, build_salts, build_context,
    build_migration,
]


def generate() -> dict[str, str]:
    out = {}
    reasons_seen = set()
    total = 0
    for build in BUILDERS:
        vf = build()
        text = vf.build()
        if vf.filename.startswith("invalid-"):
            fail("generated files must not be named invalid-*")
        out[vf.filename] = text
        total += len(vf.specs)
        reasons_seen |= {r["reason"] for r in vf.results.values()}
    missing = set(ref.REASONS) - reasons_seen
    if missing:
        fail(f"no case for reasons {sorted(missing)}")
    if total < 320:
        fail(f"only {total} cases")
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv[1:]
    try:
        files = generate()
    except GenError as e:
        print(f"gen_vectors: {e}", file=sys.stderr)
        return 1
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stale = sorted(
        p.name for p in OUT_DIR.glob("*.json")
        if not p.name.startswith("invalid-") and p.name not in files
    )
    if check:
        bad = [name for name, text in files.items()
               if not (OUT_DIR / name).exists()
               or (OUT_DIR / name).read_text(encoding="utf-8") != text]
        for name in bad:
            print(f"gen_vectors: {name} is out of date", file=sys.stderr)
        for name in stale:
            print(f"gen_vectors: {name} is not produced by this generator", file=sys.stderr)
        return 1 if bad or stale else 0
    for name, text in files.items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")
    for name in stale:
        print(f"gen_vectors: warning: {name} is not produced by this generator",
              file=sys.stderr)
    counts = {name: text.count('"expected": {') for name, text in files.items()}
    for name, n in counts.items():
        print(f"{name}: {n} cases")
    print(f"total: {sum(counts.values())} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
