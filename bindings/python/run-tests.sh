#!/bin/sh
# Python binding tests: the unit suite (Debian's pytest when installed, else
# unittest), `pip install` from the checkout with no network, and the
# triage example.  Usage: run-tests.sh [RESULTS_PREFIX]
# Prints a closing "N passed, N failed" line; exits non-zero on failure.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=${1:-$root/build/default/results/bindings_python}
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
mkdir -p "$(dirname "$prefix")"
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL $*"; }

if [ ! -e "$root/lib/libkefu.so" ]; then
  echo "python: $root/lib/libkefu.so not built (run make)"
  echo "0 passed, 1 failed"; exit 1
fi
# Debian's interpreter has python3-pytest (tools/deps.sh installs it).
py=""
for c in /usr/bin/python3 python3; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import pytest' 2>/dev/null; then
    py=$c; break
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# 1. the unit suite, from the build tree (no KEFU_LIBRARY: finds ../../lib)
if [ -n "$py" ]; then
  echo "python: $py -m pytest ($("$py" --version 2>&1))"
  (cd "$here" && env -u KEFU_LIBRARY "$py" -m pytest -q -p no:cacheprovider \
      --junitxml="$prefix.xml" tests) > "$tmp/unit.log" 2>&1
  cat "$tmp/unit.log"
  line=$(grep -E '^=*[ ]*[0-9]+ (passed|failed)' "$tmp/unit.log" | tail -n 1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | awk '{print $1}')
  f=$(echo "$line" | grep -oE '[0-9]+ (failed|error|errors)' | awk '{s+=$1} END {print s+0}')
  [ -z "$line" ] && f=1
else
  py=$(command -v python3 || true)
  if [ -z "$py" ]; then
    echo "python: no python3 interpreter installed; skipped (tools/deps.sh installs python3 python3-pytest)"
    echo "0 passed, 0 failed"; exit 0
  fi
  echo "python: pytest not installed, using unittest ($py)"
  (cd "$here" && env -u KEFU_LIBRARY "$py" tests/run_unittest.py) > "$tmp/unit.log" 2>&1
  cat "$tmp/unit.log"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/unit.log" | tail -n 1)
  p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
  [ -z "$line" ] && f=1
fi
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))

# 2. pip install from the checkout, offline, into a target directory
if "$py" -m pip --version >/dev/null 2>&1 && "$py" -c 'import setuptools' 2>/dev/null; then
  cp -r "$here" "$tmp/src"   # build in a copy: keep build/ out of the tree
  if "$py" -m pip install -q --no-build-isolation --no-index --no-deps \
        --target "$tmp/site" "$tmp/src" > "$tmp/pip.log" 2>&1 &&
     (cd "$tmp" && PYTHONPATH="$tmp/site" KEFU_LIBRARY="$root/lib/libkefu.so" "$py" -c '
import kefu, os, sys
assert kefu.__file__.startswith(os.environ["PYTHONPATH"]), kefu.__file__
m = kefu.Model.load_buffer("kefu: 1\nintents:\n  a: {examples: [hello, hi]}\n  b: {examples: [refund please, money back]}\n")
assert m.classify("refund please").intent == "b"
print("installed kefu", kefu.version(), "from", kefu.__file__)'); then
    ok "pip install --no-index bindings/python and import"
  else
    cat "$tmp/pip.log"; bad "pip install --no-index bindings/python"
  fi
else
  echo "skip pip install check: $py has no pip/setuptools (Debian: python3-pip python3-setuptools)"
fi

# 3. the triage example on CSV and JSONL input
printf 'id,text\n1,"我要退款，订单号 1234567890"\n2,"气死我了!!! 我要投诉"\n3,hello\n' > "$tmp/in.csv"
printf '{"id": "a", "text": "where is my order 1234567890"}\n{"id": "b", "text": "谢谢，非常满意"}\n' > "$tmp/in.jsonl"
for f in in.csv in.jsonl; do
  if "$py" "$root/examples/triage_file.py" "$tmp/$f" --rules "$root/examples/default-rules.yaml" \
       --progress -o "$tmp/$f.out" 2> "$tmp/$f.err" &&
     "$py" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
want = {"in.csv": 3, "in.jsonl": 2}[sys.argv[2]]
assert len(rows) == want, rows
for r in rows:
    assert "intent" in r and "emotion" in r and "entities" in r, r
if sys.argv[2] == "in.csv":
    assert rows[0]["intent"] == "refund", rows[0]
    assert rows[1]["emotion"]["anger"] > 50 and rows[1]["rules"], rows[1]
' "$tmp/$f.out" "$f" && grep -q '100.0%' "$tmp/$f.err"; then
    ok "examples/triage_file.py $f"
  else
    cat "$tmp/$f.err"; bad "examples/triage_file.py $f"
  fi
done

# 4. the example and `kefu triage` are interchangeable: same JSON lines
cli="$root/build/default/bin/kefu"
if [ -x "$cli" ] && [ -f "$root/examples/conversations.jsonl" ]; then
  "$cli" triage -m "$root/examples/default-model.yaml" --trace \
      "$root/examples/conversations.jsonl" > "$tmp/cli.jsonl" 2>&1
  "$py" "$root/examples/triage_file.py" --trace --no-progress \
      "$root/examples/conversations.jsonl" -o "$tmp/py.jsonl" 2>&1
  if "$py" -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(a) == len(b) > 0, (len(a), len(b))
for i, (x, y) in enumerate(zip(a, b)):
    assert x == y, (i, x, y)
' "$tmp/py.jsonl" "$tmp/cli.jsonl"; then
    ok "examples/triage_file.py output equals kefu triage on examples/conversations.jsonl"
  else
    bad "examples/triage_file.py output differs from kefu triage"
  fi
else
  echo "skip triage comparison: no build/default/bin/kefu or sample conversations"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
