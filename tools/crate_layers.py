"""Fails on a dependency that points up the crate layers (scripts/test.sh runs it).

Usage: cargo metadata --format-version 1 | python tools/crate_layers.py

A crate may depend (normal or build dependencies; tests may reach further) only on crates of
a lower floor: the domain, then the ports, then the adapters beside the use cases (neither
knows the other), the use cases from the ground up (core, crm, messaging, then journeys and
intake and work side by side, then the api top floor), then the wiring and the runner that assemble
them, then the functions and the integration tests. An adapter on floor 2 cannot reach a use
case on floor 2 or above, so adapters never see the use cases.
"""

import json
import sys

FLOORS = {
    "nhip-domain": 0,
    "nhip-ports": 1,
    # Adapters: beside the use cases, knowing only the ports.
    "nhip-aws": 2,
    "nhip-local": 2,
    "nhip-sns-https": 2,
    # Use cases, from the ground up; journeys and intake side by side.
    "nhip-core": 2,
    "nhip-crm": 3,
    "nhip-messaging": 4,
    "nhip-journeys": 5,
    "nhip-intake": 5,
    "nhip-work": 5,
    "nhip-contracts": 5,
    "nhip-api": 6,
    # The staff console: beside the API, over the same use cases.
    "nhip-console": 6,
    # Assembly: the AWS wiring and the local runner.
    "nhip-wiring": 7,
    "nhip-local-runner": 7,
}
TOP = 8  # functions/* and tests

metadata = json.load(sys.stdin)
ours = {package["name"] for package in metadata["packages"] if package["source"] is None}
wrong = []
for package in metadata["packages"]:
    if package["source"] is not None:
        continue
    floor = FLOORS.get(package["name"], TOP)
    for dependency in package["dependencies"]:
        if dependency["name"] not in ours or dependency["kind"] == "dev":
            continue
        below = FLOORS.get(dependency["name"], TOP)
        if below >= floor:
            wrong.append(f"{package['name']} (floor {floor}) depends on {dependency['name']} (floor {below})")
unknown = sorted(name for name in ours if name.startswith("nhip-") and name not in FLOORS and name != "nhip-tests")
if unknown:
    wrong.append("crates without a floor in tools/crate_layers.py: " + ", ".join(unknown))
if wrong:
    print("crate layers: a dependency points up or sideways:\n  " + "\n  ".join(wrong))
    sys.exit(1)
print(f"crate layers: {len(ours)} crates, every dependency points down")
