#!/usr/bin/env python3
"""Converts the shared golden vectors (tests/vectors/*.json) to the line
format tests/c/golden.c reads, since C has no JSON parser.

Every line is tab-separated; every string is hex-encoded UTF-8 (so any
byte, tab or newline survives), `-` stands for "none".

    FILE  name  file_json
    CASE  name  flag  context_json  now_unix_ms  enabled(0|1)  variant|-  REASON  bucket|-1  pairs...
    INVALID  name  text_bytes  expected_prefix...

`pairs` are attribute/value pairs equivalent to context_json, for building
the same context with flags_context_set (values as the library converts
them: integers as their decimal text, booleans as "true"/"false", null
absent). Each INVALID expected_prefix is the start of one message line,
`<input>:LINE:COL: PATH:`, in order. JSON texts are written back with the
numbers exactly as the vector file has them.

Usage: vectors.py VECTORS_DIR > OUT
"""

import datetime
import json
import re
import sys
from pathlib import Path


class Number(str):
    """A JSON number kept as its literal text."""


def load(path):
    return json.loads(
        path.read_text(encoding="utf-8"), parse_int=Number, parse_float=Number
    )


def dump(value):
    """JSON text of `value`, numbers as written in the vector file."""
    if isinstance(value, Number):
        return str(value)
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(dump(k) + ":" + dump(v) for k, v in value.items()) + "}"
    raise TypeError(f"unexpected JSON value {value!r}")


def hexs(text):
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    return data.hex() if data else "="  # `=` is the empty string


RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def unix_ms(text):
    """Unix milliseconds of an RFC 3339 time, sub-millisecond digits floored."""
    m = RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    days = datetime.date(year, month, day).toordinal() - datetime.date(1970, 1, 1).toordinal()
    ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000
    ms += int(((m.group(7) or "") + "000")[:3])
    offset = m.group(8)
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        ms -= sign * (int(offset[1:3]) * 60 + int(offset[4:6])) * 60_000
    return ms


def pairs(context):
    out = []
    for attribute, value in context.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, Number):
            if not re.fullmatch(r"-?\d+", value):
                raise ValueError(f"a context value that is not an integer: {value}")
        elif not isinstance(value, str):
            raise ValueError(f"unexpected context value {value!r}")
        out += [hexs(attribute), hexs(str(value))]
    return out


def main():
    directory = Path(sys.argv[1])
    lines = []
    for path in sorted(directory.glob("*.json")):
        vectors = load(path)
        if path.name.startswith("invalid-"):
            for case in vectors["cases"]:
                text = bytes.fromhex(case["hex"]) if "hex" in case else case["text"].encode("utf-8")
                prefixes = [
                    hexs(f"<input>:{e['line']}:{e['column']}: {e['path']}:") for e in case["errors"]
                ]
                lines.append("\t".join(["INVALID", hexs(f"{path.name}: {case['name']}"), hexs(text)] + prefixes))
            continue
        lines.append("\t".join(["FILE", hexs(path.name), hexs(dump(vectors["file"]))]))
        for case in vectors["cases"]:
            expected = case["expected"]
            bucket = expected["bucket"]
            lines.append(
                "\t".join(
                    [
                        "CASE",
                        hexs(f"{path.name}: {case['name']}"),
                        hexs(case["flag"]),
                        hexs(dump(case["context"])),
                        str(unix_ms(case["now"])),
                        "1" if expected["enabled"] else "0",
                        "-" if expected["variant"] is None else hexs(expected["variant"]),
                        expected["reason"],
                        "-1" if bucket is None else str(bucket),
                    ]
                    + pairs(case["context"])
                )
            )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
