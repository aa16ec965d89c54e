#!/usr/bin/env python3
"""Runs README.md's walk-throughs, command by command, against a fresh local runner and checks
that each command prints what the README shows under it.

The commands are read from the README itself (every ```sh block from "## Try it" up to
"## Layout"), never copied here, so the README cannot drift from what the product does. They
run in order in one bash session (variables such as $ADMIN and $ID carry over), from the
repository root, with three substitutions a fresh checkout needs and a reader would not:

- `cargo run -q --release --bin nhip-local --` is the nhip-local binary given with --bin (the
  test command's debug build: the same code, without a release build's minutes);
- `localhost:3000` is the runner this script starts on a free port;
- the runner's data folder is a fresh temporary one (NHIP_DATA_DIR, which `token` reads too);
- the runner's clock starts where the README's sample outputs were taken, 09:00 in Việt Nam on
  23 November 2026 (NHIP_START_AT), so the advertising its journeys send falls inside Decree
  91's hours whatever the hour of the run (the README says what a reader sees otherwise).

What a command should print is the block of `# ` comment lines right after it:

- `…` stands for anything; ULIDs and RFC 3339 instants match any ULID and any instant (they
  differ on every run); spaces and line breaks match any white space, or none;
- a trailing remark in parentheses after two or more spaces, `# {...}   (409 here: …)`, is
  for the reader and not matched;
- `# outbox: "…" …` names text that must now be in the local outbox (`/outbox.json`);
- a command that changes nothing (no -X, -d or --data-binary) is retried for a few seconds
  until its output matches, as a reader waiting on the scheduler would.

Usage: readme_walkthrough.py --bin target/debug/nhip-local [--readme README.md]
Exit status 0 when every command printed what the README shows; otherwise each mismatch is
printed with the command, the expected text and the output.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CARGO_TOKEN = "cargo run -q --release --bin nhip-local --"
ULID = r"[0-9A-HJKMNP-TV-Z]{26}"
INSTANT = r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?)?"
REMARK = re.compile(r"\s{2,}\(.*\)\s*$")
RETRY_SECONDS = 20


# Where the README's sample outputs were taken: 09:00 in Việt Nam.
README_START = "2026-11-23T02:00:00Z"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def walkthrough_blocks(readme):
    """The ```sh blocks between "## Try it" and "## Layout", in order, with their headings."""
    text = open(readme, encoding="utf-8").read()
    start = text.index("\n## Try it")
    end = text.index("\n## Layout")
    section = text[start:end]
    blocks = []
    heading = ""
    lines = section.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            heading = line[3:].strip()
        if line.strip() == "```sh":
            body = []
            i += 1
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((heading, body))
        i += 1
    return blocks


def steps_of(block):
    """A block split into (command, expected comment lines): a command is every line up to the
    next run of comment lines at the start of a line."""
    steps = []
    command, expected = [], []
    for line in block:
        if line.startswith("#"):
            expected.append(line[1:].strip(" ") if line.startswith("# ") or line == "#" else line[1:])
            continue
        if expected:
            steps.append(("\n".join(command), expected))
            command, expected = [], []
        command.append(line)
    if command or expected:
        steps.append(("\n".join(command), expected))
    return [(c, e) for c, e in steps if c.strip() or e]


def pattern_of(expected_lines):
    """A regular expression for what the comment lines show, or None if they show nothing
    checkable (prose only)."""
    parts = []
    for line in expected_lines:
        line = REMARK.sub("", line).strip()
        if line:
            parts.append(line)
    if not parts:
        return None
    text = " ".join(parts)
    out = []
    for piece in re.split(r"(…|" + ULID + "|" + INSTANT + r"|\s+)", text):
        if not piece:
            continue
        if piece == "…":
            out.append(r".*?")
        elif re.fullmatch(ULID, piece):
            out.append(ULID)
        elif re.fullmatch(INSTANT, piece):
            out.append(INSTANT)
        elif piece.isspace():
            out.append(r"\s*")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out), re.S)


def outbox_texts(expected_lines):
    """The quoted texts of `outbox:` lines."""
    texts = []
    for line in expected_lines:
        if line.startswith("outbox:"):
            texts.extend(re.findall(r'"([^"]+)"', line))
    return texts


def changes_state(command):
    return bool(re.search(r"(^|\s)(-X|-d|--data-binary)(\s|$)", command))


class Shell:
    """One bash session; each step's stdout is read up to a marker."""

    def __init__(self, env, cwd):
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.errors = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.counter = 0

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.errors.append(line)

    def run(self, command):
        self.counter += 1
        marker = f"__README_STEP_{self.counter}__"
        self.proc.stdin.write(command + f"\necho; echo {marker} $?\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            if line.startswith(marker):
                return "".join(out), int(line.split()[1])
            out.append(line)
        raise RuntimeError("bash ended")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the nhip-local binary")
    parser.add_argument("--readme", default="README.md")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    root = os.path.dirname(os.path.abspath(args.readme))
    port = free_port()
    data = tempfile.mkdtemp(prefix="nhip-readme-")
    env = dict(os.environ, NHIP_DATA_DIR=data, NHIP_ADDR=f"127.0.0.1:{port}", NHIP_START_AT=README_START)
    env.pop("NHIP_JWT_SECRET", None)
    log = open(os.path.join(data, "runner.log"), "w")
    runner = subprocess.Popen([binary], env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    failures = []
    checked = 0
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:
                if runner.poll() is not None or time.time() > deadline:
                    print(open(os.path.join(data, "runner.log")).read())
                    print("the runner did not start")
                    return 1
                time.sleep(0.25)
        shell = Shell(env, root)
        shell.run("set -o pipefail")
        for heading, block in walkthrough_blocks(args.readme):
            for command, expected in steps_of(block):
                script = command.replace(CARGO_TOKEN, f'"{binary}"').replace(
                    "localhost:3000", f"localhost:{port}"
                )
                pattern = pattern_of([l for l in expected if not l.startswith("outbox:")])
                texts = outbox_texts(expected)
                rerun = not changes_state(command)
                started = time.time()
                output, status = shell.run(script) if script.strip() else ("", 0)
                while True:
                    problems = []
                    if status != 0:
                        problems.append(f"exit status {status}")
                    if pattern is not None and not pattern.search(output):
                        problems.append("output does not match")
                    if texts:
                        with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/outbox.json?limit=200", timeout=5
                        ) as r:
                            outbox = json.dumps(json.load(r), ensure_ascii=False)
                        missing = [t for t in texts if t not in outbox]
                        if missing:
                            problems.append(f"not in the outbox: {missing}")
                    # What a reader would wait for: a read-only command is run again; after a
                    # command that changed something, only the outbox is looked at again.
                    waiting = rerun or not any(p.startswith("output") for p in problems)
                    if not problems or not waiting or time.time() - started > RETRY_SECONDS:
                        break
                    time.sleep(0.5)
                    if rerun:
                        output, status = shell.run(script)
                checked += 1
                if problems:
                    failures.append((heading, command, expected, output, problems))
        shell.close()
    finally:
        runner.terminate()
        try:
            runner.wait(timeout=15)
        except subprocess.TimeoutExpired:
            runner.kill()
    for heading, command, expected, output, problems in failures:
        print(f"--- {heading}: {'; '.join(problems)}")
        print("command:\n  " + command.replace("\n", "\n  "))
        print("README shows:\n  " + "\n  ".join(expected))
        print("printed:\n  " + (output.strip() or "(nothing)").replace("\n", "\n  "))
    print(f"README walk-through: {checked} commands run, {len(failures)} not as shown")
    if failures:
        print(f"(runner log and data in {data})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
