#!/usr/bin/env bash
# The apply after a merge to the main (default) branch, the same in GitHub Actions and GitLab CI:
# validate, then converge LUSID to the account files with no prompt. The pipelines run one apply
# at a time; should one still meet another (someone applying by hand), iasync's state lock makes
# it wait up to IASYNC_LOCK_TIMEOUT seconds (default 300) and then fail, never both at once.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/common.sh
. ci/common.sh

problem="$(shared_state_problem)"
if [ -n "$problem" ]; then
  printf 'Error: %s\n' "$problem" >&2
  exit 1
fi

iasync validate
iasync apply --auto-approve --lock-timeout "${IASYNC_LOCK_TIMEOUT:-300}"
