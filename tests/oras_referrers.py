"""Push an image and two artifacts that name it as their subject with oras
(the Python ORAS client), then list them through the referrers API, with and
without an artifactType filter. Run by tests/clients.rs: python3 oras_referrers.py HOST:PORT"""
import hashlib
import json
import sys

import oras.client
import oras.oci
import requests

host = sys.argv[1]
client = oras.client.OrasClient(hostname=host, insecure=True)

with open("image.txt", "w") as f:
    f.write("the subject image\n")
client.push(target=f"{host}/library/oras-app:v1", files=["image.txt"], disable_path_validation=True)

resp = requests.get(f"http://{host}/v2/library/oras-app/manifests/v1",
                    headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
resp.raise_for_status()
subject = oras.oci.Subject(mediaType=resp.headers["Content-Type"],
                           digest="sha256:" + hashlib.sha256(resp.content).hexdigest(),
                           size=len(resp.content))
assert resp.headers["Docker-Content-Digest"] == subject.digest

types = ["application/vnd.example.signature", "application/vnd.example.sbom"]
for i, artifact_type in enumerate(types):
    with open(f"artifact{i}.json", "w") as f:
        json.dump({"n": i}, f)
    with open(f"config{i}.json", "w") as f:
        f.write("{}")
    client.push(target=f"{host}/library/oras-app:artifact{i}", files=[f"artifact{i}.json"],
                manifest_config=f"config{i}.json:{artifact_type}", subject=subject,
                disable_path_validation=True)

url = f"http://{host}/v2/library/oras-app/referrers/{subject.digest}"
everything = requests.get(url)
everything.raise_for_status()
found = sorted(m["artifactType"] for m in everything.json()["manifests"])
assert found == sorted(types), found
assert "OCI-Filters-Applied" not in everything.headers

filtered = requests.get(url, params={"artifactType": types[1]})
filtered.raise_for_status()
assert [m["artifactType"] for m in filtered.json()["manifests"]] == [types[1]], filtered.text
assert filtered.headers["OCI-Filters-Applied"] == "artifactType"

# And pull an artifact back with oras.
pulled = client.pull(target=f"{host}/library/oras-app:artifact1", outdir="pulled")
assert any(p.endswith("artifact1.json") for p in pulled), pulled
print("referrers ok")
