"""Fails when an HTTP handler is longer than a screen.

A handler (a function annotated with `#[utoipa::path]`, or a console page: a top-level
`pub async fn` of shared/console/src/pages/) reads the request, calls a use-case function and
answers its view; the logic lives in the use case, which returns a domain error.
This check counts each handler's lines, from `fn` to its closing brace, and fails on one over
the limit, naming it. `python3 tools/handler_lengths.py [--list]`: `--list` prints every
handler's length, longest first.
"""

import pathlib
import re
import sys

LIMIT = 60
ROOT = pathlib.Path(__file__).resolve().parent.parent
FN = re.compile(r"^\s*pub(\([a-z]+\))?\s+async\s+fn\s+(\w+)|^\s*async\s+fn\s+(\w+)")


def handlers(path: pathlib.Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("#[utoipa::path("):
            j = i
            while j < len(lines) and not FN.match(lines[j]):
                j += 1
            if j == len(lines):
                break
            match = FN.match(lines[j])
            name = match.group(2) or match.group(3)
            indent = len(lines[j]) - len(lines[j].lstrip())
            k = j
            # The body ends at the first line that is a closing brace at the fn's indent.
            while k < len(lines) and lines[k] != " " * indent + "}":
                k += 1
            yield name, j + 1, k - j + 1
            i = k
        i += 1


PAGE = re.compile(r"^pub async fn (\w+)")


def pages(path: pathlib.Path):
    """The console's page handlers: top-level `pub async fn`s, to their closing brace."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        match = PAGE.match(line)
        if match:
            k = i
            while k < len(lines) and lines[k] != "}":
                k += 1
            yield match.group(1), i + 1, k - i + 1


def main() -> int:
    found = []
    for path in sorted(ROOT.glob("shared/*/src/**/*.rs")):
        for name, line, length in handlers(path):
            found.append((length, f"{path.relative_to(ROOT)}:{line}", name))
    for path in sorted(ROOT.glob("shared/console/src/pages/*.rs")):
        for name, line, length in pages(path):
            found.append((length, f"{path.relative_to(ROOT)}:{line}", name))
    found.sort(reverse=True)
    if "--list" in sys.argv:
        for length, place, name in found:
            print(f"{length:4}  {place}  {name}")
    over = [h for h in found if h[0] > LIMIT]
    for length, place, name in over:
        print(f"{place}: handler {name} is {length} lines (at most {LIMIT}): move its logic into a use-case function")
    print(f"handlers: {len(found)}, over {LIMIT} lines: {len(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
