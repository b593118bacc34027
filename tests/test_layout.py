"""The README's layout table is the layout on disk: every path it names
exists, and every module of flags-core, flags-server and flags-ffi is named
(a file, or its directory), so a reader finds each one where the table says."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
TABLE = README[README.index("## Layout"):README.index("## How we know it is right")]
CRATES = {"flags-core": "flags-core/src", "flags-server": "flags-server/src", "flags-ffi": "flags-ffi/src"}


def rows():
    """(base directory, names) per row. A row whose first path starts with a
    top-level entry of the repository is read from the root; the rows after
    a crate's row name paths inside that crate's src/."""
    top_level = {p.name for p in ROOT.iterdir()}
    base = ROOT
    for line in TABLE.splitlines():
        if not line.startswith("| `"):
            continue
        cells = line.split("|")
        names = re.findall(r"`([^`]+)`", cells[1])
        top = names[0].strip("/").split("/")[0]
        if top in top_level:
            yield ROOT, names
            base = ROOT / CRATES[top] if names[0].strip("/") in CRATES else ROOT
            # The C ABI row names its files in the description.
            if names[0].strip("/") == "flags-ffi":
                yield base, re.findall(r"`([a-z_]+\.rs)`", cells[2])
        else:
            yield base, names


def test_every_named_path_exists():
    missing = []
    for base, names in rows():
        for name in names:
            if not (base / name.rstrip("/")).exists():
                missing.append(str((base / name).relative_to(ROOT)))
    assert not missing, f"the README names paths that do not exist: {missing}"


def test_every_module_is_named():
    named = set()
    for base, names in rows():
        for name in names:
            named.add((base / name.rstrip("/")).resolve())
    for src in CRATES.values():
        for entry in sorted((ROOT / src).iterdir()):
            if entry.name in ("lib.rs", "main.rs") or not (entry.is_dir() or entry.suffix == ".rs"):
                continue
            assert entry.resolve() in named, f"{entry.relative_to(ROOT)} is not in the README's layout table"
