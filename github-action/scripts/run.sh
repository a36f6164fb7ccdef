#!/usr/bin/env bash
# The action's main step: runs one wharf command, then turns its machine-readable
# output into step outputs ($GITHUB_OUTPUT), a job summary ($GITHUB_STEP_SUMMARY) and
# annotations (::error / ::warning). Inputs arrive as INPUT_* variables set by the
# step's `env:` (never spliced into the script text, so no input can inject shell).
# Exit codes follow wharf's: 0 passed, 1 a check failed, 2 an error.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib.sh"
source "$here/resolve.sh"

W=${WHARF_BIN:-wharf}
cmd=$INPUT_COMMAND
image=${INPUT_IMAGE:-}
out="$RUNNER_TEMP/wharf"
mkdir -p "$out"

reg=()
if [ "${INPUT_INSECURE:-false}" = true ]; then
  reg=(--insecure)
  export WHARF_INSECURE=true # for resolve_digest
fi
# A pulled DB (vuln-db-ref) is the one to scan and check with.
[ -n "${INPUT_DB_DIR:-}" ] && export WHARF_DB="$INPUT_DB_DIR/vuln.db"

need_image() { [ -n "$image" ] || die "the $cmd command needs the image input"; }

# True for HOST/REPO references (as opposed to oci:, docker-archive:, dir: or a path).
is_registry_ref() {
  case "$1" in
    oci:* | docker-archive:* | dir:*) return 1 ;;
  esac
  [ ! -e "$1" ] && [[ $1 == */* ]]
}

# The image's digest as an output, for registry images.
image_digest() {
  if is_registry_ref "$image"; then
    digest=$(resolve_digest "$image")
    output digest "$digest"
  fi
}
digest=""

# A key input is PEM text (from a secret) or a path; text goes to a private temp
# file, removed when the step ends. Sets KEY.
KEY=""
key_file() {
  local k=$1
  if [[ $k == -----BEGIN* ]]; then
    KEY=$(mktemp "$RUNNER_TEMP/wharf-key.XXXXXX")
    trap 'rm -f "$KEY"' EXIT
    chmod 600 "$KEY"
    printf '%s\n' "$k" >"$KEY"
  else
    [ -f "$k" ] || die "key $k: no such file"
    KEY=$k
  fi
}

# Runs wharf, keeping its exit code instead of letting `set -e` end the step.
rc=0
wharf_rc() {
  rc=0
  "$W" "$@" || rc=$?
  [ "$rc" -ne 2 ] || die "wharf $1 failed (exit 2)"
}

scan() {
  need_image
  local fmt=${INPUT_FORMAT:-json} ext
  case "$fmt" in
    json) ext=json ;; sarif) ext=sarif ;; table) ext=txt ;; cyclonedx) ext=cdx.json ;;
    *) die "scan: unknown format $fmt (table, json, sarif, cyclonedx)" ;;
  esac
  local report=${INPUT_OUTPUT:-$out/scan.$ext}
  local filters=()
  [ -n "${INPUT_SEVERITY:-}" ] && filters+=(--severity "$INPUT_SEVERITY")
  [ "${INPUT_IGNORE_UNFIXED:-false}" = true ] && filters+=(--ignore-unfixed)
  image_digest
  wharf_rc scan "${reg[@]}" "${filters[@]}" --exit-code "${INPUT_EXIT_CODE:-0}" \
    --format "$fmt" -o "$report" "$image"
  local failed=$rc
  output report "$report"
  # The summary reads Trivy-shaped JSON; SARIF is what code scanning reads.
  local json=$report
  if [ "$fmt" != json ]; then
    json="$out/scan.json"
    wharf_rc scan "${reg[@]}" "${filters[@]}" --format json -o "$json" "$image"
  fi
  if [ "${INPUT_SARIF:-true}" = true ]; then
    local sarif="$report"
    if [ "$fmt" != sarif ]; then
      sarif="$out/scan.sarif"
      wharf_rc scan "${reg[@]}" "${filters[@]}" --format sarif -o "$sarif" "$image"
    fi
    output sarif "$sarif"
  fi

  local counts total
  counts=$(jq -r '[.Results[]?.Vulnerabilities[]?.Severity] as $s
    | ["CRITICAL","HIGH","MEDIUM","LOW","UNKNOWN"][] as $k
    | "\($k) \([$s[] | select(. == $k)] | length)"' "$json")
  total=$(jq '[.Results[]?.Vulnerabilities[]?] | length' "$json")
  local brief
  brief=$(awk '$2 > 0 { printf "%s%s: %s", sep, $1, $2; sep = ", " }' <<<"$counts")
  summary "### Wharf scan: \`$(cell "$image")\`" ""
  [ -n "$digest" ] && summary "Digest: \`$digest\`" ""
  summary "| Severity | Findings |" "|---|---:|"
  while read -r sev n; do summary "| $sev | $n |"; done <<<"$counts"
  summary "| **Total** | **$total** |" ""
  if [ "$total" -gt 0 ]; then
    summary "<details><summary>Findings</summary>" "" \
      "| ID | Package | Installed | Fixed | Severity |" "|---|---|---|---|---|"
    summary "$(jq -r '.Results[]?.Vulnerabilities[]? | [.VulnerabilityID, .PkgName, .InstalledVersion,
      (.FixedVersion // ""), .Severity] | map(gsub("\\|"; "\\|")) | "| " + join(" | ") + " |"' "$json")"
    summary "" "</details>" ""
  fi
  if [ "$failed" -ne 0 ]; then
    output decision failed
    annotate error "Wharf scan" "$total vulnerabilities in $image ($brief)"
    exit "$failed"
  fi
  output decision passed
  if [ "$total" -gt 0 ]; then
    annotate warning "Wharf scan" "$total vulnerabilities in $image ($brief)"
  fi
}

sbom() {
  need_image
  local fmt=${INPUT_FORMAT:-spdx-json} ext count
  case "$fmt" in
    spdx-json) ext=spdx.json ;; cyclonedx-json) ext=cdx.json ;;
    *) die "sbom: unknown format $fmt (spdx-json, cyclonedx-json)" ;;
  esac
  local file=${INPUT_OUTPUT:-$out/sbom.$ext} attach=()
  [ "${INPUT_ATTACH:-false}" = true ] && attach=(--attach)
  image_digest
  "$W" sbom "${reg[@]}" --format "$fmt" -o "$file" "${attach[@]}" "$image" \
    || die "wharf sbom failed"
  output sbom "$file"
  # Packages, not counting the element that stands for the image itself.
  if [ "$fmt" = spdx-json ]; then
    count=$(jq '(.documentDescribes // []) as $root | [.packages[]? | select(.SPDXID as $id | $root | index($id) | not)] | length' "$file")
  else
    count=$(jq '[.components[]?] | length' "$file")
  fi
  output packages "$count"
  summary "### Wharf SBOM: \`$(cell "$image")\`" "" "| | |" "|---|---|" \
    "| Format | $fmt |" "| Packages | $count |" \
    "| Attached as referrer | $([ ${#attach[@]} -gt 0 ] && echo yes || echo no) |"
  [ -n "$digest" ] && summary "| Digest | \`$digest\` |"
  summary ""
}

sign() {
  need_image
  [ -n "${INPUT_KEY:-}" ] || die "sign needs the key input (private key, e.g. from a secret)"
  key_file "$INPUT_KEY"
  image_digest
  local log="$out/sign.log"
  rc=0
  "$W" sign "${reg[@]}" --key "$KEY" "$image" 2>"$log" || rc=$?
  cat "$log" >&2
  [ "$rc" -eq 0 ] || die "wharf sign failed: $(tail -n1 "$log")"
  output decision signed
  summary "### Wharf sign: \`$(cell "$image")\`" "" "| Signature | Where |" "|---|---|" \
    "| signed | $(cell "$(sed -n 's/.*signature stored at //p' "$log")") |" ""
}

attest() {
  need_image
  [ -n "${INPUT_KEY:-}" ] || die "attest needs the key input"
  [ -n "${INPUT_PREDICATE:-}" ] || die "attest needs the predicate input"
  key_file "$INPUT_KEY"
  image_digest
  "$W" attest "${reg[@]}" --key "$KEY" --predicate "$INPUT_PREDICATE" \
    --type "${INPUT_PREDICATE_TYPE:-custom}" "$image" || die "wharf attest failed"
  output decision attested
  summary "### Wharf attest: \`$(cell "$image")\`" "" \
    "Attestation of type \`${INPUT_PREDICATE_TYPE:-custom}\` signed and pushed." ""
}

verify() {
  need_image
  [ -n "${INPUT_KEY:-}" ] || die "verify needs the key input (public key)"
  key_file "$INPUT_KEY"
  image_digest
  local log="$out/verify.log"
  rc=0
  "$W" verify "${reg[@]}" --key "$KEY" "$image" >"$out/verify.json" 2>"$log" || rc=$?
  cat "$log" >&2
  [ "$rc" -le 1 ] || die "wharf verify failed: $(tail -n1 "$log")"
  if [ "$rc" -eq 0 ]; then
    local n
    n=$(jq length "$out/verify.json")
    output decision verified
    summary "### Wharf verify: \`$(cell "$image")\`" "" "| Signature status | |" "|---|---|" \
      "| verified | $n valid signature(s) |" ""
  else
    output decision unverified
    summary "### Wharf verify: \`$(cell "$image")\`" "" "| Signature status | |" "|---|---|" \
      "| **not verified** | $(cell "$(grep -m1 '^error:' "$log" || true)") |" ""
    annotate error "Wharf verify" "no valid signature for $image"
    exit 1
  fi
}

policy_check() {
  need_image
  [ -n "${INPUT_POLICY:-}" ] || die "policy-check needs the policy input"
  local pol=() p
  while IFS= read -r p; do
    p=$(xargs <<<"$p")
    [ -n "$p" ] && pol+=(--policy "$p")
  done < <(tr ',' '\n' <<<"$INPUT_POLICY")
  local warn=()
  [ "${INPUT_WARN:-false}" = true ] && warn=(--warn)
  local fmt=${INPUT_FORMAT:-json} ext
  case "$fmt" in
    json) ext=json ;; sarif) ext=sarif ;; table) ext=txt ;;
    *) die "policy-check: unknown format $fmt (table, json, sarif)" ;;
  esac
  local report=${INPUT_OUTPUT:-$out/policy.$ext}
  image_digest
  wharf_rc policy check "${reg[@]}" "${pol[@]}" "${warn[@]}" --format "$fmt" -o "$report" "$image"
  local denied=$rc
  output report "$report"
  local json=$report
  if [ "$fmt" != json ]; then
    json="$out/policy.json"
    wharf_rc policy check "${reg[@]}" "${pol[@]}" --warn --format json -o "$json" "$image"
  fi
  if [ "${INPUT_SARIF:-true}" = true ]; then
    local sarif=$report
    if [ "$fmt" != sarif ]; then
      sarif="$out/policy.sarif"
      wharf_rc policy check "${reg[@]}" "${pol[@]}" "${warn[@]}" --format sarif -o "$sarif" "$image"
    fi
    output sarif "$sarif"
  fi
  local allowed
  allowed=$(jq -r '.allowed' "$json")
  output decision "$([ "$allowed" = true ] && echo allowed || echo denied)"
  summary "### Wharf policy check: \`$(cell "$image")\`" ""
  jq -r '.decisions[] | "**\(.image)** (`\(.digest)`): " + (if .allowed then "✅ allowed" else "❌ denied" end),
    "", "| Policy | Rule | Result | Message |", "|---|---|---|---|",
    (.results[] | "| \(.policy) | \(.rule) | \(if .passed then "pass" else "**FAIL**" end) | \(.message | gsub("\\|"; "\\|") | gsub("\n"; " ")) |"),
    ""' "$json" | while IFS= read -r line; do summary "$line"; done
  local level=error
  [ ${#warn[@]} -gt 0 ] && level=warning
  jq -r '.decisions[] | .image as $i | .results[] | select(.passed | not)
    | [.policy, .rule, "\($i): \(.message)"] | @tsv' "$json" |
    while IFS=$'\t' read -r policy rule message; do
      annotate "$level" "Policy $policy, rule $rule" "$message"
    done
  [ "$denied" -eq 0 ] || exit 1
}

db_pull() {
  [ -n "${INPUT_DB_DIGEST:-}" ] || die "db-pull needs the vuln-db-ref input"
  local info
  info=$("$W" db info --json) || die "the pulled DB does not open"
  output db "$WHARF_DB"
  summary "### Wharf vulnerability DB" "" "| | |" "|---|---|" \
    "| Digest | \`$INPUT_DB_DIGEST\` |" \
    "| Advisories | $(jq -r .advisories <<<"$info") |" \
    "| Updated | $(jq -r '.updated_at // "never"' <<<"$info") |" ""
}

case "$cmd" in
  scan) scan ;;
  sbom) sbom ;;
  sign) sign ;;
  attest) attest ;;
  verify) verify ;;
  policy-check) policy_check ;;
  db-pull) db_pull ;;
  *) die "unknown command '$cmd' (scan, sbom, sign, attest, verify, policy-check, db-pull)" ;;
esac
