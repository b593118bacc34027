"""Reference implementation of flag evaluation (flag file version 1).

This module is the executable statement of the evaluation algorithm used to
produce and check the golden vectors in ``tests/vectors``. It is written from
the specification alone, uses only the Python standard library, and favours
plainness over speed.

It is NOT a validator: it assumes the flag file is valid (see
``docs/flag-file.md``). It still refuses, with ``ValueError``, a few shapes it
cannot evaluate, so that a mistake in a hand-written vector file is caught
early rather than silently producing wrong expectations.

Public surface:

* ``siphash24(key, data) -> int``: SipHash-2-4, 64-bit output.
* ``bucket_of(salt, value) -> int`` and ``variant_bucket_of(salt, value)``.
* ``load_file(text)`` / ``load_file_obj(obj)``: a flag file.
* ``convert_context(obj)``: a JSON object to a ``{attribute: str}`` map.
* ``parse_rfc3339_ms(text)``: RFC 3339 time to unix milliseconds.
* ``evaluate(file, flag_key, context, now_ms) -> dict``: for a migration
  flag the ``variant`` is its stage, whatever ``enabled`` says.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import re
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# SipHash-2-4
# ---------------------------------------------------------------------------

_MASK64 = 0xFFFF_FFFF_FFFF_FFFF


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK64


def siphash24(key: bytes, data: bytes) -> int:
    """SipHash-2-4 of ``data`` under the 16-byte ``key``; a 64-bit unsigned int.

    Follows the SipHash paper (Aumasson and Bernstein, 2012): 2 compression
    rounds per 8-byte little-endian message word, 4 finalization rounds, and a
    last word holding the trailing bytes with ``len(data) mod 256`` in its
    most significant byte.
    """
    if len(key) != 16:
        raise ValueError("SipHash key must be 16 bytes")
    k0 = int.from_bytes(key[0:8], "little")
    k1 = int.from_bytes(key[8:16], "little")
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n: int) -> None:
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & _MASK64
            v1 = _rotl(v1, 13)
            v1 ^= v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _MASK64
            v3 = _rotl(v3, 16)
            v3 ^= v2
            v0 = (v0 + v3) & _MASK64
            v3 = _rotl(v3, 21)
            v3 ^= v0
            v2 = (v2 + v1) & _MASK64
            v1 = _rotl(v1, 17)
            v1 ^= v2
            v2 = _rotl(v2, 32)

    length = len(data)
    full = length - (length % 8)
    for i in range(0, full, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        rounds(2)
        v0 ^= m
    last = int.from_bytes(data[full:], "little") | ((length & 0xFF) << 56)
    v3 ^= last
    rounds(2)
    v0 ^= last
    v2 ^= 0xFF
    rounds(4)
    return v0 ^ v1 ^ v2 ^ v3


ZERO_KEY = bytes(16)
BUCKETS = 10_000


def hash_input(salt: str, value: str) -> bytes:
    """The exact bytes hashed for the rollout bucket: UTF-8 of salt + ":" + value."""
    return (salt + ":" + value).encode("utf-8")


def variant_hash_input(salt: str, value: str) -> bytes:
    """The exact bytes hashed for the variant bucket: UTF-8 of salt + ":variant:" + value."""
    return (salt + ":variant:" + value).encode("utf-8")


def bucket_of(salt: str, value: str) -> int:
    return siphash24(ZERO_KEY, hash_input(salt, value)) % BUCKETS


def variant_bucket_of(salt: str, value: str) -> int:
    return siphash24(ZERO_KEY, variant_hash_input(salt, value)) % BUCKETS


# ---------------------------------------------------------------------------
# RFC 3339 times
# ---------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})"
)

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def parse_rfc3339_ms(text: str) -> int:
    """RFC 3339 date-time with offset -> unix milliseconds.

    Sub-millisecond digits are dropped; since the fraction only ever adds to
    the whole second, dropping them is the floor of the exact instant.
    Accepts upper-case ``T`` and ``Z`` only and no leap second (the golden
    vectors use nothing else).
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 date-time with offset: {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ""
    offset = m.group(8)
    if offset == "Z":
        offset_minutes = 0
    else:
        oh, om = int(offset[1:3]), int(offset[4:6])
        if oh > 23 or om > 59:
            raise ValueError(f"bad offset in {text!r}")
        offset_minutes = (oh * 60 + om) * (1 if offset[0] == "+" else -1)
    # datetime() checks the calendar (month 1-12, day within month, etc.).
    local = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc)
    whole_ms = (local - _EPOCH) // _dt.timedelta(milliseconds=1)
    millis = int((frac + "000")[:3])
    return whole_ms + millis - offset_minutes * 60_000


# ---------------------------------------------------------------------------
# Semantic versions (SemVer 2.0.0)
# ---------------------------------------------------------------------------

_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+({_BUILD_ID}(?:\.{_BUILD_ID})*))?"
)


@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...]  # empty when there is no pre-release


def parse_semver(text: str) -> SemVer | None:
    """A strictly valid SemVer 2.0.0 string, or None. Build metadata is dropped."""
    m = _SEMVER.fullmatch(text)
    if m is None:
        return None
    pre = tuple(m.group(4).split(".")) if m.group(4) is not None else ()
    return SemVer(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre)


def _cmp(a, b) -> int:
    return (a > b) - (a < b)


def _cmp_pre_id(a: str, b: str) -> int:
    a_num, b_num = a.isascii() and a.isdigit(), b.isascii() and b.isdigit()
    if a_num and b_num:
        return _cmp(int(a), int(b))
    if a_num:
        return -1  # numeric identifiers have lower precedence
    if b_num:
        return 1
    return _cmp(a.encode("ascii"), b.encode("ascii"))  # ASCII sort order


def semver_compare(a: SemVer, b: SemVer) -> int:
    """-1, 0 or 1 by SemVer 2.0.0 precedence (build metadata already ignored)."""
    c = _cmp((a.major, a.minor, a.patch), (b.major, b.minor, b.patch))
    if c != 0:
        return c
    if not a.pre and not b.pre:
        return 0
    if not a.pre:
        return 1  # a release ranks above any of its pre-releases
    if not b.pre:
        return -1
    for x, y in zip(a.pre, b.pre):
        c = _cmp_pre_id(x, y)
        if c != 0:
            return c
    return _cmp(len(a.pre), len(b.pre))


# ---------------------------------------------------------------------------
# Flag file (valid files only)
# ---------------------------------------------------------------------------


@dataclass
class Condition:
    attribute: str
    op: str
    values: frozenset[str] | None = None  # in / not_in
    version: SemVer | None = None  # semver_gte / semver_lt


# The stages of a migration, in order, and the sets a flag may declare
# (docs/flag-file.md, "Migration"): LaunchDarkly's two-, four- and six-stage
# migrations.
STAGES = ("off", "dualwrite", "shadow", "live", "rampdown", "complete")
STAGE_SETS = {
    2: ("off", "complete"),
    4: ("off", "shadow", "live", "complete"),
    6: STAGES,
}
# Stages where the old system answers: the only ones `safe` may name.
OLD_AUTHORITATIVE = ("off", "dualwrite", "shadow")
_MIGRATION_FIELDS = {"stages", "stage", "next", "pilot_stage", "safe"}


@dataclass
class Migration:
    stages: int
    stage: str  # the baseline
    next: str  # where the rollout moves users
    pilot_stage: str  # where pilots are
    safe: str  # where the kill switches send everyone


def _load_migration(obj, path: str) -> Migration:
    _need(isinstance(obj, dict), f"{path}: expected an object")
    _need(not (set(obj) - _MIGRATION_FIELDS), f"{path}: unknown fields")
    n = obj.get("stages")
    _need(n in STAGE_SETS and not isinstance(n, bool), f"{path}.stages: expected 2, 4 or 6")
    allowed = STAGE_SETS[n]
    stage = obj.get("stage")
    _need(stage in allowed, f"{path}.stage: not a stage of the set")
    nxt = obj.get("next", stage)
    _need(nxt in allowed, f"{path}.next: not a stage of the set")
    _need(allowed.index(nxt) >= allowed.index(stage), f"{path}.next: before stage")
    pilot = obj.get("pilot_stage", nxt)
    _need(pilot in allowed, f"{path}.pilot_stage: not a stage of the set")
    _need(allowed.index(pilot) >= allowed.index(stage), f"{path}.pilot_stage: before stage")
    safe = obj.get("safe", "off")
    _need(safe in allowed and safe in OLD_AUTHORITATIVE, f"{path}.safe: not an old-side stage")
    return Migration(n, stage, nxt, pilot, safe)


@dataclass
class Flag:
    key: str
    killed: bool = False
    requires: list[Condition] = field(default_factory=list)
    deny: dict[str, frozenset[str]] = field(default_factory=dict)
    pilots: dict[str, frozenset[str]] = field(default_factory=dict)
    percentage_bp: int | None = None
    ramp: list[tuple[int, int]] | None = None  # (unix ms, basis points)
    paused_at: int | None = None  # unix ms: the ramp is evaluated at min(now, paused_at)
    bucket_by: str = "user_id"
    salt: str = ""
    variants: list[tuple[str, int]] = field(default_factory=list)  # (name, bp)
    migration: Migration | None = None


@dataclass
class FlagFile:
    kill_all: bool = False
    pilots: dict[str, frozenset[str]] = field(default_factory=dict)
    flags: dict[str, Flag] = field(default_factory=dict)


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r}")
        obj[k] = v
    return obj


def parse_json(text: str | bytes):
    """JSON with exact decimals (``decimal.Decimal``) and duplicate keys refused."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text, parse_float=decimal.Decimal, object_pairs_hook=_no_duplicates)


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise ValueError(what)


def _is_str_list(x) -> bool:
    return isinstance(x, list) and all(isinstance(s, str) for s in x)


def _attr_lists(obj, path: str) -> dict[str, frozenset[str]]:
    _need(isinstance(obj, dict), f"{path}: expected an object")
    out = {}
    for attr, values in obj.items():
        _need(_is_str_list(values), f"{path}.{attr}: expected a list of strings")
        out[attr] = frozenset(values)
    return out


def percentage_to_bp(x, path: str) -> int:
    """A JSON number (int or Decimal) 0..100 with at most 2 decimals -> basis points."""
    _need(
        isinstance(x, (int, decimal.Decimal)) and not isinstance(x, bool),
        f"{path}: expected a number",
    )
    bp = decimal.Decimal(x) * 100
    _need(bp == bp.to_integral_value(), f"{path}: more than two decimals")
    bp = int(bp)
    _need(0 <= bp <= 10_000, f"{path}: out of range 0..100")
    return bp


_FLAG_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_FLAG_FIELDS = {
    "description", "owner", "migration", "killed", "requires", "deny", "pilots",
    "percentage", "ramp", "paused_at", "bucket_by", "salt", "variants", "guard",
}
_GUARD_FIELDS = {"query", "above", "below", "for", "action"}
_DURATION = re.compile(r"([0-9]{1,9})([smh])")


def _check_guard(g, path: str) -> None:
    """A guard does not change evaluation; it is only checked."""
    _need(isinstance(g, dict), f"{path}: expected an object")
    _need(not (set(g) - _GUARD_FIELDS), f"{path}: unknown fields")
    _need(isinstance(g.get("query"), str) and g["query"] != "", f"{path}.query")
    sides = [k for k in ("above", "below") if k in g]
    _need(len(sides) == 1, f"{path}: exactly one of above, below")
    t = g[sides[0]]
    _need(isinstance(t, (int, decimal.Decimal)) and not isinstance(t, bool), f"{path}.{sides[0]}")
    _need(isinstance(g.get("for"), str), f"{path}.for")
    m = _DURATION.fullmatch(g["for"])
    _need(m is not None, f"{path}.for: bad duration")
    seconds = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
    _need(seconds <= 24 * 3600, f"{path}.for: over 24h")
    _need(g.get("action") in ("kill", "pause", "rollback"), f"{path}.action")
_TOP_FIELDS = {"$schema", "version", "kill_all", "pilots", "flags"}


def _load_flag(key: str, obj, path: str) -> Flag:
    _need(isinstance(obj, dict), f"{path}: expected an object")
    unknown = set(obj) - _FLAG_FIELDS
    _need(not unknown, f"{path}: unknown fields {sorted(unknown)}")
    flag = Flag(key=key, salt=key)
    for name in ("description", "owner", "bucket_by", "salt"):
        if name in obj:
            _need(isinstance(obj[name], str), f"{path}.{name}: expected a string")
    if "killed" in obj:
        _need(isinstance(obj["killed"], bool), f"{path}.killed: expected a bool")
        flag.killed = obj["killed"]
    for i, c in enumerate(obj.get("requires", [])):
        cpath = f"{path}.requires[{i}]"
        _need(isinstance(c, dict) and isinstance(c.get("attribute"), str), cpath)
        op = c.get("op")
        if op in ("in", "not_in"):
            _need(set(c) == {"attribute", "op", "values"}, f"{cpath}: fields")
            _need(_is_str_list(c["values"]), f"{cpath}.values")
            flag.requires.append(Condition(c["attribute"], op, values=frozenset(c["values"])))
        elif op in ("semver_gte", "semver_lt"):
            _need(set(c) == {"attribute", "op", "value"}, f"{cpath}: fields")
            ver = parse_semver(c["value"]) if isinstance(c["value"], str) else None
            _need(ver is not None, f"{cpath}.value: not a semver")
            flag.requires.append(Condition(c["attribute"], op, version=ver))
        else:
            raise ValueError(f"{cpath}.op: unknown op {op!r}")
    if "deny" in obj:
        flag.deny = _attr_lists(obj["deny"], f"{path}.deny")
    if "pilots" in obj:
        flag.pilots = _attr_lists(obj["pilots"], f"{path}.pilots")
    _need(not ("percentage" in obj and "ramp" in obj), f"{path}: both percentage and ramp")
    if "percentage" in obj:
        flag.percentage_bp = percentage_to_bp(obj["percentage"], f"{path}.percentage")
    if "ramp" in obj:
        points = obj["ramp"]
        _need(isinstance(points, list) and points, f"{path}.ramp: expected a non-empty list")
        flag.ramp = []
        for i, pt in enumerate(points):
            ppath = f"{path}.ramp[{i}]"
            _need(isinstance(pt, dict) and set(pt) == {"at", "percentage"}, ppath)
            _need(isinstance(pt["at"], str), f"{ppath}.at")
            at = parse_rfc3339_ms(pt["at"])
            if flag.ramp:
                _need(at > flag.ramp[-1][0], f"{ppath}.at: not strictly increasing")
            flag.ramp.append((at, percentage_to_bp(pt["percentage"], f"{ppath}.percentage")))
    if "paused_at" in obj:
        _need(flag.ramp is not None, f"{path}.paused_at: only with a ramp")
        _need(isinstance(obj["paused_at"], str), f"{path}.paused_at")
        flag.paused_at = parse_rfc3339_ms(obj["paused_at"])
    if "migration" in obj:
        flag.migration = _load_migration(obj["migration"], f"{path}.migration")
        _need("variants" not in obj, f"{path}: a migration flag has no variants")
    if "guard" in obj:
        _check_guard(obj["guard"], f"{path}.guard")
        _need(obj["guard"]["action"] != "rollback" or flag.migration is not None,
              f"{path}.guard.action: rollback only on a migration flag")
    if "bucket_by" in obj:
        flag.bucket_by = obj["bucket_by"]
    if "salt" in obj:
        flag.salt = obj["salt"]
    if "variants" in obj:
        vs = obj["variants"]
        _need(isinstance(vs, list) and vs, f"{path}.variants: expected a non-empty list")
        names = set()
        for i, v in enumerate(vs):
            vpath = f"{path}.variants[{i}]"
            _need(isinstance(v, dict) and set(v) == {"name", "weight"}, vpath)
            _need(isinstance(v["name"], str) and v["name"] not in names, f"{vpath}.name")
            names.add(v["name"])
            flag.variants.append((v["name"], percentage_to_bp(v["weight"], f"{vpath}.weight")))
        _need(sum(bp for _, bp in flag.variants) == 10_000, f"{path}.variants: weights != 100")
    return flag


def load_file_obj(obj) -> FlagFile:
    """A flag file already parsed with ``parse_json`` (numbers as int/Decimal)."""
    _need(isinstance(obj, dict), "top level: expected an object")
    unknown = set(obj) - _TOP_FIELDS
    _need(not unknown, f"top level: unknown fields {sorted(unknown)}")
    _need(obj.get("version") == 1 and not isinstance(obj.get("version"), bool), "version must be 1")
    ff = FlagFile()
    if "kill_all" in obj:
        _need(isinstance(obj["kill_all"], bool), "kill_all: expected a bool")
        ff.kill_all = obj["kill_all"]
    if "pilots" in obj:
        ff.pilots = _attr_lists(obj["pilots"], "pilots")
    _need(isinstance(obj.get("flags"), dict), "flags: expected an object")
    for key, fobj in obj["flags"].items():
        _need(_FLAG_KEY.fullmatch(key) is not None, f"flags: bad flag key {key!r}")
        ff.flags[key] = _load_flag(key, fobj, f"flags.{key}")
    return ff


def load_file(text: str | bytes) -> FlagFile:
    return load_file_obj(parse_json(text))


# ---------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------


def convert_context(obj) -> dict[str, str]:
    """JSON object -> {attribute: string}. null means absent."""
    _need(isinstance(obj, dict), "context: expected an object")
    out = {}
    for attr, value in obj.items():
        _need(attr != "", "context: attribute names must not be empty")
        if value is None:
            continue
        if isinstance(value, bool):  # before int: bool is a subclass of int
            out[attr] = "true" if value else "false"
        elif isinstance(value, int):
            out[attr] = str(value)
        elif isinstance(value, str):
            out[attr] = value
        else:
            raise ValueError(f"context.{attr}: expected string, integer, bool or null")
    return out


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

KILL_ALL = "KILL_ALL"
FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
KILLED = "KILLED"
REQUIREMENT_UNMET = "REQUIREMENT_UNMET"
DENIED = "DENIED"
PILOT = "PILOT"
ROLLOUT_IN = "ROLLOUT_IN"
ROLLOUT_OUT = "ROLLOUT_OUT"
MISSING_BUCKET_KEY = "MISSING_BUCKET_KEY"
REASONS = (
    KILL_ALL, FLAG_NOT_FOUND, KILLED, REQUIREMENT_UNMET, DENIED,
    PILOT, ROLLOUT_IN, ROLLOUT_OUT, MISSING_BUCKET_KEY,
)


def _condition_holds(cond: Condition, context: dict[str, str]) -> bool:
    value = context.get(cond.attribute)
    if value is None:
        return False  # fail closed, whatever the op
    if cond.op == "in":
        return value in cond.values
    if cond.op == "not_in":
        return value not in cond.values
    ver = parse_semver(value)
    if ver is None:
        return False
    c = semver_compare(ver, cond.version)
    return c >= 0 if cond.op == "semver_gte" else c < 0


def _matches(lists: dict[str, frozenset[str]], context: dict[str, str]) -> bool:
    return any(attr in context and context[attr] in values for attr, values in lists.items())


def effective_bp(flag: Flag, now_ms: int) -> int:
    if flag.ramp is None:
        return flag.percentage_bp or 0
    if flag.paused_at is not None:
        now_ms = min(now_ms, flag.paused_at)
    if now_ms < flag.ramp[0][0]:
        return 0
    if now_ms >= flag.ramp[-1][0]:
        return flag.ramp[-1][1]
    for (t0, p0), (t1, p1) in zip(flag.ramp, flag.ramp[1:]):
        if t0 <= now_ms < t1:
            return p0 + ((p1 - p0) * (now_ms - t0)) // (t1 - t0)  # // floors
    raise AssertionError("unreachable")


def _variant(flag: Flag, v: str | None) -> str | None:
    if not flag.variants:
        return None
    if v is None:
        return flag.variants[0][0]
    vb = variant_bucket_of(flag.salt, v)
    running = 0
    for name, bp in flag.variants:
        running += bp
        if running > vb:
            return name
    raise AssertionError("variant weights do not sum to 10000")


def _result(enabled: bool, reason: str, bucket: int | None = None, variant: str | None = None):
    return {"enabled": enabled, "variant": variant, "reason": reason, "bucket": bucket}


def migration_stage(m: Migration, reason: str) -> str:
    """The stage a migration flag answers when its evaluation ends with ``reason``.

    The kill switches send everyone to ``safe``; pilots get ``pilot_stage``;
    units inside the rollout get ``next``; everyone else stays at ``stage``.
    """
    if reason in (KILL_ALL, KILLED):
        return m.safe
    if reason == PILOT:
        return m.pilot_stage
    if reason == ROLLOUT_IN:
        return m.next
    if reason in (REQUIREMENT_UNMET, DENIED, ROLLOUT_OUT, MISSING_BUCKET_KEY):
        return m.stage
    raise ValueError(f"no stage for reason {reason}")


def evaluate(ff: FlagFile, flag_key: str, context: dict[str, str], now_ms: int) -> dict:
    """Evaluate one flag. ``context`` is already converted (see ``convert_context``).

    A migration flag is decided exactly as the same flag without its
    ``migration`` (``enabled``, ``reason`` and ``bucket`` are the same), and
    its ``variant`` is the stage that reason leads to.
    """
    result = _evaluate(ff, flag_key, context, now_ms)
    flag = ff.flags.get(flag_key)
    if flag is not None and flag.migration is not None:
        result["variant"] = migration_stage(flag.migration, result["reason"])
    return result


def _evaluate(ff: FlagFile, flag_key: str, context: dict[str, str], now_ms: int) -> dict:
    if ff.kill_all:
        return _result(False, KILL_ALL)
    flag = ff.flags.get(flag_key)
    if flag is None:
        return _result(False, FLAG_NOT_FOUND)
    if flag.killed:
        return _result(False, KILLED)
    if not all(_condition_holds(c, context) for c in flag.requires):
        return _result(False, REQUIREMENT_UNMET)
    if _matches(flag.deny, context):
        return _result(False, DENIED)
    v = context.get(flag.bucket_by)
    if _matches(flag.pilots, context) or _matches(ff.pilots, context):
        return _result(True, PILOT, variant=_variant(flag, v))
    p = effective_bp(flag, now_ms)
    bucket = bucket_of(flag.salt, v) if v is not None else None
    if p >= 10_000:
        on, reason = True, ROLLOUT_IN
    elif p == 0:
        on, reason = False, ROLLOUT_OUT
    elif v is None:
        on, reason = False, MISSING_BUCKET_KEY
    elif bucket < p:
        on, reason = True, ROLLOUT_IN
    else:
        on, reason = False, ROLLOUT_OUT
    return _result(on, reason, bucket, _variant(flag, v) if on else None)


def evaluate_json(ff: FlagFile, flag_key: str, context_obj, now: str) -> dict:
    """Convenience: JSON context object and RFC 3339 ``now``."""
    return evaluate(ff, flag_key, convert_context(context_obj), parse_rfc3339_ms(now))
