# Sourced by scripts/embedded-skips, ceph-skips and localstack-skips. `skip FILTER REASON` prints
# `--skip FILTER` on standard output, for cargo test, which then counts the tests as "filtered
# out" (never as passed), and "SKIPPED on SERVER: FILTER: REASON" on standard error, so that a
# run's output says what it left out and why:
#   scripts/test --test suite -- $(scripts/ceph-skips)
# Tests also skip themselves with the same reason (tests/src/lib.rs, skip_on) when run without
# the list, as a bare `cargo test` does; the list is what makes the count honest.
skip() {
  printf -- '--skip %s ' "$1"
  echo "SKIPPED on $server: $1: $2" >&2
}
