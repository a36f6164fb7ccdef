# shellcheck shell=bash
# resolve_digest REF: prints the manifest digest of HOST[:PORT]/REPO(:TAG|@DIGEST) as
# the registry reports it (Docker-Content-Digest of a HEAD on the manifest), following
# the registry's auth challenge: Basic, or a Bearer token from its realm with
# WHARF_USERNAME/WHARF_PASSWORD (anonymous without them). WHARF_INSECURE=true: plain HTTP.
# Sourced after lib.sh.
resolve_digest() {
  local ref=$1 host rest repo tag scheme=https
  case "$ref" in
    */*) ;;
    *) die "$ref: give HOST/REPOSITORY[:TAG]" ;;
  esac
  host=${ref%%/*}
  rest=${ref#*/}
  if [[ $rest == *@* ]]; then
    repo=${rest%@*}
    tag=${rest#*@}
  elif [[ ${rest##*/} == *:* ]]; then
    repo=${rest%:*}
    tag=${rest##*:}
  else
    repo=$rest
    tag=latest
  fi
  [ "${WHARF_INSECURE:-false}" = true ] && scheme=http
  local url="$scheme://$host/v2/$repo/manifests/$tag"
  local accept="application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json"
  local creds=()
  [ -n "${WHARF_USERNAME:-}" ] && creds=(-u "$WHARF_USERNAME:${WHARF_PASSWORD:-}")
  local headers
  headers=$(curl -sS -I -H "Accept: $accept" "$url") || die "cannot reach $url"
  local status challenge
  status=$(head -n1 <<<"$headers" | awk '{print $2}')
  if [ "$status" = 401 ]; then
    challenge=$(grep -i '^www-authenticate:' <<<"$headers" | head -n1 | tr -d '\r')
    challenge=${challenge#*: }
    if [[ ${challenge,,} == bearer* ]]; then
      local realm service token
      realm=$(sed -n 's/.*realm="\([^"]*\)".*/\1/p' <<<"$challenge")
      service=$(sed -n 's/.*service="\([^"]*\)".*/\1/p' <<<"$challenge")
      token=$(curl -fsS "${creds[@]}" -G "$realm" --data-urlencode "service=$service" \
        --data-urlencode "scope=repository:$repo:pull" | jq -r '.token // .access_token // empty') \
        || die "token request to $realm failed"
      [ -n "$token" ] || die "no token from $realm"
      headers=$(curl -sS -I -H "Accept: $accept" -H "Authorization: Bearer $token" "$url")
    else
      headers=$(curl -sS -I -H "Accept: $accept" "${creds[@]}" "$url")
    fi
    status=$(head -n1 <<<"$headers" | awk '{print $2}')
  fi
  [ "$status" = 200 ] || die "$ref: the registry answered $status to HEAD $url"
  local digest
  digest=$(grep -i '^docker-content-digest:' <<<"$headers" | head -n1 | tr -d '\r' | awk '{print $2}')
  [[ $digest == sha256:* ]] || die "$ref: no Docker-Content-Digest in the registry's answer"
  printf '%s\n' "$digest"
}

# The repository part of a reference, without tag or digest.
ref_repository() {
  local ref=${1%@*} last
  last=${ref##*/}
  [[ $last == *:* ]] && ref=${ref%:*}
  printf '%s\n' "$ref"
}
