//! `charts/wharf` rendered with Helm's template engine (Go text/template + sprig,
//! `charts/test/render`) for the default values and three value sets; every document
//! validated by `kubernetes-validate` against the Kubernetes OpenAPI schemas, the
//! values by `values.schema.json`, the webhook's TLS by openssl, and the rendered
//! `wharf serve` configuration by the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::Wharf;
use serde_json::Value;

const NS: &str = "wharf-system";

fn chart() -> PathBuf {
    common::repo_root().join("charts/wharf")
}

fn values_file(name: &str) -> PathBuf {
    common::repo_root().join(format!("charts/test/values/{name}.yaml"))
}

/// The renderer, built once per test run from Debian's Go and sprig packages.
fn renderer() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        common::require("go");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chart-render/render");
        common::run(
            Command::new("bash")
                .arg(common::repo_root().join("charts/test/build-render.sh"))
                .arg(&out),
        );
        out
    })
}

struct Rendered {
    dir: tempfile::TempDir,
    docs: Vec<Value>,
}

impl Rendered {
    fn manifest(&self) -> PathBuf {
        self.dir.path().join("manifest.yaml")
    }
    fn values(&self) -> PathBuf {
        self.dir.path().join("values.json")
    }
    fn notes(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("NOTES.txt")).unwrap()
    }
    fn all(&self, kind: &str) -> Vec<&Value> {
        self.docs.iter().filter(|d| d["kind"] == kind).collect()
    }
    fn one(&self, kind: &str) -> &Value {
        let all = self.all(kind);
        assert_eq!(all.len(), 1, "one {kind} expected");
        all[0]
    }
}

fn render(values: &[&str], extra: &[&str]) -> Result<Rendered, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(renderer());
    cmd.args(["--name", "wharf", "--namespace", NS])
        .arg("--dump-values")
        .arg(dir.path().join("values.json"))
        .arg("--notes")
        .arg(dir.path().join("NOTES.txt"));
    for v in values {
        cmd.arg("-f").arg(values_file(v));
    }
    let out = cmd.args(extra).arg(chart()).output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    std::fs::write(dir.path().join("manifest.yaml"), &out.stdout).unwrap();
    // YAML → JSON with PyYAML, a YAML reader independent of the renderer's.
    common::require("python3");
    let json = common::run(
        Command::new("python3")
            .arg("-c")
            .arg("import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))")
            .arg(dir.path().join("manifest.yaml")),
    );
    let docs = serde_json::from_str(&json).unwrap();
    Ok(Rendered { dir, docs })
}

/// The ConfigMap's `wharf.toml`, read with Python's TOML parser.
fn wharf_toml(r: &Rendered) -> Value {
    let toml = r.one("ConfigMap")["data"]["wharf.toml"].as_str().unwrap();
    serde_json::from_str(&common::run(
        Command::new("python3")
            .arg("-c")
            .arg("import json, sys, tomllib; print(json.dumps(tomllib.loads(sys.argv[1])))")
            .arg(toml),
    ))
    .unwrap()
}

/// A container's environment variable `name`, if it sets one.
fn env_var<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

/// The Secret and key an environment variable of `container` is read from.
fn secret_ref(container: &Value, name: &str) -> (String, String) {
    let var =
        env_var(container, name).unwrap_or_else(|| panic!("env {name}: {}", container["env"]));
    let r = &var["valueFrom"]["secretKeyRef"];
    (
        r["name"].as_str().unwrap().to_string(),
        r["key"].as_str().unwrap().to_string(),
    )
}

fn kubernetes_validate(r: &Rendered) {
    common::require("kubernetes-validate");
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .arg(r.manifest())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && !text.contains("ERROR"), "{text}");
    // Only the CRDs (cert-manager, Prometheus operator) may lack a schema.
    for line in text.lines().filter(|l| l.contains("Couldn't find schema")) {
        assert!(
            line.contains("kind Certificate") || line.contains("kind ServiceMonitor"),
            "{line}"
        );
    }
}

fn schema_check(values: &Path) -> std::process::Output {
    common::require("check-jsonschema");
    Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(chart().join("values.schema.json"))
        .arg(values)
        .output()
        .unwrap()
}

/// Every pod template: non-root, read-only root filesystem, no privilege
/// escalation, no capabilities, the runtime's seccomp profile.
fn assert_pods_locked_down(r: &Rendered) {
    let workloads: Vec<&Value> = r
        .docs
        .iter()
        .filter(|d| d["kind"] == "StatefulSet" || d["kind"] == "Deployment")
        .collect();
    assert!(!workloads.is_empty());
    for w in workloads {
        let pod = &w["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{w}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(pod["automountServiceAccountToken"], false);
        for c in pod["containers"].as_array().unwrap() {
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{c}");
            assert_eq!(sc["allowPrivilegeEscalation"], false);
            assert_eq!(sc["runAsNonRoot"], true);
            assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
            assert!(c["readinessProbe"].is_object() && c["livenessProbe"].is_object());
        }
    }
}

#[test]
fn chart_renders_valid_kubernetes_documents_for_each_value_set() {
    for set in [
        &[][..],
        &["webhook-cert-manager"][..],
        &["webhook-self-signed"][..],
        &["ingress-external-db"][..],
        &["scale-out"][..],
        &["scale-out-azure"][..],
    ] {
        let r = render(set, &[]).unwrap_or_else(|e| panic!("{set:?}: {e}"));
        kubernetes_validate(&r);
        let v = schema_check(&r.values());
        assert!(
            v.status.success(),
            "{set:?}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
        assert_pods_locked_down(&r);
        assert!(r.notes().contains("wharf login"), "{}", r.notes());
    }

    // Defaults: one registry replica on a PVC, the admin Secret, no webhook.
    let r = render(&[], &[]).unwrap();
    let sts = r.one("StatefulSet");
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    assert_eq!(r.one("Secret")["metadata"]["name"], "wharf-admin");
    assert!(r.all("ValidatingWebhookConfiguration").is_empty());
    assert!(
        r.notes()
            .contains("kubectl -n wharf-system get secret wharf-admin")
    );

    // Ingress + external database + S3: several replicas, TLS on the ingress.
    let r = render(&["ingress-external-db"], &[]).unwrap();
    assert_eq!(r.one("Deployment")["spec"]["replicas"], 3);
    let ing = r.one("Ingress");
    assert_eq!(ing["spec"]["tls"][0]["secretName"], "registry-tls");
    assert_eq!(ing["spec"]["rules"][0]["host"], "registry.example.com");
    assert!(
        !r.all("Secret")
            .iter()
            .any(|s| s["metadata"]["name"] == "wharf-admin"),
        "the admin password comes from the existing Secret"
    );
    assert_eq!(
        r.one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "registry"
    );
    let toml = r.one("ConfigMap")["data"]["wharf.toml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        toml.contains("external_url = \"https://registry.example.com\""),
        "{toml}"
    );
    assert!(
        r.notes().contains("docker login registry.example.com"),
        "{}",
        r.notes()
    );
}

#[test]
fn webhook_excludes_its_namespace_and_trusts_its_certificate() {
    // Self-signed: the caBundle is the CA that signed the serving certificate, whose
    // names are the Service's.
    let r = render(&["webhook-self-signed"], &[]).unwrap();
    let secret = r
        .all("Secret")
        .into_iter()
        .find(|s| s["type"] == "kubernetes.io/tls")
        .unwrap();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    };
    let ca = b64(secret["data"]["ca.crt"].as_str().unwrap());
    let crt = b64(secret["data"]["tls.crt"].as_str().unwrap());
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("ca.pem"), &ca).unwrap();
    std::fs::write(d.path().join("tls.pem"), &crt).unwrap();
    common::require("openssl");
    common::run(
        Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(d.path().join("ca.pem"))
            .arg(d.path().join("tls.pem")),
    );
    let host = format!("wharf-admission.{NS}.svc");
    let check = common::run(
        Command::new("openssl")
            .args(["x509", "-noout", "-checkhost", &host, "-in"])
            .arg(d.path().join("tls.pem")),
    );
    assert!(check.contains("does match"), "{check}");

    let validating = r.one("ValidatingWebhookConfiguration");
    let mutating = r.one("MutatingWebhookConfiguration");
    for (cfg, path) in [(validating, "/validate"), (mutating, "/mutate")] {
        let hook = &cfg["webhooks"][0];
        assert_eq!(hook["admissionReviewVersions"], serde_json::json!(["v1"]));
        assert_eq!(hook["sideEffects"], "None");
        assert_eq!(hook["failurePolicy"], "Ignore");
        assert_eq!(hook["timeoutSeconds"], 15);
        assert_eq!(hook["clientConfig"]["service"]["path"], path);
        assert_eq!(hook["clientConfig"]["service"]["namespace"], NS);
        assert_eq!(
            b64(hook["clientConfig"]["caBundle"].as_str().unwrap()),
            ca,
            "caBundle is the serving certificate's CA"
        );
        let expr = &hook["namespaceSelector"]["matchExpressions"][0];
        assert_eq!(expr["key"], "kubernetes.io/metadata.name");
        assert_eq!(expr["operator"], "NotIn");
        let values: Vec<&str> = expr["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for ns in [NS, "kube-system", "monitoring"] {
            assert!(values.contains(&ns), "{ns} not excluded: {values:?}");
        }
    }
    // The webhook's own flags say the same, and it reads the policies ConfigMap.
    let dep = r.one("Deployment");
    assert_eq!(dep["spec"]["replicas"], 2);
    let args: Vec<&str> = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for want in [
        "--exclude-namespace=wharf-system",
        "--exclude-namespace=kube-system",
        "--mode=audit",
        "--failure-policy=ignore",
        "--policy=/policies/production.yaml",
    ] {
        assert!(args.contains(&want), "{want} missing: {args:?}");
    }
    let policies = r
        .all("ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == "wharf-admission-policies")
        .unwrap();
    assert!(
        policies["data"]["production.yaml"]
            .as_str()
            .unwrap()
            .contains("kind: ImagePolicy")
    );

    // cert-manager: a Certificate for the Service names, the CA injected, no caBundle.
    let r = render(&["webhook-cert-manager"], &[]).unwrap();
    let cert = r.one("Certificate");
    assert!(
        cert["spec"]["dnsNames"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| *n == host.as_str())
    );
    assert_eq!(cert["spec"]["issuerRef"]["kind"], "ClusterIssuer");
    let v = r.one("ValidatingWebhookConfiguration");
    assert_eq!(
        v["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        format!("{NS}/wharf-admission").as_str()
    );
    assert!(v["webhooks"][0]["clientConfig"].get("caBundle").is_none());
    assert!(r.all("MutatingWebhookConfiguration").is_empty());
    assert!(
        !r.all("Secret")
            .iter()
            .any(|s| s["type"] == "kubernetes.io/tls")
    );
}

#[test]
fn bad_values_are_refused() {
    // The schema rejects wrong types, unknown enum values and unknown keys.
    let r = render(&["bad"], &[]).unwrap();
    let out = schema_check(&r.values());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("$.admission.failurePolicy"), "{text}");
    assert!(text.contains("$.registry.replicas"), "{text}");

    let r = render(&[], &[]).unwrap();
    let typo = r.dir.path().join("typo.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(r.values()).unwrap()).unwrap();
    v["admission"]["mutatee"] = true.into();
    std::fs::write(&typo, v.to_string()).unwrap();
    let out = schema_check(&typo);
    assert!(!out.status.success(), "unknown keys are refused");
    assert!(String::from_utf8_lossy(&out.stdout).contains("mutatee"));

    // Several replicas on the embedded SQLite and filesystem: the schema names the
    // two settings they need, and the render fails with the reason.
    let r = render(&[], &[]).unwrap();
    let many = r.dir.path().join("many.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(r.values()).unwrap()).unwrap();
    v["registry"]["replicas"] = 3.into();
    std::fs::write(&many, v.to_string()).unwrap();
    let out = schema_check(&many);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("$.externalDatabase.enabled"), "{text}");
    assert!(text.contains("$.s3.enabled"), "{text}");
    let e = render(&[], &["--set", "registry.replicas=3"]).err();
    assert!(
        e.as_deref()
            .unwrap_or("")
            .contains("requires externalDatabase.enabled and s3.enabled or azure.enabled"),
        "{e:?}"
    );
    // Scale-out without the Secret that holds the database URL, or without a bucket.
    for (unset, field) in [
        (
            "externalDatabase.existingSecret=",
            "$.externalDatabase.existingSecret",
        ),
        ("s3.bucket=", "$.s3.bucket"),
    ] {
        let r = render(&["scale-out"], &["--set", unset]);
        // The template refuses too (`required`); the schema says which value.
        assert!(r.is_err(), "{unset}");
        let base = render(&["scale-out"], &[]).unwrap();
        let file = base.dir.path().join("unset.json");
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(base.values()).unwrap()).unwrap();
        let (section, key) = unset.trim_end_matches('=').split_once('.').unwrap();
        v[section][key] = "".into();
        std::fs::write(&file, v.to_string()).unwrap();
        let out = schema_check(&file);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && text.contains(field),
            "{unset}: {text}"
        );
    }

    // Several replicas without S3 fail the render with the reason.
    let e = render(&["ingress-external-db"], &["--set", "s3.enabled=false"]).err();
    assert!(
        e.as_deref()
            .unwrap_or("")
            .contains("requires externalDatabase.enabled and s3.enabled or azure.enabled"),
        "{e:?}"
    );
}

/// The ConfigMap's TOML is a configuration the real `wharf serve` starts with, and the
/// probes' paths answer as the kubelet expects (200).
#[test]
fn rendered_config_starts_wharf_serve_and_probes_answer() {
    let r = render(&[], &[]).unwrap();
    let toml = r.one("ConfigMap")["data"]["wharf.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let file = r.dir.path().join("wharf.toml");
    std::fs::write(&file, toml).unwrap();
    // --listen/--data-dir (flags win over the file) keep it on this machine.
    let w = Wharf::start_with(&[
        "--config",
        file.to_str().unwrap(),
        "--admin-password",
        "Adm1n-pass",
    ]);
    let c = &r.one("StatefulSet")["spec"]["template"]["spec"]["containers"][0];
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let path = c[probe]["httpGet"]["path"].as_str().unwrap();
        let resp = common::curl("GET", &w.url(path)).send();
        assert_eq!(resp.status, 200, "{probe} {path}");
    }
    // auth = true from the file: anonymous /v2/ is challenged.
    assert_eq!(common::curl("GET", &w.url("/v2/")).send().status, 401);
}

/// Scale-out mode: three replicas as a Deployment without any volume to claim, the
/// database URL and S3 keys from their Secrets, one secret key Secret mounted in
/// every pod, and a `wharf.toml` whose paths are where those Secrets are mounted.
#[test]
fn scale_out_renders_stateless_replicas() {
    let r = render(&["scale-out"], &[]).unwrap();
    assert!(r.all("StatefulSet").is_empty());
    assert!(r.all("PersistentVolumeClaim").is_empty());
    let dep = r.one("Deployment");
    assert_eq!(dep["spec"]["replicas"], 3);
    assert_eq!(
        dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    let pod = &dep["spec"]["template"]["spec"];
    assert!(dep["spec"].get("volumeClaimTemplates").is_none());
    let volumes = pod["volumes"].as_array().unwrap();
    for v in volumes {
        assert!(
            v.get("emptyDir").is_some()
                || v.get("configMap").is_some()
                || v.get("secret").is_some(),
            "a pod-local or Secret volume only: {v}"
        );
    }
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("volume {name}"))
    };
    let c = &pod["containers"][0];
    assert_eq!(
        secret_ref(c, "WHARF_DATABASE"),
        ("wharf-postgres".into(), "database-url".into())
    );
    assert_eq!(
        secret_ref(c, "AWS_ACCESS_KEY_ID"),
        ("wharf-s3".into(), "accessKeyId".into())
    );
    assert_eq!(
        secret_ref(c, "AWS_SECRET_ACCESS_KEY"),
        ("wharf-s3".into(), "secretAccessKey".into())
    );
    // wharf serve's variables only (`wharf serve --help`), no database URL in plain text.
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        assert!(
            name.starts_with("AWS_")
                || e.get("value")
                    .is_none_or(|v| !v.as_str().unwrap_or("").contains("postgres")),
            "{e}"
        );
    }

    // The mounted file each TOML path names, read with Python's TOML parser.
    let parsed = wharf_toml(&r);
    assert_eq!(parsed["storage"], "s3://wharf-blobs/registry");
    assert_eq!(parsed["s3_endpoint"], "https://minio.example.com:9000");
    assert_eq!(parsed["s3_region"], "eu-west-1");
    assert_eq!(parsed["s3_path_style"], true);
    assert_eq!(parsed["database_max_connections"], 8);
    assert!(
        parsed.get("database").is_none(),
        "the URL is in the Secret only"
    );
    let mounted = |volume_name: &str| -> String {
        let m = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == volume_name)
            .unwrap_or_else(|| panic!("mount {volume_name}"));
        let item = &volume(volume_name)["secret"]["items"][0];
        format!(
            "{}/{}",
            m["mountPath"].as_str().unwrap(),
            item["path"].as_str().unwrap()
        )
    };
    assert_eq!(
        parsed["secret_key_file"].as_str().unwrap(),
        mounted("secret-key")
    );
    assert_eq!(
        parsed["database_ca_file"].as_str().unwrap(),
        mounted("database-ca")
    );
    assert_eq!(
        volume("database-ca")["secret"]["secretName"],
        "wharf-postgres-ca"
    );
    assert_eq!(volume("database-ca")["secret"]["items"][0]["key"], "ca.crt");

    // The shared secret key: generated as 32 raw bytes, the form wharf serve reads.
    let key_secret = r
        .all("Secret")
        .into_iter()
        .find(|s| s["metadata"]["name"] == "wharf-secret-key")
        .expect("the generated secret key");
    assert_eq!(
        volume("secret-key")["secret"]["secretName"],
        "wharf-secret-key"
    );
    assert_eq!(
        key_secret["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(key_secret["data"]["secret.key"].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(key.len(), 32);
    // With a Secret of one's own, none is generated and that one is mounted.
    let own = render(
        &["scale-out"],
        &["--set", "secretKey.existingSecret=my-key"],
    )
    .unwrap();
    assert!(
        !own.all("Secret")
            .iter()
            .any(|s| s["metadata"]["name"] == "wharf-secret-key")
    );
    let own_pod = &own.one("Deployment")["spec"]["template"]["spec"];
    assert!(
        own_pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["secret"]["secretName"] == "my-key")
    );

    // The disruption budget covers the replicas' pods and leaves two of three up.
    let pdb = r
        .all("PodDisruptionBudget")
        .into_iter()
        .find(|p| p["metadata"]["name"] == "wharf")
        .unwrap();
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    let labels = &dep["spec"]["template"]["metadata"]["labels"];
    for (k, v) in pdb["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "the PDB selects the registry pods ({k})");
    }
    // No headless Service: it governs the StatefulSet of the embedded mode only.
    assert_eq!(r.all("Service").len(), 1);
}

/// Scale-out mode on Azure: a Deployment without volumes, the account from the
/// values, its key from the Secret, and a `wharf.toml` naming the container.
/// Both stores at once are refused by the schema and the render.
#[test]
fn scale_out_on_azure_renders_stateless_replicas() {
    let r = render(&["scale-out-azure"], &[]).unwrap();
    assert!(r.all("StatefulSet").is_empty());
    let dep = r.one("Deployment");
    assert_eq!(dep["spec"]["replicas"], 2);
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env_var(c, "AZURE_STORAGE_ACCOUNT_NAME").unwrap()["value"],
        "wharfstorage"
    );
    assert_eq!(
        secret_ref(c, "AZURE_STORAGE_ACCOUNT_KEY"),
        ("wharf-azure".into(), "accountKey".into())
    );
    assert!(env_var(c, "AZURE_STORAGE_ENDPOINT").is_none());
    assert!(env_var(c, "AWS_ACCESS_KEY_ID").is_none());
    let parsed = wharf_toml(&r);
    assert_eq!(parsed["storage"], "azure://wharf-blobs/registry");
    assert_eq!(parsed["storage_redirect"], true);
    assert!(parsed.get("s3_path_style").is_none(), "{parsed}");

    // A plain-HTTP endpoint (Azurite, Azure Stack) also allows HTTP.
    let r = render(
        &["scale-out-azure"],
        &[
            "--set",
            "azure.endpoint=http://azurite:10000/devstoreaccount1",
        ],
    )
    .unwrap();
    let c = &r.one("Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert!(
        env_var(c, "AZURE_STORAGE_ENDPOINT").is_some() && env_var(c, "AZURE_ALLOW_HTTP").is_some(),
        "{}",
        c["env"]
    );

    // S3 and Azure at once: refused by the render and by the schema.
    let both = ["--set", "s3.enabled=true", "--set", "s3.bucket=b"];
    let e = render(&["scale-out-azure"], &both).err();
    assert!(
        e.as_deref()
            .unwrap_or("")
            .contains("blobs live in one store"),
        "{e:?}"
    );
    let base = render(&["scale-out-azure"], &[]).unwrap();
    let file = base.dir.path().join("both.json");
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(base.values()).unwrap()).unwrap();
    v["s3"]["enabled"] = true.into();
    v["s3"]["bucket"] = "b".into();
    std::fs::write(&file, v.to_string()).unwrap();
    let out = schema_check(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    // Without the account or the container, the schema says which.
    for (unset, field) in [
        ("accountName", "$.azure.accountName"),
        ("container", "$.azure.container"),
    ] {
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(base.values()).unwrap()).unwrap();
        v["azure"][unset] = "".into();
        std::fs::write(&file, v.to_string()).unwrap();
        let out = schema_check(&file);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && text.contains(field),
            "{unset}: {text}"
        );
        assert!(
            render(&["scale-out-azure"], &["--set", &format!("azure.{unset}=")]).is_err(),
            "{unset}"
        );
    }
}
