#!/usr/bin/env python3
"""Runs one job of a GitLab CI template the way a GitLab runner's shell executor does.

GitLab (docs.gitlab.com, "CI/CD YAML syntax reference", "Use CI/CD variables"):
global `variables:` then the job's (after `extends:` is resolved, hashes merged,
the child winning), each value's $VAR / ${VAR} expanded against the variables before
it and the predefined ones (CI_REGISTRY_IMAGE, CI_COMMIT_SHA, CI_PROJECT_DIR, …);
`rules: - if:` decides whether the job exists; `before_script` and `script` run as
one bash script in CI_PROJECT_DIR, stopping at the first failing command;
`artifacts:reports` name files the job must leave behind.

Prints JSON: ran (false when rules excluded the job), exit_code, the artifacts'
paths and whether each exists.
"""

import argparse
import json
import os
import re
import subprocess
import sys

import yaml

VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand(value, env):
    return VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), str(value))


def resolve(jobs, name):
    job = jobs[name]
    parents = job.get("extends", [])
    if isinstance(parents, str):
        parents = [parents]
    merged = {}
    for p in parents:
        merge(merged, resolve(jobs, p))
    merge(merged, {k: v for k, v in job.items() if k != "extends"})
    return merged


def merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v


def rule_matches(expr, env):
    """The `if:` forms the template uses: `$VAR` (set and non-empty), `$VAR == "x"`."""
    expr = expr.strip()
    m = re.fullmatch(r"\$(\w+)", expr)
    if m:
        return env.get(m.group(1), "") != ""
    m = re.fullmatch(r'\$(\w+)\s*(==|!=)\s*"([^"]*)"', expr)
    if m:
        eq = env.get(m.group(1), "") == m.group(3)
        return eq if m.group(2) == "==" else not eq
    raise SystemExit(f"rules: if: {expr!r} is not emulated")


def script_lines(v):
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template")
    ap.add_argument("job")
    ap.add_argument("--project-dir", required=True)
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="predefined and project variables")
    args = ap.parse_args()

    doc = yaml.safe_load(open(args.template, encoding="utf-8"))
    job = resolve(doc, args.job)
    env = dict(os.environ)
    env.update({"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": os.path.abspath(args.project_dir),
                "CI_JOB_NAME": args.job})
    given = dict(kv.split("=", 1) for kv in args.var)
    env.update(given)
    # Template variables are defaults: a project variable of the same name wins.
    for scope in (doc.get("variables") or {}, job.get("variables") or {}):
        for k, v in scope.items():
            if k not in given:
                env[k] = expand(v["value"] if isinstance(v, dict) else v, env)

    rules = job.get("rules")
    if rules is not None:
        ran = any(rule_matches(r["if"], env) for r in rules if "if" in r and r.get("when") != "never")
        if not ran:
            json.dump({"ran": False}, sys.stdout)
            return

    script = "\n".join(script_lines(job.get("before_script")) + script_lines(job.get("script")))
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], env=env,
                          cwd=env["CI_PROJECT_DIR"], stdout=subprocess.PIPE, text=True)
    sys.stderr.write(proc.stdout)
    reports = (job.get("artifacts") or {}).get("reports") or {}
    out = {"ran": True, "exit_code": proc.returncode, "log": proc.stdout,
           "reports": {k: {"path": os.path.join(env["CI_PROJECT_DIR"], v),
                           "exists": os.path.isfile(os.path.join(env["CI_PROJECT_DIR"], v))}
                       for k, v in reports.items()}}
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
