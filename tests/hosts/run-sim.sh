#!/bin/sh
# tests/hosts/run-sim.sh [WORKDIR] - examples/kefu-sim.c, the discrete-event
# host driving the router: its simulated single-skill floor agrees with
# Erlang C (kefu erlang) within its confidence half-width; a seed gives the
# same run every time; the multi-skill scenario runs; bad values and a
# malformed scenario are refused with a message.
# Prints "N passed, N failed"; exits non-zero on failure.
cd "$(dirname "$0")/../.." || exit 1
work=${1:-build/hosts/sim}
mkdir -p "$work" || exit 1
host=sim
. tests/hosts/lib.sh
need python3
sim=build/default/bin/kefu-sim
make -s "$sim" build/default/bin/kefu >/dev/null 2>&1 || { bad "build kefu-sim"; finish; }

# 55 agents, 48 Erlangs offered: 200 simulated hours against the formula
"$sim" --agents 55 --arrival-rate 0.2 --aht 240 --sl-target 15 --hours 200 --seed 1 --json > "$work/s1.json"
check "kefu-sim runs (exit 0)" test $? -eq 0
build/default/bin/kefu erlang --arrival-rate 0.2 --aht 240 --agents 55 --sl-target 15 --json > "$work/erlang.json"
python3 - "$work/s1.json" "$work/erlang.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
e = json.load(open(sys.argv[2]))
assert s["theory"]["model"] == "erlang_c", s["theory"]
for k in ("service_level", "p_wait"):
    assert abs(s["theory"][k] - e[k]) < 1e-4, (k, s["theory"][k], e[k])
    hw = s[k + "_hw"]
    assert abs(s[k] - e[k]) <= 2 * hw + 0.01, (k, s[k], hw, e[k])
assert s["answered"] > 100000 and s["abandon_rate"] == 0, s
PY
check "simulated service level and P(wait) agree with Erlang C within their half-widths" test $? -eq 0

"$sim" --agents 55 --arrival-rate 0.2 --aht 240 --hours 20 --seed 7 --json > "$work/a.json"
"$sim" --agents 55 --arrival-rate 0.2 --aht 240 --hours 20 --seed 7 --json > "$work/b.json"
"$sim" --agents 55 --arrival-rate 0.2 --aht 240 --hours 20 --seed 8 --json > "$work/c.json"
check "the same seed gives the same run, another seed another" \
  sh -c "cmp -s '$work/a.json' '$work/b.json' && ! cmp -s '$work/a.json' '$work/c.json'"

"$sim" --scenario examples/scenarios/two-skills.yaml --hours 20 --json > "$work/scn.json"
rc=$?
python3 - "$work/scn.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = [s["name"] for s in d["streams"]]
assert "billing-voice" in names and "tech-voice" in names, names
assert all(s["offered"] >= s["answered"] > 0 for s in d["streams"]), d["streams"]
PY
check "the two-skill scenario runs and reports every stream" sh -c "test $rc -eq 0 && test $? -eq 0"

for bad in "--agents 1e12" "--agents abc" "--arrival-rate -1" "--hours 100000" "--seed nan"; do
  set -- $bad
  "$sim" --agents 5 --arrival-rate 0.01 --aht 60 "$1" "$2" > "$work/o.out" 2> "$work/o.err"
  check "kefu-sim $1 $2: exit 2, says which value is bad" \
    sh -c "test $? -eq 2 && grep -q \"bad value '$2' for $1\" '$work/o.err' && ! test -s '$work/o.out'"
done
printf 'model: two-skills-floor.yaml\ntraffic: [oops\n' > "$work/bad.yaml"
"$sim" --scenario "$work/bad.yaml" > "$work/o.out" 2> "$work/o.err"
check "a malformed scenario exits 1 naming file:line:column" \
  sh -c "test $? -eq 1 && grep -Eq 'bad.yaml:[0-9]+:[0-9]+' '$work/o.err'"
finish
