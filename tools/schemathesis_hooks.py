"""schemathesis hooks for the test command (scripts/test.sh loads them with SCHEMATHESIS_HOOKS).

Every answer is recorded as one line `METHOD PATH-TEMPLATE STATUS` in the file named by
NHIP_ST_RECORD, so that tools/schemathesis_coverage.py can tell which operations never
answered 2xx over the whole run (schemathesis itself only warns about 404s).
"""

import os

import schemathesis

_RECORD = os.environ.get("NHIP_ST_RECORD")


@schemathesis.hook
def after_call(context, case, response):
    if _RECORD:
        with open(_RECORD, "a", encoding="utf-8") as out:
            out.write(f"{case.operation.method.upper()} {case.operation.path} {response.status_code}\n")
