# tests/hosts/lib.sh - the pass/fail bookkeeping the host tests share.
# Source it after `cd` to the repository root:
#   check NAME CMD...   runs CMD, counts "ok NAME" or "FAIL NAME"
#   finish              prints "N passed, N failed" and exits non-zero on
#                       any failure
#   skip WHY            prints "$host: skipped: WHY" and a zero count, exits 0
#   need CMD...         skips unless every CMD is installed
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }
skip() { echo "${host:-host}: skipped: $1"; echo "0 passed, 0 failed"; exit 0; }
need() { for c; do command -v "$c" >/dev/null 2>&1 || skip "needs $c"; done; }
