#!/usr/bin/env bash
# Garbage collection benchmark (release build), two figures:
#
# 1. GC of a registry with 10,000 manifests and 20,000 blobs (target < 10 s):
#    the registry is filled through the OCI API by a small generator (Python,
#    8 threads, keep-alive connections): 100 repositories x 100 tagged images,
#    each a unique config + a unique layer (20,000 blobs). Then half the tags
#    are deleted, and GC with delete_untagged removes those 5,000 manifests and
#    their 10,000 blobs. The time is the job's own (start to end) and the
#    wall time of the API call until the job ended.
# 2. Push throughput of 100 small images (config + 2 layers, 4 KiB each, 4
#    threads; median of three runs each) without GC, then while GC runs back to
#    back over a backlog of 20,000 unreferenced blobs (target: at least 80% of
#    the first figure). Both after the backlog is written, so that only GC
#    differs: 20,000 fresh files slow the next pushes down by themselves.
#
# Usage: scripts/bench-gc.sh            (builds target/release/wharf if needed)
# Env:   WHARF_BIN=path/to/wharf        (skip the build)
#        BENCH_REPOS=100                (repositories of 100 images each; 100 = the target size)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${WHARF_BIN:-target/release/wharf}
if [[ -z "${WHARF_BIN:-}" ]]; then
    cargo build --release --locked --bin wharf
fi
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PASSWORD=Bench12345
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA/data" --admin-password "$PASSWORD" \
    --gc-grace-period 1 >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do
    curl -fso /dev/null "http://127.0.0.1:$PORT/v2/" -u "admin:$PASSWORD" && break
    sleep 0.1
done

python3 - "$PORT" "$PASSWORD" "${BENCH_REPOS:-100}" <<'PY'
import base64, hashlib, http.client, json, os, sys, threading, time

port, password, repos = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
manifests = repos * 100
AUTH = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
local = threading.local()


def conn():
    if not hasattr(local, "c"):
        local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    return local.c


def call(method, path, body=None, ctype=None):
    headers = {"Authorization": AUTH}
    if ctype:
        headers["Content-Type"] = ctype
    c = conn()
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    return r.status, r.getheader("Location"), data


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def blob(repo, data):
    d = digest(data)
    status, _, body = call("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data, "application/octet-stream")
    assert status == 201, (status, body)
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(data)}


def image(repo, tag, seed, layers=1, size=64):
    cfg = json.dumps({"seed": seed}).encode()
    config = blob(repo, cfg)
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    ls = [blob(repo, (f"{seed}/{i}/".encode() * (size // 8 + 1))[:size]) for i in range(layers)]
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config, "layers": ls}).encode()
    status, _, body = call("PUT", f"/v2/{repo}/manifests/{tag}", m, "application/vnd.oci.image.manifest.v1+json")
    assert status == 201, (status, body)


def parallel(n_threads, items, fn):
    items = list(items)
    def run(chunk):
        for it in chunk:
            fn(*it)
    ts = [threading.Thread(target=run, args=(items[i::n_threads],)) for i in range(n_threads)]
    t0 = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    return time.monotonic() - t0


def gc(params):
    status, loc, body = call("POST", "/api/v2.0/system/gc/schedule",
                             json.dumps({"schedule": {"type": "Manual"}, "parameters": params}).encode(), "application/json")
    assert status == 201, (status, body)
    return int(loc.rsplit("/", 1)[1])


def wait(job_id):
    while True:
        _, _, body = call("GET", f"/api/v2.0/jobs/{job_id}")
        job = json.loads(body)
        if job["status"] in ("Success", "Error", "Stopped"):
            return job
        time.sleep(0.02)


def seconds(job):
    from datetime import datetime
    f = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp()
    return f(job["end_time"]) - f(job["start_time"])


# 1. 10,000 manifests, 20,000 blobs.
t = parallel(8, ((f"library/fill{r}", f"t{i}", f"fill-{r}-{i}") for r in range(repos) for i in range(100)), image)
print(f"filled {manifests} manifests / {2 * manifests} blobs through the API in {t:.1f}s")
t = parallel(8, ((f"library/fill{r}", f"t{i}") for r in range(repos) for i in range(0, 100, 2)),
             lambda repo, tag: call("DELETE", f"/v2/{repo}/manifests/{tag}"))
print(f"deleted {manifests // 2} tags in {t:.1f}s")
time.sleep(2.1)
t0 = time.monotonic()
job = wait(gc({"delete_untagged": True}))
wall = time.monotonic() - t0
r = job["result"]
assert job["status"] == "Success", job
assert (r["manifests_deleted"], r["blobs_deleted"]) == (manifests // 2, manifests), r
print(f"GC: {r['manifests_deleted']} manifests, {r['blobs_deleted']} blobs, {r['bytes_freed']} bytes "
      f"in {wall:.2f}s (API call to end; job clock {seconds(job):.0f}s, whole seconds) [target < 10 s]")

# 2. Push throughput without and with GC running.
def push100(prefix):
    return parallel(4, ((f"library/{prefix}{i % 10}", f"v{i}", f"{prefix}-{i}", 2, 4096) for i in range(100)), image)

def median(xs):
    return sorted(xs)[len(xs) // 2]

# A backlog of 20,000 unreferenced blobs for GC to chew through.
t = parallel(8, ((f"library/junk{i % 50}", f"junk-{i}".encode() * 8) for i in range(20000)), blob)
print(f"uploaded 20,000 unreferenced blobs in {t:.1f}s")
time.sleep(2.1)
# Same registry state with and without GC; three runs each (this machine is
# shared: single runs are noisy), medians compared.
base = median([push100(f"plain{k}-") for k in range(3)])
print(f"push 100 images, no GC: {base:.2f}s ({100 / base:.1f} images/s) (median of 3)")
stop = threading.Event()
runs = []
def gc_loop():
    while not stop.is_set():
        runs.append(wait(gc({"delete_untagged": True})))
g = threading.Thread(target=gc_loop)
g.start()
time.sleep(0.2)
busy = median([push100(f"busy{k}-") for k in range(3)])
stop.set()
g.join()
freed = sum(j["result"]["blobs_deleted"] for j in runs)
print(f"push 100 images, GC running ({len(runs)} runs, {freed} blobs deleted by their end): {busy:.2f}s "
      f"({100 / busy:.1f} images/s) (median of 3) = {100 * base / busy:.0f}% of the throughput without GC [target >= 80%]")
PY
