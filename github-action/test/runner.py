#!/usr/bin/env python3
"""Runs a composite action's steps the way the GitHub runner does, for tests.

What the runner does and this reproduces (docs.github.com, "Metadata syntax for
GitHub Actions" and "Workflow commands for GitHub Actions"):

* inputs: declared defaults, `required`, then `${{ inputs.x }}` substituted into
  `env:`, `with:`, `if:`, `name:` and `run:` before the step starts;
* contexts `inputs`, `steps.<id>.outputs|outcome|conclusion`, `github`, `runner`, `env`;
  the expression language's literals, `== != && || !`, `()`, and the functions
  success() failure() always() cancelled() contains() startsWith() endsWith()
  format() join() toJSON() fromJSON(); a step's `if:` gets an implicit success();
* `run:` steps with `shell: bash` as `bash --noprofile --norc -eo pipefail FILE`;
* fresh GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files per step (name=value and
  name<<DELIM forms), GITHUB_ENV and GITHUB_PATH carried to later steps,
  GITHUB_WORKSPACE, RUNNER_TEMP, GITHUB_ACTION_PATH;
* `::error|warning|notice ...::message` lines on stdout become annotations;
* `uses: actions/cache/restore@v4` and `actions/cache/save@v4` against a local
  directory (--cache-root) keyed exactly as the action asks; any other `uses:` fails.

Prints one JSON document: success, failed step, exit code, the action's outputs,
the job summary, the annotations, and each step's outcome.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml


class ExprError(Exception):
    pass


TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_-]*))"
)


def tokenize(src):
    pos, out = 0, []
    src = src.strip()
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise ExprError(f"cannot parse {src[pos:]!r} in {src!r}")
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
    return out


def to_str(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def to_num(v):
    if v is None or v == "":
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def loose_eq(a, b):
    """The expression language's ==: strings case-insensitively, else as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b) and not isinstance(a, (int, float)):
        return a == b
    return to_num(a) == to_num(b)


class Evaluator:
    def __init__(self, ctx, status):
        self.ctx = ctx
        self.status = status  # "success" or "failure" so far

    def eval(self, src):
        self.toks = tokenize(src)
        self.i = 0
        v = self.or_()
        if self.i != len(self.toks):
            raise ExprError(f"unexpected {self.toks[self.i][1]!r} in {src!r}")
        return v

    def peek(self):
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, want=None):
        tok = self.toks[self.i]
        if want is not None and tok[1] != want:
            raise ExprError(f"expected {want!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def or_(self):
        v = self.and_()
        while self.peek() == "||":
            self.take()
            r = self.and_()
            v = v if v else r
        return v

    def and_(self):
        v = self.cmp()
        while self.peek() == "&&":
            self.take()
            r = self.cmp()
            v = r if v else v
        return v

    def cmp(self):
        v = self.unary()
        while self.peek() in ("==", "!=", "<", ">", "<=", ">="):
            op = self.take()[1]
            r = self.unary()
            if op == "==":
                v = loose_eq(v, r)
            elif op == "!=":
                v = not loose_eq(v, r)
            else:
                a, b = to_num(v), to_num(r)
                v = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return v

    def unary(self):
        if self.peek() == "!":
            self.take()
            return not self.unary()
        return self.postfix()

    def postfix(self):
        v = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = to_str(self.or_())
                self.take("]")
            if isinstance(v, dict):
                v = next((val for k, val in v.items() if k.lower() == key.lower()), None)
            else:
                v = None
        return v

    def primary(self):
        kind, text = self.take()
        if text == "(":
            v = self.or_()
            self.take(")")
            return v
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind != "id":
            raise ExprError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return self.call(text, args)
        if text not in self.ctx:
            raise ExprError(f"unknown context {text!r}")
        return self.ctx[text]

    def call(self, name, args):
        n = name.lower()
        if n == "success":
            return self.status == "success"
        if n == "failure":
            return self.status == "failure"
        if n == "always":
            return True
        if n == "cancelled":
            return False
        if n == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(loose_eq(x, needle) for x in hay)
            return to_str(needle).lower() in to_str(hay).lower()
        if n == "startswith":
            return to_str(args[0]).lower().startswith(to_str(args[1]).lower())
        if n == "endswith":
            return to_str(args[0]).lower().endswith(to_str(args[1]).lower())
        if n == "format":
            return re.sub(r"\{(\d+)\}", lambda m: to_str(args[1 + int(m.group(1))]), to_str(args[0]))
        if n == "join":
            sep = to_str(args[1]) if len(args) > 1 else ","
            return sep.join(to_str(x) for x in args[0]) if isinstance(args[0], list) else to_str(args[0])
        if n == "tojson":
            return json.dumps(args[0], indent=2)
        if n == "fromjson":
            return json.loads(to_str(args[0]))
        raise ExprError(f"unsupported function {name}()")


EMBED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def substitute(text, ctx, status="success"):
    """`${{ expr }}` inside a string, as the runner expands it before a step runs."""
    if not isinstance(text, str):
        return to_str(text)
    return EMBED.sub(lambda m: to_str(Evaluator(ctx, status).eval(m.group(1))), text)


STATUS_FUNCS = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.I)


def condition(expr, ctx, status):
    """A step's `if:`: bare or wrapped in ${{ }}, with success() && implied."""
    if expr is None:
        return status == "success"
    expr = str(expr).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", expr, re.S)
    if m:
        expr = m.group(1)
    if not STATUS_FUNCS.search(expr):
        expr = f"success() && ({expr})"
    return bool(Evaluator(ctx, status).eval(expr))


def read_outputs(path):
    """name=value lines and name<<DELIM … DELIM blocks, as the runner parses them."""
    out = {}
    lines = open(path, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise SystemExit(f"{path}: no closing {delim!r} for {name!r}")
            out[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        elif line.strip():
            raise SystemExit(f"{path}: malformed line {line!r}")
        i += 1
    return out


COMMAND = re.compile(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$")


def unescape(s, prop=False):
    s = s.replace("%0D", "\r").replace("%0A", "\n")
    if prop:
        s = s.replace("%3A", ":").replace("%2C", ",")
    return s.replace("%25", "%")


def annotations(stdout):
    found = []
    for line in stdout.splitlines():
        m = COMMAND.match(line)
        if not m:
            continue
        props = {}
        for part in (m.group(2) or "").split(","):
            if "=" in part:
                k, v = part.split("=", 1)
                props[k.strip()] = unescape(v, prop=True)
        found.append({"level": m.group(1), "message": unescape(m.group(3)), **props})
    return found


def emulate_cache(step_uses, with_, cache_root, ctx):
    key = with_["key"]
    paths = [os.path.expanduser(p) for p in with_["path"].splitlines() if p.strip()]
    entry = os.path.join(cache_root, re.sub(r"[^A-Za-z0-9._-]", "_", key))
    if step_uses.startswith("actions/cache/restore@"):
        if os.path.isdir(entry):
            for i, p in enumerate(paths):
                shutil.copytree(os.path.join(entry, str(i)), p, dirs_exist_ok=True)
            return {"cache-hit": "true", "cache-primary-key": key, "cache-matched-key": key}
        return {"cache-hit": "false", "cache-primary-key": key}
    if step_uses.startswith("actions/cache/save@"):
        if not os.path.isdir(entry):
            for i, p in enumerate(paths):
                shutil.copytree(p, os.path.join(entry, str(i)))
        return {}
    raise SystemExit(f"uses: {step_uses} is not emulated")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", help="directory holding action.yml")
    ap.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--input-file", action="append", default=[], metavar="NAME=FILE",
                    help="an input whose value is a file's contents (e.g. a key from a secret)")
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--cache-root", required=True, help="where actions/cache entries live")
    ap.add_argument("--temp", help="RUNNER_TEMP (default: a new temporary directory)")
    ap.add_argument("--env", "-e", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()

    action_dir = os.path.abspath(args.action)
    meta = yaml.safe_load(open(os.path.join(action_dir, "action.yml"), encoding="utf-8"))
    assert meta["runs"]["using"] == "composite", "only composite actions"

    given = dict(kv.split("=", 1) for kv in args.input)
    for kv in args.input_file:
        name, path = kv.split("=", 1)
        given[name] = open(path, encoding="utf-8").read()
    declared = meta.get("inputs") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise SystemExit(f"unexpected inputs {sorted(unknown)} (the runner warns; we refuse)")
    inputs = {}
    for name, spec in declared.items():
        if name in given:
            inputs[name] = given[name]
        elif spec.get("required") and "default" not in spec:
            raise SystemExit(f"input required and not supplied: {name}")
        else:
            inputs[name] = to_str(spec.get("default", ""))

    temp = os.path.abspath(args.temp) if args.temp else tempfile.mkdtemp(prefix="runner-temp-")
    os.makedirs(temp, exist_ok=True)
    files = tempfile.mkdtemp(prefix="files-", dir=temp)
    job_env = dict(os.environ)
    job_env.update(kv.split("=", 1) for kv in args.env)
    job_env.update({
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": os.path.abspath(args.workspace),
        "GITHUB_ACTION_PATH": action_dir,
        "GITHUB_REPOSITORY": "example/app",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_RUN_ID": "1",
        "RUNNER_TEMP": temp,
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_TOOL_CACHE": os.path.join(temp, "toolcache"),
    })
    github = {
        "action_path": action_dir,
        "workspace": job_env["GITHUB_WORKSPACE"],
        "repository": job_env["GITHUB_REPOSITORY"],
        "sha": job_env["GITHUB_SHA"],
        "ref": job_env["GITHUB_REF"],
        "run_id": "1",
    }
    runner = {"temp": temp, "os": "Linux", "arch": "X64", "tool_cache": job_env["RUNNER_TOOL_CACHE"]}
    env_file = os.path.join(files, "env")
    path_file = os.path.join(files, "path")
    open(env_file, "w").close()
    open(path_file, "w").close()
    job_env["GITHUB_ENV"] = env_file
    job_env["GITHUB_PATH"] = path_file

    steps_ctx = {}
    status = "success"
    failed_step, exit_code = None, 0
    summary, notes, stdout_all, report = [], [], [], []
    for n, step in enumerate(meta["runs"]["steps"]):
        sid = step.get("id", f"__{n}")
        ctx = {"inputs": inputs, "steps": steps_ctx, "github": github, "runner": runner,
               "env": {k: v for k, v in job_env.items()}}
        if not condition(step.get("if"), ctx, status):
            steps_ctx[sid] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
            report.append({"id": sid, "outcome": "skipped"})
            continue
        if "uses" in step:
            with_ = {k: substitute(v, ctx, status) for k, v in (step.get("with") or {}).items()}
            outs = emulate_cache(step["uses"], with_, args.cache_root, ctx)
            steps_ctx[sid] = {"outputs": outs, "outcome": "success", "conclusion": "success"}
            report.append({"id": sid, "outcome": "success", "uses": step["uses"], "with": with_})
            continue
        assert step.get("shell") == "bash", f"step {sid}: composite run steps need shell: bash"
        env = dict(job_env)
        env.update({k: substitute(v, ctx, status) for k, v in (step.get("env") or {}).items()})
        out_file = os.path.join(files, f"output-{n}")
        sum_file = os.path.join(files, f"summary-{n}")
        open(out_file, "w").close()
        open(sum_file, "w").close()
        env["GITHUB_OUTPUT"] = out_file
        env["GITHUB_STEP_SUMMARY"] = sum_file
        script = os.path.join(files, f"step-{n}.sh")
        with open(script, "w", encoding="utf-8") as f:
            f.write(substitute(step["run"], ctx, status))
        cwd = substitute(step.get("working-directory", ""), ctx, status) or job_env["GITHUB_WORKSPACE"]
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
                              env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
        sys.stderr.write(proc.stdout)
        stdout_all.append(proc.stdout)
        notes.extend(annotations(proc.stdout))
        outs = read_outputs(out_file)
        summary.append(open(sum_file, encoding="utf-8").read())
        # GITHUB_ENV / GITHUB_PATH: later steps see them.
        job_env.update(read_outputs(env_file))
        extra = [p for p in open(path_file, encoding="utf-8").read().splitlines() if p]
        if extra:
            job_env["PATH"] = os.pathsep.join(reversed(extra)) + os.pathsep + os.environ["PATH"]
        outcome = "success" if proc.returncode == 0 else "failure"
        steps_ctx[sid] = {"outputs": outs, "outcome": outcome, "conclusion": outcome}
        report.append({"id": sid, "outcome": outcome, "exit_code": proc.returncode})
        if outcome == "failure" and status == "success":
            status, failed_step, exit_code = "failure", sid, proc.returncode

    ctx = {"inputs": inputs, "steps": steps_ctx, "github": github, "runner": runner, "env": job_env}
    outputs = {name: substitute(spec["value"], ctx, status)
               for name, spec in (meta.get("outputs") or {}).items()}
    json.dump({
        "success": status == "success",
        "failed_step": failed_step,
        "exit_code": exit_code,
        "outputs": outputs,
        "summary": "".join(summary),
        "annotations": notes,
        "steps": report,
        "env": {k: v for k, v in job_env.items() if k.startswith("WHARF")},
        "runner_temp": temp,
    }, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
