#!/usr/bin/env python3
"""Soak load against a running `wharf serve` (started by scripts/soak.sh).

Mixed load for SECONDS from a few threads: pushes of new small images (scanned on push),
pulls with every blob's digest checked, tag deletes through the management API, API and
catalog listings, token requests, and a manual GC now and then. Every second it samples
the server's RSS, open descriptors, threads and SQLite WAL size, and the request rate.

At the end every image whose tag was not deleted is pulled in full. Writes samples.csv,
summary.json and (with matplotlib) soak.png into OUT. Exit 1 on any 5xx or any image
that cannot be pulled; the figures are for the report, not pass/fail.

usage: soak.py URL PID DATA_DIR SECONDS OUT USER PASSWORD
"""

import csv
import hashlib
import json
import os
import random
import sys
import threading
import time

import requests

URL, PID, DATA, SECONDS, OUT, USER, PASSWORD = sys.argv[1:8]
SECONDS = float(SECONDS)
AUTH = (USER, PASSWORD)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

lock = threading.Lock()
statuses = {}  # status -> count
errors = []  # first few 5xx / transport errors
images = {}  # (repo, tag) -> {"manifest": digest, "blobs": [(digest, bytes-sha)]}
deleted = set()
completed = [0]
stop = threading.Event()


def record(resp):
    with lock:
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        completed[0] += 1
        if resp.status_code >= 500 and len(errors) < 20:
            errors.append(f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text[:200]}")
    return resp


def call(session, method, path, **kw):
    try:
        return record(session.request(method, URL + path, auth=AUTH, timeout=60, **kw))
    except requests.RequestException as e:
        with lock:
            statuses["error"] = statuses.get("error", 0) + 1
            if len(errors) < 20:
                errors.append(f"{method} {path}: {e}")
        return None


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push(session, n):
    repo = f"soak/app-{n % 20}"
    tag = f"v{n}"
    layer = os.urandom(random.randint(1, 64) * 1024)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}, "n": n}).encode()
    for blob in (layer, config):
        r = call(session, "POST", f"/v2/{repo}/blobs/uploads/?digest={sha(blob)}", data=blob,
                 headers={"Content-Type": "application/octet-stream"})
        if r is None or r.status_code != 201:
            return
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer), "size": len(layer)}],
    }).encode()
    r = call(session, "PUT", f"/v2/{repo}/manifests/{tag}", data=manifest, headers={"Content-Type": OCI_MANIFEST})
    if r is not None and r.status_code == 201:
        with lock:
            images[(repo, tag)] = {"manifest": sha(manifest), "blobs": [sha(layer), sha(config)]}


def pull(session, repo, tag, want):
    r = call(session, "GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
    if r is None or r.status_code != 200:
        return False
    if sha(r.content) != want["manifest"]:
        return False
    for d in want["blobs"]:
        b = call(session, "GET", f"/v2/{repo}/blobs/{d}")
        if b is None or b.status_code != 200 or sha(b.content) != d:
            return False
    return True


def pick():
    with lock:
        live = [k for k in images if k not in deleted]
    return random.choice(live) if live else None


def worker(kind, seed):
    random.seed(seed)
    s = requests.Session()
    n = seed * 1_000_000
    while not stop.is_set():
        if kind == "push":
            push(s, n)
            n += 1
        elif kind == "pull":
            k = pick()
            if k:
                with lock:
                    want = images[k]
                pull(s, k[0], k[1], want)
        elif kind == "delete":
            time.sleep(0.5)
            k = pick()
            if k:
                project, rest = k[0].split("/", 1)
                r = call(s, "DELETE", f"/api/v2.0/projects/{project}/repositories/{rest}/artifacts/{k[1]}/tags/{k[1]}")
                if r is not None and r.status_code == 200:
                    with lock:
                        deleted.add(k)
        elif kind == "list":
            call(s, "GET", "/api/v2.0/projects/soak/repositories?page_size=50")
            call(s, "GET", "/v2/_catalog?n=100")
            k = pick()
            if k:
                call(s, "GET", f"/v2/{k[0]}/tags/list")
                call(s, "GET", f"/api/v2.0/projects/soak/repositories/{k[0].split('/', 1)[1]}/artifacts?with_scan_overview=true")
        elif kind == "token":
            k = pick()
            scope = f"repository:{k[0]}:pull" if k else "registry:catalog:*"
            call(s, "GET", f"/service/token?service=wharf&scope={scope}")
            time.sleep(0.05)
        elif kind == "gc":
            time.sleep(15)
            call(s, "POST", "/api/v2.0/system/gc/schedule", json={"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": True}})


def proc_sample():
    status = open(f"/proc/{PID}/status").read()
    field = lambda name: int(next(l.split()[1] for l in status.splitlines() if l.startswith(name + ":")))
    fds = len(os.listdir(f"/proc/{PID}/fd"))
    wal = os.path.join(DATA, "wharf.db-wal")
    # RSS split: anonymous (heap: what a leak grows) and file-backed (mapped files, e.g.
    # blobs being streamed from their memory maps), so a growth can be told apart.
    return (field("VmRSS") / 1024, fds, field("Threads"),
            (os.path.getsize(wal) / 1024 / 1024 if os.path.exists(wal) else 0.0),
            field("RssAnon") / 1024, field("RssFile") / 1024)


def main():
    os.makedirs(OUT, exist_ok=True)
    kinds = ["push", "push", "pull", "pull", "pull", "delete", "list", "token", "gc"]
    threads = [threading.Thread(target=worker, args=(k, i + 1), daemon=True) for i, k in enumerate(kinds)]
    for t in threads:
        t.start()
    samples = []
    start = time.monotonic()
    last = 0
    while time.monotonic() - start < SECONDS:
        time.sleep(1)
        rss, fds, nthreads, wal, anon, filed = proc_sample()
        with lock:
            done = completed[0]
        samples.append({"t": round(time.monotonic() - start, 1), "rss_mib": round(rss, 1),
                        "rss_anon_mib": round(anon, 1), "rss_file_mib": round(filed, 1), "fds": fds,
                        "threads": nthreads, "wal_mib": round(wal, 2), "req_per_s": done - last})
        last = done
    stop.set()
    for t in threads:
        t.join(timeout=120)

    # Every image whose tag is still there is pulled in full.
    s = requests.Session()
    with lock:
        live = {k: v for k, v in images.items() if k not in deleted}
    lost = [f"{r}:{t}" for (r, t), want in live.items() if not pull(s, r, t, want)]

    with open(os.path.join(OUT, "samples.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(samples[0]))
        w.writeheader()
        w.writerows(samples)
    warm = [x for x in samples if x["t"] >= min(60, SECONDS / 3)]

    def slope(key):
        # Least-squares growth per minute after warm-up.
        if len(warm) < 2:
            return 0.0
        xs = [x["t"] for x in warm]
        ys = [x[key] for x in warm]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs) or 1
        return round(60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den, 3)

    five = {k: v for k, v in statuses.items() if k == "error" or (isinstance(k, int) and k >= 500)}
    summary = {
        "seconds": SECONDS, "requests": completed[0],
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "server_errors": sum(five.values()), "first_errors": errors,
        "images_pushed": len(images), "tags_deleted": len(deleted), "images_checked": len(live), "images_lost": lost,
        "rss_mib": {"after_warmup": warm[0]["rss_mib"] if warm else None, "end": samples[-1]["rss_mib"],
                    "max": max(x["rss_mib"] for x in samples), "slope_per_min_after_warmup": slope("rss_mib"),
                    "anon_end": samples[-1]["rss_anon_mib"], "anon_slope_per_min_after_warmup": slope("rss_anon_mib"),
                    "file_end": samples[-1]["rss_file_mib"], "file_slope_per_min_after_warmup": slope("rss_file_mib")},
        "fds": {"min_after_warmup": min((x["fds"] for x in warm), default=None), "max_after_warmup": max((x["fds"] for x in warm), default=None),
                "slope_per_min_after_warmup": slope("fds")},
        "threads_max": max(x["threads"] for x in samples),
        "wal_mib_max": max(x["wal_mib"] for x in samples),
        "req_per_s_mean": round(sum(x["req_per_s"] for x in samples) / len(samples), 1),
    }
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(9, 4))
        ts = [x["t"] for x in samples]
        ax.plot(ts, [x["rss_mib"] for x in samples], color="tab:blue", label="RSS (MiB)")
        ax.set_xlabel("seconds")
        ax.set_ylabel("RSS (MiB)", color="tab:blue")
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(ts, [x["req_per_s"] for x in samples], color="tab:orange", alpha=0.6, label="requests/s")
        ax2.set_ylabel("requests/s", color="tab:orange")
        ax2.set_ylim(bottom=0)
        ax.set_title(f"wharf serve under mixed load: RSS and request rate ({int(SECONDS)} s)")
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, "soak.png"), dpi=100)
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)

    if summary["server_errors"] or lost:
        print(f"soak: FAILED ({summary['server_errors']} server errors, {len(lost)} images not pullable)", file=sys.stderr)
        sys.exit(1)
    print("soak: passed")


if __name__ == "__main__":
    main()
