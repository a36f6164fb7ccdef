#!/usr/bin/env python3
"""Writes the starting corpus of every fuzz target into fuzz/corpus/<target>/ from the
repository's fixtures, Sigstore's and cosign's test files, a few real advisories and the
test images' package databases (each cut to a few KB). `scripts/fuzz.sh --seed` runs it,
then `cargo fuzz cmin` keeps only inputs that add coverage.

Environment: WHARF_SHARED (default /work/shared), WHARF_TEST_IMAGES (default
/work/test-images). Missing sources are skipped."""

import gzip
import io
import json
import os
import pathlib
import subprocess
import tarfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fuzz" / "corpus"
SHARED = pathlib.Path(os.environ.get("WHARF_SHARED", "/work/shared"))
IMAGES = pathlib.Path(os.environ.get("WHARF_TEST_IMAGES", "/work/test-images"))
MAX = 4096


def read(path, limit=MAX):
    try:
        return pathlib.Path(path).read_bytes()[:limit]
    except OSError:
        return None


def paragraphs(data, n):
    """The first n blank-line separated paragraphs (whole records, not a cut mid-field)."""
    if data is None:
        return None
    return b"\n\n".join(data.split(b"\n\n")[:n]) + b"\n"


def put(target, name, data):
    if data is None:
        return
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, kind, data in files:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = data
                t.addfile(info)
            elif kind == "hard":
                info.type = tarfile.LNKTYPE
                info.linkname = data
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o755 if kind == "exe" else 0o644
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zstd(data):
    try:
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def main():
    rootfs = IMAGES / "rootfs" / "bookworm-minbase"
    status = paragraphs(read(rootfs / "var/lib/dpkg/status", 1 << 20), 3)
    os_release = read(rootfs / "etc/os-release") or b'ID=debian\nVERSION_ID="12"\n'
    apk = (b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\nm:Maintainer <m@example.org>\n\n"
           b"P:busybox\nV:1.36.1-r5\nL:GPL-2.0-only\no:busybox\n\n")
    metadata = (b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n"
                b"Classifier: License :: OSI Approved :: Apache Software License\n\nbody\n")
    lock = json.dumps({"name": "app", "lockfileVersion": 3, "packages": {
        "": {"name": "app", "version": "1.0.0"},
        "node_modules/lodash": {"version": "4.17.20", "license": "MIT",
                                 "integrity": "sha512-AAAA"},
        "node_modules/@scope/x": {"version": "1.0.0-beta.1"}}}).encode()
    cargo_lock = (b'version = 3\n\n[[package]]\nname = "serde"\nversion = "1.0.100"\n'
                  b'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
                  b'checksum = "' + b"ab" * 32 + b'"\n')
    gemspec = b'Gem::Specification.new do |s|\n  s.name = "rack"\n  s.version = "2.2.3"\n  s.licenses = ["MIT"]\nend\n'
    gemfile_lock = b"GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.3)\n\nPLATFORMS\n  ruby\n"
    copyright = (b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                 b"Files: *\nLicense: GPL-2+\n\nFiles: x/*\nLicense: BSD-3-clause or MIT\n")
    jar = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Title: x\nImplementation-Version: 1.2\n")
        z.writestr("META-INF/maven/org.example/lib/pom.properties",
                   "groupId=org.example\nartifactId=lib\nversion=2.14.1\n")
    jar = jar.getvalue()
    go_bin = b"\x7fELF" + b"\0" * 60 + b"\xff Go buildinf:\x08\x02" + b"\0" * 16 + \
        bytes([8]) + b"go1.21.0" + bytes([40]) + b"path\tex/app\nmod\tex/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.1.0\th1:x=\n"[:40]

    # analyzers: selector byte, then the file (see fuzz_targets/analyzers.rs)
    for sel, name, data in [(0, "dpkg-status", status), (1, "copyright", copyright), (2, "apk", apk),
                            (4, "metadata", metadata), (5, "package-lock", lock), (6, "cargo-lock", cargo_lock),
                            (7, "go-buildinfo", go_bin), (8, "jar", jar), (9, "gemspec", gemspec),
                            (10, "gemfile-lock", gemfile_lock), (11, "os-release", os_release)]:
        if data is not None:
            put("analyzers", name, bytes([sel]) + data)
    # ... and 240 + i: the file at LOCK_FILES[i] in an image layer
    lockfiles = ROOT / "tests" / "fixtures" / "lockfiles"
    for i, name, path in [(0, "nuget", "nuget/packages.lock.json"), (2, "conan", "conan/conan.lock"),
                          (3, "dart", "dart/pubspec.lock"), (4, "elixir", "elixir/mix.lock"),
                          (5, "swift", "swift/Package.resolved"), (6, "cocoapods", "cocoapods/Podfile.lock"),
                          (12, "yarn-v1", "yarn-v1/yarn.lock"), (12, "yarn-berry", "yarn-berry/yarn.lock"),
                          (13, "pnpm-v9", "pnpm-v9-dev/pnpm-lock.yaml"), (13, "pnpm-v6", "pnpm-v6-dev/pnpm-lock.yaml")]:
        data = read(lockfiles / path)
        if data is not None:
            put("analyzers", "image-" + name, bytes([240 + i]) + data)
    # ... LOCK_FILES[14], [15] by 254, 255; [16], [17] by 232, 233
    for sel, name, path in [(254, "packages-config", "nuget-config/packages.config"),
                            (255, "bun", "bun-dev/bun.lock"),
                            (232, "conda-meta", "conda/opt/conda/envs/app/conda-meta/openssl-3.4.0-hb9d3cd8_0.json"),
                            (233, "conda-env", "conda-env/environment.yml")]:
        data = read(lockfiles / path)
        if data is not None:
            put("analyzers", "image-" + name, bytes([sel]) + data)

    # layer: tars as an image would hold them, plain, gzip and zstd
    files = [
        ("etc/", "dir", None), ("etc/os-release", "file", os_release),
        ("var/lib/dpkg/status", "file", status or b""),
        ("lib/apk/db/installed", "file", apk),
        ("usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA", "file", metadata),
        ("app/package-lock.json", "file", lock), ("app/Cargo.lock", "file", cargo_lock),
        ("app/lib.jar", "file", jar), ("usr/bin/app", "exe", go_bin),
        ("usr/lib/os-release", "sym", "../../etc/os-release"),
        ("app/link.json", "hard", "app/package-lock.json"),
        ("app/.wh.Cargo.lock", "file", b""), ("usr/.wh..wh..opq", "file", b""),
        ("../escape", "file", b"x"),
    ]
    layer = tar_of(files)
    put("layer", "layer.tar", layer)
    put("layer", "layer.tar.gz", gzip.compress(layer, mtime=0))
    put("layer", "layer.tar.zst", zstd(layer))
    put("layer", "dpkg.tar.gz", gzip.compress(tar_of(files[:3]), mtime=0))

    # manifest: selector (content type), then the body
    small = IMAGES / "oci" / "small"
    index = read(small / "index.json")
    put("manifest", "index-none", b"\x00" + (index or b""))
    put("manifest", "index-oci", b"\x02" + (index or b""))
    if index:
        d = json.loads(index)["manifests"][0]["digest"].split(":")[1]
        m = read(small / "blobs" / "sha256" / d)
        put("manifest", "manifest-oci", b"\x01" + m)
        put("manifest", "manifest-docker", b"\x03" + m.replace(
            b"application/vnd.oci.image.manifest.v1+json",
            b"application/vnd.docker.distribution.manifest.v2+json"))
    put("manifest", "schema1", b"\x05" + b'{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}')

    # auth: Authorization headers, tokens (the claims a server writes), scopes
    claims = json.dumps({"iss": "wharf", "sub": "alice", "aud": "wharf", "exp": 1750000600, "nbf": 1749999000,
                         "iat": 1749999000, "jti": "1",
                         "access": [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]}).encode()
    put("auth", "claims", claims)
    put("auth", "basic", b"Basic YWxpY2U6czNjcjN0")
    put("auth", "bearer", b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
    put("auth", "scope", b"repository:team/app:pull,push")

    # advisories: selector (0 json, 1 yaml, 2 zip, 3 trivy value, 4 trivy.db), then the file
    osv = []
    for rel in ["debian/DSA/2019/DSA-4461-1.json", "alpine", "go", "pypa", "rustsec", "almalinux"]:
        p = SHARED / "vulndata" / rel
        if p.is_dir():
            p = next((f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix in (".json", ".yaml")
                      and f.stat().st_size < MAX), None)
        if p is not None and p.is_file():
            osv.append(p)
    for p in osv:
        sel = 1 if p.suffix == ".yaml" else 0
        put("advisories", "osv-" + p.stem.replace(":", "_"), bytes([sel]) + read(p))
    if osv:
        z = io.BytesIO()
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr(osv[0].name, read(osv[0]))
        put("advisories", "osv-zip", b"\x02" + z.getvalue())
    put("advisories", "trivy-advisory", b"\x03" + json.dumps(
        {"VulnerableVersions": [">=1.0.0, <1.2.3", "=2.0.0"], "PatchedVersions": [">=1.2.3"],
         "Entries": [{"FixedVersion": "1.2.3"}]}).encode())
    put("advisories", "trivy-vuln", b"\x03" + json.dumps(
        {"Title": "t", "Severity": "HIGH", "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                                            "V3Score": 9.8}}}).encode())

    # policy: selector (0 policy YAML, 1 facts JSON, 2 AdmissionReview)
    doc = read(ROOT / "docs" / "policy.md", 1 << 20).decode()
    start = doc.index("```yaml\napiVersion") + len("```yaml\n")
    policy = doc[start:doc.index("```", start)].encode()
    put("policy", "policy-doc", b"\x00" + policy)
    put("policy", "facts", b"\x01" + json.dumps({
        "reference": "registry.example/team/app:latest", "registry": "registry.example",
        "repository": "team/app", "digest": "sha256:" + "ab" * 32,
        "vulnerabilities": [{"id": "CVE-2024-1", "severity": "CRITICAL", "package": "x", "version": "1"}],
        "sbom": {"format": "spdx-json", "packages": [{"name": "x", "version": "1", "licenses": ["GPL-3.0-only"]}]}}).encode())
    for f in sorted((ROOT / "tests" / "fixtures" / "admission").glob("*.json")):
        put("policy", "review-" + f.stem, b"\x02" + read(f))

    # sbom: documents as other tools write them
    put("sbom", "spdx", json.dumps({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "x",
        "packages": [
            {"SPDXID": "SPDXRef-os", "name": "debian", "versionInfo": "12", "primaryPackagePurpose": "OPERATING-SYSTEM"},
            {"SPDXID": "SPDXRef-p", "name": "openssl", "versionInfo": "3.0.11-1~deb12u2",
             "licenseConcluded": "Apache-2.0",
             "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                               "referenceLocator": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"}]}]}).encode())
    put("sbom", "cyclonedx", json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "container", "name": "app"}},
        "components": [{"type": "library", "name": "lodash", "version": "4.17.20",
                        "purl": "pkg:npm/lodash@4.17.20", "licenses": [{"license": {"id": "MIT"}}]},
                       {"type": "operating-system", "name": "alpine", "version": "3.19.1"}]}).encode())
    put("sbom", "purl", b"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar")

    # signer: selector (0 keys, 1 DSSE, 2 bundle, 3 RFC 3161, 4 certificate, 5 trusted root, 6 Rekor)
    cosign = SHARED / "fixtures" / "cosign"
    for f in sorted(cosign.glob("*.key")) + sorted(cosign.glob("*.pub")):
        put("signer", "key-" + f.stem, b"\x00" + read(f))
    bundle = read(cosign / "sigstore_rs_bundle_v03_keyless_dsse.json", 1 << 20)
    if bundle:
        put("signer", "bundle", b"\x02" + bundle)
        b = json.loads(bundle)
        import base64
        chain = b["verificationMaterial"]
        cert = (chain.get("certificate") or chain.get("x509CertificateChain", {}).get("certificates", [{}])[0])
        if cert.get("rawBytes"):
            put("signer", "certificate", b"\x04" + base64.b64decode(cert["rawBytes"]))
        if "dsseEnvelope" in b:
            put("signer", "dsse", b"\x01" + json.dumps(b["dsseEnvelope"]).encode())
        for ts in b.get("verificationMaterial", {}).get("timestampVerificationData", {}).get("rfc3161Timestamps", []):
            put("signer", "rfc3161", b"\x03" + base64.b64decode(ts["signedTimestamp"]))
    put("signer", "trusted-root", b"\x05" + (read(cosign / "sigstore_public_good_trusted_root.json", 1 << 20) or b""))
    put("signer", "rekor", b"\x06" + (read(cosign / "sigstore_rs_rekor_bundle.json", 1 << 20) or b""))


if __name__ == "__main__":
    main()
