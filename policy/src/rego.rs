//! Rego rules through `regorus`. Convention (docs/policy.md): the module defines a deny
//! rule, by default `data.wharf.deny`, whose value is a set (or array) of messages — strings,
//! or objects with a `msg` string and any other fields as evidence. The rule passes when the
//! set is empty or undefined. `input` is the facts document plus `now` (RFC 3339).
//!
//! Each rule runs in its own engine, so two policies may both use `package wharf`.
//! Evaluation is bounded in time: a policy is configuration, but still not trusted to halt.

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::Engine;
use regorus::utils::limits::ExecutionTimerConfig;

/// Wall-clock limit for one Rego rule.
const TIME_LIMIT: Duration = Duration::from_secs(2);

fn engine(name: &str, source: &str) -> Result<Engine, String> {
    let mut e = Engine::new();
    e.set_execution_timer_config(ExecutionTimerConfig {
        limit: TIME_LIMIT,
        check_interval: NonZeroU32::new(64).expect("non-zero"),
    });
    e.add_policy(name.to_string(), source.to_string())
        .map_err(|err| format!("Rego does not compile: {err}"))?;
    Ok(e)
}

/// Load-time check: the module parses and defines `query`.
pub fn check(name: &str, source: &str, query: &str) -> Result<(), String> {
    if !query.starts_with("data.") {
        return Err(format!(
            "query {query:?} must be a rule path under data (e.g. data.wharf.deny)"
        ));
    }
    let mut e = engine(name, source)?;
    e.set_input(regorus::Value::new_object());
    e.eval_rule(query.to_string())
        .map_err(|err| format!("{query} cannot be evaluated: {err}"))?;
    Ok(())
}

/// The deny messages `query` yields for `input`, each with its evidence.
pub fn deny(
    name: &str,
    source: &str,
    query: &str,
    input: &serde_json::Value,
) -> Result<Vec<(String, serde_json::Value)>, String> {
    let mut e = engine(name, source)?;
    let input = regorus::Value::from_json_str(&input.to_string())
        .map_err(|err| format!("facts are not valid Rego input: {err}"))?;
    e.set_input(input);
    let v = e
        .eval_rule(query.to_string())
        .map_err(|err| format!("evaluating {query}: {err}"))?;
    if v == regorus::Value::Undefined {
        return Ok(Vec::new());
    }
    let json = serde_json::to_value(&v).map_err(|err| format!("{query}: {err}"))?;
    let items = match json {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Bool(false) => Vec::new(),
        other => {
            return Err(format!("{query} must be a set of messages, but is {other}"));
        }
    };
    Ok(items
        .into_iter()
        .map(|item| match &item {
            serde_json::Value::String(s) => (s.clone(), serde_json::Value::Null),
            serde_json::Value::Object(o) => (
                o.get("msg")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| item.to_string()),
                item.clone(),
            ),
            other => (other.to_string(), serde_json::Value::Null),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str = r#"
package wharf

deny contains msg if {
    some v in input.vulnerabilities
    v.package == "requests"
    msg := sprintf("requests is banned (%s)", [v.id])
}

deny contains {"msg": "no digest", "why": "empty"} if input.digest == ""
"#;

    #[test]
    fn deny_set_yields_messages_and_evidence() {
        check("t", MODULE, "data.wharf.deny").unwrap();
        let input = serde_json::json!({"digest": "", "vulnerabilities": [
            {"id": "CVE-1", "package": "requests"}, {"id": "CVE-2", "package": "urllib3"}]});
        let mut got = deny("t", MODULE, "data.wharf.deny", &input).unwrap();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got[0].0, "no digest");
        assert_eq!(got[0].1["why"], "empty");
        assert_eq!(got[1].0, "requests is banned (CVE-1)");
        assert_eq!(got.len(), 2);
        let clean = serde_json::json!({"digest": "sha256:x", "vulnerabilities": []});
        assert!(
            deny("t", MODULE, "data.wharf.deny", &clean)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn compile_errors_and_missing_rules_are_reported() {
        let e = check(
            "t",
            "package wharf\ndeny contains x if {",
            "data.wharf.deny",
        )
        .unwrap_err();
        assert!(e.starts_with("Rego does not compile"), "{e}");
        let e = check("t", MODULE, "data.wharf.allow").unwrap_err();
        assert!(e.contains("data.wharf.allow cannot be evaluated"), "{e}");
        let e = check("t", MODULE, "wharf.deny").unwrap_err();
        assert!(e.contains("must be a rule path under data"), "{e}");
    }
}
