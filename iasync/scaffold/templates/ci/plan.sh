#!/usr/bin/env bash
# The check of a pull request (GitHub) or merge request (GitLab), the same in both CIs and
# runnable by hand: validate the account files, plan against the shared state, check the style.
#
# The plan goes, as Markdown, to $IASYNC_PLAN_MARKDOWN (default plan.md) for ci/comment.py to
# post on the request; when nothing could be planned, that file says why instead.
# Exit status: 0 planned (with or without changes); 1 anything else.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/common.sh
. ci/common.sh

markdown="${IASYNC_PLAN_MARKDOWN:-plan.md}"

# Replace the Markdown with a headline and, from stdin, the details as a code block.
report_failure() {
  local link
  link="$(job_url)"
  {
    printf '### iasync plan\n\n**%s**\n\n```\n' "$1"
    cat
    printf '```\n'
    if [ -n "$link" ]; then printf '\nThe job log: %s\n' "$link"; fi
  } >"$markdown"
}

problem="$(shared_state_problem)"
if [ -n "$problem" ]; then
  printf 'Error: %s\n' "$problem" >&2
  printf '%s\n' "$problem" | report_failure "Not planned: no shared state is configured."
  exit 1
fi

if ! problems="$(iasync validate 2>&1)"; then
  printf '%s\n' "$problems" >&2
  printf '%s\n' "$problems" | report_failure "Not planned: the account files are not valid."
  exit 1
fi
printf '%s\n' "$problems"

if ! iasync plan --markdown >"$markdown"; then
  # What went wrong is on stderr, in the job log; the comment says where to look.
  echo "iasync plan failed: see the error above." | report_failure "Not planned: iasync plan failed."
  exit 1
fi
cat "$markdown"

if ! unformatted="$(iasync fmt --check 2>&1)"; then
  printf '%s\n' "$unformatted" >&2
  # shellcheck disable=SC2016 # the backquotes are Markdown's, not the shell's
  {
    printf '\n**Not in the canonical style**: run `iasync fmt` (or `pre-commit install`, '
    printf 'which runs it at every commit).\n\n```\n%s\n```\n' "$unformatted"
  } >>"$markdown"
  exit 1
fi
