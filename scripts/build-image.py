#!/usr/bin/env python3
"""Builds Wharf's container image as an OCI image layout, from a wharf binary,
without pulling any base image.

The single layer is `scratch` plus exactly what the binary needs: the binary at
/usr/local/bin/wharf, the shared libraries `ldd` names (glibc, libm, libgcc_s, the
loader), CA certificates for HTTPS registries, /etc/passwd and /etc/group with the
non-root user `wharf` (65532), an empty /tmp, and /var/lib/wharf (the data volume,
owned by 65532) so that the root filesystem can be mounted read-only.

Reproducible: the layer is written entry by entry in sorted order with fixed owners,
modes and times (SOURCE_DATE_EPOCH, default 0), gzip without a name or time, and
every JSON document with sorted keys; the same binary and host libraries give the
same manifest digest.

With --push REF the image is copied to a registry (skopeo), then Wharf eats its own
cooking: the image's own `wharf` writes its SBOM and attaches it as a referrer, and
signs it with --key.

Usage: build-image.py BINARY OUT_DIR [--tag TAG] [--push REF --key KEY [--insecure]]
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

UID = GID = 65532
# The OCI platform of the machine the binary was built for (it is this machine's:
# ldd must be able to resolve its libraries here).
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}[os.uname().machine]


def deps(binary):
    """The shared libraries `ldd` resolves for the binary: (path in image, host file)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if not m:
            continue
        path = m.group(m.lastindex)
        found.append((path, os.path.realpath(path)))
    return sorted(set(found))


def layer(binary, epoch):
    """The root filesystem as an uncompressed tar (bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = {}

        def add_dir(path, uid=0, gid=0, mode=0o755):
            parts = path.strip("/").split("/")
            for i in range(1, len(parts) + 1):
                p = "/".join(parts[:i])
                if p not in entries:
                    entries[p] = ("dir", None, 0, 0, 0o755)
            entries[path.strip("/")] = ("dir", None, uid, gid, mode)

        def add_file(path, data, mode=0o644):
            add_dir(os.path.dirname(path))
            entries[path.strip("/")] = ("file", data, 0, 0, mode)

        add_file("/usr/local/bin/wharf", open(binary, "rb").read(), 0o755)
        for path, real in deps(binary):
            add_file(path, open(real, "rb").read(), 0o755)
        certs = "/etc/ssl/certs/ca-certificates.crt"
        if os.path.exists(certs):
            add_file(certs, open(certs, "rb").read())
        add_file("/etc/passwd", f"root:x:0:0:root:/root:/sbin/nologin\nwharf:x:{UID}:{GID}:wharf:/var/lib/wharf:/sbin/nologin\n".encode())
        add_file("/etc/group", f"root:x:0:\nwharf:x:{GID}:\n".encode())
        add_dir("/tmp", mode=0o1777)
        add_dir("/var/lib/wharf", UID, GID, 0o750)

        for name in sorted(entries):
            kind, data, uid, gid, mode = entries[name]
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode, info.mtime = uid, gid, mode, epoch
            info.uname = info.gname = ""
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def put_blob(out, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest[7:])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def version_of(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


def build(binary, out, tag, epoch):
    raw = layer(binary, epoch)
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, filename="", compresslevel=6) as z:
        z.write(raw)
    gz = gz.getvalue()
    version = version_of(binary)
    created = __import__("datetime").datetime.fromtimestamp(epoch, __import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {
        "org.opencontainers.image.title": "wharf",
        "org.opencontainers.image.description": "OCI registry with scanning, SBOMs, signatures and policy",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.source": "https://github.com/wharf-dev/wharf",
    }
    if os.environ.get("WHARF_REVISION"):
        labels["org.opencontainers.image.revision"] = os.environ["WHARF_REVISION"]
    config = {
        "architecture": ARCH,
        "os": "linux",
        "created": created,
        "config": {
            "User": f"{UID}:{GID}",
            "Entrypoint": ["/usr/local/bin/wharf"],
            "Cmd": ["serve"],
            "Env": [
                "PATH=/usr/local/bin",
                "WHARF_LISTEN=0.0.0.0:5000",
                "WHARF_DATA_DIR=/var/lib/wharf",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            ],
            "WorkingDir": "/var/lib/wharf",
            "ExposedPorts": {"5000/tcp": {}},
            "Volumes": {"/var/lib/wharf": {}},
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created": created, "created_by": "scripts/build-image.py"}],
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    cfg = put_blob(out, canonical(config))
    lay = put_blob(out, gz)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **lay}],
        "annotations": {k: v for k, v in labels.items() if k != "org.opencontainers.image.description"},
    }
    man = put_blob(out, canonical(manifest))
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **man,
            "platform": {"architecture": ARCH, "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    }
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(canonical(index))
    return man["digest"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("out", help="OCI image layout directory to write")
    ap.add_argument("--tag", default=None, help="tag in the layout (default: the binary's version)")
    ap.add_argument("--push", metavar="REF", help="copy to this registry reference, attach the SBOM, sign")
    ap.add_argument("--key", help="cosign private key for --push (password in COSIGN_PASSWORD)")
    ap.add_argument("--insecure", action="store_true", help="plain HTTP to the registry of --push")
    args = ap.parse_args()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    tag = args.tag or version_of(args.binary)
    digest = build(args.binary, args.out, tag, epoch)
    print(f"built {args.out}:{tag} {digest}")
    if args.push:
        if not args.key:
            sys.exit("--push needs --key")
        skopeo = ["skopeo", "copy", "-q", f"oci:{args.out}:{tag}", f"docker://{args.push}"]
        if args.insecure:
            skopeo.insert(2, "--dest-tls-verify=false")
        creds = os.environ.get("WHARF_USERNAME")
        if creds:
            skopeo.insert(2, f"--dest-creds={creds}:{os.environ.get('WHARF_PASSWORD', '')}")
        subprocess.run(skopeo, check=True)
        pinned = args.push.rsplit(":", 1)[0] if ":" in args.push.rsplit("/", 1)[-1] else args.push
        pinned = f"{pinned}@{digest}"
        flags = ["--insecure"] if args.insecure else []
        subprocess.run([args.binary, "sbom", *flags, "--format", "spdx-json", "--attach", "-o", os.devnull, pinned], check=True)
        subprocess.run([args.binary, "sign", *flags, "--key", args.key, pinned], check=True)
        print(f"pushed {pinned}; SBOM attached, signed")


if __name__ == "__main__":
    main()
