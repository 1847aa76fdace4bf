# tests/hosts/lib.sh - the pass/fail bookkeeping the host tests share.
# Source it after `cd` to the repository root:
#   check NAME CMD...   runs CMD, counts "ok NAME" or "FAIL NAME"
#   finish              prints "N passed, N failed" and exits non-zero on
#                       any failure
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }
