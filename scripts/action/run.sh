#!/usr/bin/env bash
# Runs guardform for the GitHub Action (action.yml): validate, plan --detailed-exitcode --out FILE,
# the plan as Markdown in the job summary, and with `command: apply` applies exactly that plan.
#
# Environment (action.yml passes the inputs through `env:`, never into the script's text):
#   GUARDFORM_COMMAND            plan | apply | sync (sync: `guardform sync ip-lists --auto-approve`)
#   GUARDFORM_MANIFEST           the manifest, relative to the working directory (guardform.yaml)
#   GUARDFORM_WORKING_DIRECTORY  where to run (default: the current directory)
#   GUARDFORM_ARGS               extra flags for `plan` (or `sync ip-lists`), split on white space
#   GUARDFORM_APPLY_ARGS         extra flags for `apply`, e.g. --allow-destroy
#   GUARDFORM_BIN                the guardform binary (default: `guardform` on PATH)
#   RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY   (set by the runner)
# Outputs: exitcode (plan's detailed exit code: 0 no changes, 2 changes), has-changes (true or
# false), plan-file, markdown-file (the plan as Markdown, for the PR comment).
set -euo pipefail

fail() {
    echo "::error title=guardform::$*" >&2
    exit 1
}

command="${GUARDFORM_COMMAND:-plan}"
manifest="${GUARDFORM_MANIFEST:-guardform.yaml}"
guardform="${GUARDFORM_BIN:-guardform}"
case "$command" in
    plan | apply | sync) ;;
    *) fail "input 'command' must be plan, apply or sync, not '$command'" ;;
esac

# Extra flags: split on white space, never evaluated by a shell.
read -r -a extra_args <<<"${GUARDFORM_ARGS:-}" || true
read -r -a apply_args <<<"${GUARDFORM_APPLY_ARGS:-}" || true

if [ -n "${GUARDFORM_WORKING_DIRECTORY:-}" ]; then
    cd "$GUARDFORM_WORKING_DIRECTORY" || fail "working directory '$GUARDFORM_WORKING_DIRECTORY' does not exist"
fi
[ -f "$manifest" ] || fail "manifest '$manifest' not found in $(pwd)"

export NO_COLOR=1

output() {
    if [ -n "${GITHUB_OUTPUT:-}" ]; then
        echo "$1=$2" >>"$GITHUB_OUTPUT"
    fi
}

summary() {
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        cat >>"$GITHUB_STEP_SUMMARY"
    else
        cat >/dev/null
    fi
}

echo "::group::guardform validate -m $manifest"
"$guardform" validate -m "$manifest" || fail "guardform validate found problems in $manifest"
echo "::endgroup::"

if [ "$command" = sync ]; then
    set +e
    "$guardform" sync ip-lists -m "$manifest" --auto-approve ${extra_args[@]+"${extra_args[@]}"}
    code=$?
    set -e
    output exitcode "$code"
    [ "$code" = 0 ] || fail "guardform sync ip-lists failed (exit $code)"
    exit 0
fi

# One plan file per manifest, so two uses of the action in one job do not overwrite each other.
plans="${RUNNER_TEMP:?RUNNER_TEMP is not set}/guardform-plans"
mkdir -p "$plans"
name="$(printf '%s' "${GUARDFORM_WORKING_DIRECTORY:-.}/$manifest" | tr -c 'A-Za-z0-9._-' '_')"
plan_file="$plans/$name.plan"
markdown_file="$plans/$name.md"
rm -f "$plan_file" "$markdown_file"

echo "::group::guardform plan -m $manifest"
set +e
"$guardform" plan -m "$manifest" --detailed-exitcode --out "$plan_file" ${extra_args[@]+"${extra_args[@]}"}
code=$?
set -e
echo "::endgroup::"
case "$code" in
    0) has_changes=false ;;
    2) has_changes=true ;;
    *) fail "guardform plan failed (exit $code); see the log above" ;;
esac
output exitcode "$code"
output has-changes "$has_changes"
output plan-file "$plan_file"

"$guardform" show "$plan_file" --format markdown >"$markdown_file" ||
    fail "guardform show $plan_file --format markdown failed"
output markdown-file "$markdown_file"
{
    echo "## guardform plan: \`$manifest\`"
    echo
    cat "$markdown_file"
    echo
} | summary

if [ "$command" = apply ]; then
    if [ "$has_changes" = false ]; then
        echo "No changes: nothing to apply."
        exit 0
    fi
    echo "::group::guardform apply $plan_file"
    set +e
    "$guardform" apply "$plan_file" ${apply_args[@]+"${apply_args[@]}"} | tee "$plans/$name.apply.txt"
    code=${PIPESTATUS[0]}
    set -e
    echo "::endgroup::"
    {
        echo "### guardform apply: \`$manifest\` ($([ "$code" = 0 ] && echo succeeded || echo "failed, exit $code"))"
        echo
        echo "<details><summary>apply output</summary>"
        echo
        echo '```text'
        cat "$plans/$name.apply.txt"
        echo '```'
        echo
        echo "</details>"
        echo
    } | summary
    [ "$code" = 0 ] || fail "guardform apply failed (exit $code); what succeeded stays applied, plan again to see what is left"
fi
