#!/usr/bin/env python3
"""Measures each Lambda bootstrap's init against a local Runtime API stub.

Init is the time from spawning the process to its first
`GET /2018-06-01/runtime/invocation/next`: everything a function does before it can take
its first event (loading the binary, the tokio runtime, tracing, reading its secrets and the
rest of its configuration, building the SDK clients and the HTTP clients). The stub listens
on 127.0.0.1 only and each process is killed as soon as its first `next` arrives. It also
stands in for Secrets Manager (`NHIP_AWS_ENDPOINT` points at it): `GetSecretValue` answers a
dummy value for `AWSCURRENT` (the word `unset` for a Zalo secret, as a fresh stack holds) and
ResourceNotFoundException for the other stages, as for a secret never rotated. Nothing else
is answered.

Every binary runs once to warm the page cache (not counted), then `--runs` rounds follow, each
running every binary once in a shuffled order, so drift on a shared machine falls on all of
them alike. The report gives the median and p90 per binary and the ratio of each median to
the baseline's (lambda_runtime's hello world).

Usage: coldstart_init.py --runs 20 --baseline hello [--template template.yaml] NAME=PATH ...
The functions' environment is this process's environment; the stub's address is added as
AWS_LAMBDA_RUNTIME_API. With `--template`, each function gets the environment template.yaml
gives it instead, as Lambda would: the `NHIP_*` variables of this process are dropped, then
the template's global variables and the function's own are set (the function whose `CodeUri`
is `functions/NAME`; `LABEL@NAME=PATH` measures another build of NAME under its own label).
A `!Ref` to a parameter takes the parameter's default; any other value that only a stack can
resolve (`!Ref` to a resource or a parameter without a default, `!Sub`, `!GetAtt`) takes the
variable's value in this process, the dummy resources. A binary that is no function of the
template (hello world) gets no `NHIP_*` variable at all.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NEXT_PATH = "/2018-06-01/runtime/invocation/next"


class Stub:
    """The Runtime API stub: notes when the current run's first `next` arrives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_at: int | None = None
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.init_error: str | None = None
        self.secret_reads = 0

    def reset(self) -> None:
        with self.lock:
            self.next_at = None
            self.init_error = None
            self.arrived.clear()
            self.released.clear()


def make_handler(stub: Stub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            now = time.perf_counter_ns()
            if self.path == NEXT_PATH:
                with stub.lock:
                    if stub.next_at is None:
                        stub.next_at = now
                stub.arrived.set()
                # Hold the request until the process is killed: it never gets an event.
                stub.released.wait(timeout=10)
                self.close_connection = True
                return
            self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            if self.headers.get("X-Amz-Target") == "secretsmanager.GetSecretValue":
                self.secret(json.loads(body or "{}"))
                return
            if self.path.endswith("/init/error"):
                with stub.lock:
                    stub.init_error = body[:500]
                stub.arrived.set()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def secret(self, request: dict) -> None:
            """Secrets Manager's answer to one GetSecretValue."""
            with stub.lock:
                stub.secret_reads += 1
            arn = str(request.get("SecretId", ""))
            stage = request.get("VersionStage", "AWSCURRENT")
            if stage == "AWSCURRENT":
                value = "unset" if "zalo" in arn else "coldstart-secret-of-at-least-32-bytes-" + "x" * 10
                status, answer = 200, {
                    "ARN": arn, "Name": arn.rsplit(":", 1)[-1], "SecretString": value,
                    "VersionId": "00000000-0000-0000-0000-000000000001",
                    "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9,
                }
            else:
                status, answer = 400, {
                    "__type": "ResourceNotFoundException",
                    "message": f"Secrets Manager can't find the specified secret value for staging label: {stage}",
                }
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass

    return Handler


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def run_once(stub: Stub, path: str, env: dict[str, str], timeout: float, log) -> float | str:
    """One init: milliseconds to the first `next`, or the reason there was none."""
    stub.reset()
    start = time.perf_counter_ns()
    proc = subprocess.Popen(
        [path], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True
    )
    try:
        deadline = time.monotonic() + timeout
        while not stub.arrived.wait(timeout=0.005):
            if proc.poll() is not None:
                return f"exited with status {proc.returncode} before its first next"
            if time.monotonic() > deadline:
                return f"no next within {timeout:.0f} s"
        with stub.lock:
            next_at, init_error = stub.next_at, stub.init_error
        if next_at is None:
            return f"reported an init error: {init_error}"
        return (next_at - start) / 1e6
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        stub.released.set()


def outside_connects(path: str, env: dict[str, str], port: int, timeout: float) -> list[str]:
    """The addresses one start of `path` connects to besides the stub (strace)."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as trace:
        proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-e", "trace=connect,sendto", "-o", trace.name, path],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(timeout)
        proc.kill()
        proc.wait()
        found = set()
        for line in trace.read().splitlines():
            addr = re.search(r'inet6?_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"', line)
            port_m = re.search(r"sin6?_port=htons\((\d+)\)", line)
            if addr:
                where = f"{addr.group(1)}:{port_m.group(1) if port_m else '?'}"
                if where != f"127.0.0.1:{port}":
                    found.add(where)
            elif "sun_path" in line and "nscd" not in line:
                found.add(re.search(r'sun_path="([^"]*)"', line).group(1))
        return sorted(found)


def template_environments(path: str, environ: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each function's variables in the template (globals first), keyed by its folder under
    functions/, resolved as the module docstring says."""
    import yaml  # PyYAML: scripts/coldstart.sh installs it beside cargo-lambda

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {"tag": suffix, "value": value}

    Loader.add_multi_constructor("!", tagged)
    with open(path, encoding="utf-8") as f:
        template = yaml.load(f, Loader=Loader)
    parameters = template.get("Parameters", {})

    def default_of(value):
        """The parameter default a `!Ref` names, or None."""
        if isinstance(value, dict) and value.get("tag") == "Ref":
            parameter = parameters.get(value["value"])
            if parameter is not None and "Default" in parameter:
                return str(parameter["Default"])
        return None

    def resolve(var: str, value):
        """The variable's value, or None when the stack would leave it out: an
        `!If [cond, !Ref Parameter, !Ref AWS::NoValue]` whose parameter is at an empty default."""
        if isinstance(value, dict) and value.get("tag") == "If":
            _, then, otherwise = value["value"]
            if otherwise == {"tag": "Ref", "value": "AWS::NoValue"} and default_of(then) == "":
                return None
        elif default_of(value) is not None:
            return default_of(value)
        elif isinstance(value, bool) or not isinstance(value, (dict, str, int, float)):
            raise SystemExit(f"{path}: {var} is not a string ({value!r}): quote it")
        elif not isinstance(value, dict):
            return str(value)
        if var not in environ:
            missing.add(var)
        return environ.get(var, "")

    def variables(properties) -> dict:
        return ((properties or {}).get("Environment") or {}).get("Variables") or {}

    missing: set[str] = set()
    common = variables(template.get("Globals", {}).get("Function"))
    functions = {}
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        code = str(resource["Properties"].get("CodeUri", ""))
        if not code.startswith("functions/"):
            continue
        merged = dict(common, **variables(resource["Properties"]))
        resolved = {var: resolve(var, value) for var, value in merged.items()}
        functions[code.removeprefix("functions/").strip("/")] = {
            var: value for var, value in resolved.items() if value is not None
        }
    if missing:
        raise SystemExit(f"{path}: give these a dummy value in the environment: {sorted(missing)}")
    return functions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per start")
    parser.add_argument("--baseline", default="hello")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument(
        "--check-network",
        action="store_true",
        help="also start each binary once under strace and name any address it connects to "
        "besides the stub",
    )
    parser.add_argument(
        "--template",
        help="give each function the environment this SAM template gives it (see above)",
    )
    parser.add_argument("binaries", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()

    binaries = dict(b.split("=", 1) for b in args.binaries)
    if args.baseline not in binaries:
        parser.error(f"the baseline {args.baseline!r} is not among the binaries")
    own_env: dict[str, dict[str, str]] = {name: {} for name in binaries}
    if args.template:
        functions = template_environments(args.template, dict(os.environ))
        for name in binaries:
            function = name.split("@")[-1]
            own_env[name] = functions.get(function, {})
            if function not in functions and name != args.baseline:
                print(f"{name}: no function of {args.template}; no NHIP_* variable", flush=True)

    stub = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(stub))
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}")
    if args.template:
        env = {var: value for var, value in env.items() if not var.startswith("NHIP_")}
    # Secrets Manager is the stub too (see above).
    env["NHIP_AWS_ENDPOINT"] = f"http://127.0.0.1:{port}"

    def env_of(name: str) -> dict[str, str]:
        return dict(env, **own_env[name], AWS_LAMBDA_FUNCTION_NAME=name.split("@")[-1])
    logs_dir = tempfile.mkdtemp(prefix="nhip-coldstart-")
    logs = {name: open(os.path.join(logs_dir, f"{name}.log"), "wb") for name in binaries}
    times: dict[str, list[float]] = {name: [] for name in binaries}
    failures: dict[str, list[str]] = {name: [] for name in binaries}

    print(f"Runtime API stub on 127.0.0.1:{port}; warm-up start of each binary", flush=True)
    for name, path in binaries.items():
        outcome = run_once(stub, path, env_of(name), args.timeout, logs[name])
        if isinstance(outcome, str):
            failures[name].append(outcome)

    rng = random.Random(args.seed)
    order = list(binaries)
    for round_ in range(args.runs):
        rng.shuffle(order)
        for name in order:
            if len(failures[name]) > 2:
                continue
            outcome = run_once(stub, binaries[name], env_of(name), args.timeout, logs[name])
            if isinstance(outcome, str):
                failures[name].append(outcome)
            else:
                times[name].append(outcome)
        print(f"  round {round_ + 1}/{args.runs} done", flush=True)

    network: dict[str, list[str]] = {}
    if args.check_network:
        if shutil.which("strace"):
            for name, path in binaries.items():
                network[name] = outside_connects(path, env_of(name), port, 1.5)
        else:
            print("strace is not installed: the network check is skipped", file=sys.stderr)

    server.shutdown()
    for log in logs.values():
        log.close()

    base = times[args.baseline]
    base_median = statistics.median(base) if base else float("nan")
    rows = []
    for name in binaries:
        values = times[name]
        row = {"name": name, "runs": len(values), "failures": failures[name]}
        if values:
            row.update(
                median_ms=statistics.median(values),
                p90_ms=percentile(values, 90),
                min_ms=min(values),
                ratio=statistics.median(values) / base_median,
            )
        if name in network:
            row["outside_connects"] = network[name]
        rows.append(row)

    print()
    print(f"{'binary':<20} {'runs':>4} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'× hello':>8}")
    for row in rows:
        if row["runs"]:
            print(
                f"{row['name']:<20} {row['runs']:>4} {row['median_ms']:>10.2f} "
                f"{row['p90_ms']:>8.2f} {row['min_ms']:>8.2f} {row['ratio']:>8.2f}"
            )
        else:
            print(f"{row['name']:<20} {0:>4}  did not start: {row['failures'][:1]}")
    for row in rows:
        if row["failures"]:
            print(f"{row['name']}: {len(row['failures'])} failed start(s): {row['failures'][0]}")
            print(f"  its output: {os.path.join(logs_dir, row['name'] + '.log')}")
        if row.get("outside_connects"):
            print(f"{row['name']}: connected outside the stub at init: {row['outside_connects']}")
    if args.check_network:
        clean = [r["name"] for r in rows if r.get("outside_connects") == []]
        print(f"network check: {len(clean)}/{len(rows)} binaries reached nothing but the stub")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"stub_port": port, "runs": args.runs, "rows": rows}, out, indent=2)
    ok = all(row["runs"] == args.runs for row in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
