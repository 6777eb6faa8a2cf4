# shellcheck shell=bash
# Shared by ci/plan.sh and ci/apply.sh (sourced, not run).

# A CI hands a secret that was never set to the job as an empty variable. To iasync an empty
# setting is a bad value, not a missing one, so empty IASYNC_*, FBN_* and PG* variables are
# dropped here: what is not set is simply not there.
for name in $(compgen -e); do
  case "$name" in
    IASYNC_* | FBN_* | PG*) [ -n "${!name}" ] || unset "$name" ;;
  esac
done

# The link to this job's log, when the CI says where it is (GitLab: CI_JOB_URL; GitHub: the
# run's address from its parts).
job_url() {
  if [ -n "${CI_JOB_URL:-}" ]; then
    printf '%s' "$CI_JOB_URL"
  elif [ -n "${GITHUB_RUN_ID:-}" ]; then
    printf '%s/%s/actions/runs/%s' "${GITHUB_SERVER_URL:-https://github.com}" \
      "${GITHUB_REPOSITORY:-}" "$GITHUB_RUN_ID"
  fi
}

# In CI the state must outlive the job, and a runner's disk does not: planning against an empty
# state shows every account as new, and an apply whose record is thrown away loses track of what
# it changed. So in CI the state is always named by IASYNC_STATE (see ci/README.md).
shared_state_problem() {
  if [ -n "${CI:-}" ] && [ -z "${IASYNC_STATE:-}" ]; then
    printf '%s\n' "IASYNC_STATE is not set: in CI the state must be shared, or it is lost when" \
      "the job ends. Set the IASYNC_STATE secret (CI/CD variable) to the PostgreSQL database" \
      "of the state, postgresql://USER@HOST:PORT/DATABASE, and PGPASSWORD to its password;" \
      "see ci/README.md for the alternatives."
  fi
}
