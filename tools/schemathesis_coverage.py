"""Fails unless every operation of the OpenAPI document succeeded at least once.

Usage: schemathesis_coverage.py OPENAPI_URL UNREACHED_LIST RECORD [RECORD ...]

Each RECORD is a file of lines `METHOD PATH-TEMPLATE STATUS`, written by
tools/schemathesis_hooks.py during one schemathesis run (scripts/test.sh runs it as an admin
and as a consultant; an operation counts as reached when either run succeeded: a 2xx, or the
303 of a tracked link). The document itself is read here, so `GET /v1/openapi.json` counts.

UNREACHED_LIST (tools/schemathesis-unreached.txt) names, one `METHOD PATH  # why` per line, the
operations the fuzzer cannot reach yet. It only shrinks: an operation not on it that is never
reached fails the run, and so does one on it that was reached (take it off the list).
"""

import json
import sys
import urllib.request
from collections import Counter, defaultdict

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def main() -> int:
    url, allowed_path, records = sys.argv[1], sys.argv[2], sys.argv[3:]
    with urllib.request.urlopen(url, timeout=10) as response:
        document = json.load(response)
    operations = sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    )
    statuses: dict[tuple[str, str], Counter] = defaultdict(Counter)
    statuses[("GET", "/v1/openapi.json")][200] += 1
    for record in records:
        with open(record, encoding="utf-8") as lines:
            for line in lines:
                method, path, status = line.split()
                statuses[(method, path)][int(status)] += 1
    allowed = set()
    with open(allowed_path, encoding="utf-8") as lines:
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line:
                method, path = line.split()
                allowed.add((method, path))
    failed = False
    unreached = 0
    for op in operations:
        reached = any(200 <= s < 400 for s in statuses[op])
        seen = ", ".join(f"{s}×{n}" for s, n in sorted(statuses[op].items())) or "never called"
        if not reached:
            unreached += 1
        if not reached and op not in allowed:
            print(f"  never succeeded: {op[0]} {op[1]} ({seen})")
            failed = True
        elif reached and op in allowed:
            print(f"  reached now, take it off {allowed_path}: {op[0]} {op[1]}")
            failed = True
    for op in sorted(allowed - set(operations)):
        print(f"  not in the document, take it off {allowed_path}: {op[0]} {op[1]}")
        failed = True
    print(
        f"schemathesis reached {len(operations) - unreached} of {len(operations)} operations "
        f"({unreached} listed in {allowed_path})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
