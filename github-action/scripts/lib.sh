# shellcheck shell=bash
# Helpers shared by the action's scripts: workflow commands and step outputs, as
# the runner reads them (docs.github.com: "Workflow commands for GitHub Actions").

# Escapes a workflow command's message (%, CR, LF) and property values (also : and ,).
escape_data() { local s=${1//%/%25}; s=${s//$'\r'/%0D}; printf '%s' "${s//$'\n'/%0A}"; }
escape_prop() { local s; s=$(escape_data "$1"); s=${s//:/%3A}; printf '%s' "${s//,/%2C}"; }

# annotate LEVEL TITLE MESSAGE: an ::error / ::warning / ::notice annotation.
annotate() { echo "::$1 title=$(escape_prop "$2")::$(escape_data "$3")"; }

die() { annotate error "Wharf" "$*"; exit 2; }

# output NAME VALUE: a step output (heredoc form, so values may hold newlines).
output() {
  local delim="wharf_$RANDOM$RANDOM"
  printf '%s<<%s\n%s\n%s\n' "$1" "$delim" "$2" "$delim" >>"$GITHUB_OUTPUT"
}

# summary TEXT...: appended to the job summary (Markdown).
summary() {
  [ "${INPUT_SUMMARY:-true}" = true ] || return 0
  printf '%s\n' "$@" >>"$GITHUB_STEP_SUMMARY"
}

# Escapes a value for a Markdown table cell.
cell() { local s=${1//|/\\|}; printf '%s' "${s//$'\n'/ }"; }
