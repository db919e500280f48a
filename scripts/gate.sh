#!/usr/bin/env bash
# The CI gate (make gate): run the ci scenario and compare it with a base.
#
#   scripts/gate.sh [--baseline PATH] [--out DIR] [--preset NAME] [--passes N] [--new PATH] [-- COMPARE-FLAGS...]
#   scripts/gate.sh --base-bench BIN|--base-rev REV [--out DIR] [--preset NAME] [--passes N] [-- COMPARE-FLAGS...]
#   scripts/gate.sh --refresh [--force] [--baseline DIR] [--out DIR] [--preset NAME] [--passes N]
#
# With no --baseline, --base-bench, --base-rev or --new, the base is the
# base revision, built and measured here beside NEW, passes alternating,
# and compared pass for pass (bench compare --paired): timings from another
# machine, or from this one at another time, differ for reasons other than
# the code. --baseline compares with recorded passes instead (bench compare
# does not judge timings from another host, CPU model or CPU count: exit 2).
#
#   --baseline PATH  BASE: a summary.json or a directory of runs recorded
#                    earlier on this machine (e.g. results/baseline), compared
#                    unpaired
#   --out DIR        where the runs go (default results/gate; emptied first)
#   --preset NAME    the scenario, scenarios/NAME.yaml (default ci)
#   --passes N       samples per cell, taken as N passes over all cells
#                    (bench run --repeat 1, N times; default 16), so that a
#                    burst of load hits one sample of every cell instead of
#                    every sample of a few
#   --new PATH       compare this summary or directory of runs instead of
#                    running the scenario
#   --base-bench BIN measure BASE now, with the bench binary BIN (built from
#                    the base commit), alternating its passes with NEW's on
#                    this machine, and compare them paired (bench compare
#                    --paired): pass k of BASE against pass k of NEW
#   --base-rev REV   as --base-bench, with bench built from git revision REV
#                    (the default: $GATE_BASE, else the merge base with
#                    origin/main, else HEAD — on unchanged code the gate then
#                    measures its own noise and must pass)
#   --refresh        run the scenario and make it the baseline: DIR/pass-K.json,
#                    summaries only; refuses a run in which a cell could not
#                    run or a verdict is not ok, unless --force. Record an
#                    even number of passes (16): bench compare --power
#                    measures the gate's false alarms and power on them
#   -- FLAGS         passed on to bench compare, e.g. -- --thresholds p99=15% --strict
#
# BENCH names a bench binary to use instead of building bin/bench; GO the
# go command. The Markdown for a pull-request comment is written to
# DIR/compare.md, the runs' tables to DIR/run.txt.
#
# Exit codes are bench compare's: 0 pass, 1 regression, safety verdict or
# cell lost, 2 could not decide (BASE from another machine, or --strict),
# 3 bad input or environment (no baseline, a run could not start).
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=results/baseline
out=results/gate
preset=ci
passes=16
refresh=false
force=false
new=""
base_bench=""
base_rev=""
baseline_given=false
compare_args=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() {
	echo "gate: $1" >&2
	exit "${2:-3}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--refresh) refresh=true ;;
	--force) force=true ;;
	--baseline) baseline=${2:?--baseline needs a path}; baseline_given=true; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--preset) preset=${2:?--preset needs a name}; shift ;;
	--passes) passes=${2:?--passes needs a number}; shift ;;
	--new) new=${2:?--new needs a path}; shift ;;
	--base-bench) base_bench=${2:?--base-bench needs a binary}; shift ;;
	--base-rev) base_rev=${2:?--base-rev needs a git revision}; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; compare_args=("$@"); break ;;
	*) die "unknown argument $1 (scripts/gate.sh --help)" ;;
	esac
	shift
done
case $passes in '' | *[!0-9]* | 0) die "--passes wants a positive number, not $passes" ;; esac
scenario=scenarios/$preset.yaml
[ -f "$scenario" ] || die "no scenario $scenario"
if $refresh && { [ -n "$new" ] || [ -n "$base_bench" ] || [ -n "$base_rev" ]; }; then
	die "--refresh records a fresh run of this tree; it takes neither --new nor --base-bench"
fi
if [ -n "$base_bench" ] && [ -n "$new" ]; then
	die "--base-bench runs both sides; it does not take --new"
fi
if [ -n "$base_bench" ] && ! [ -x "$base_bench" ]; then
	die "--base-bench $base_bench is not an executable"
fi

bench=${BENCH:-}
if [ -z "$bench" ]; then
	"${GO:-go}" build -o bin/bench ./cmd/bench || die "go build failed"
	bench=bin/bench
fi

# The base: the base revision, measured here, unless told otherwise.
if ! $refresh && ! $baseline_given && [ -z "$new" ] && [ -z "$base_bench" ] && [ -z "$base_rev" ]; then
	base_rev=${GATE_BASE:-$(git merge-base HEAD origin/main 2>/dev/null || git rev-parse HEAD)}
	echo "gate: measuring the base revision $(git rev-parse --short "$base_rev") here, beside NEW, passes alternating" >&2
fi
if [ -n "$base_rev" ]; then
	[ -z "$base_bench" ] || die "give --base-bench or --base-rev, not both"
	tree=$(mktemp -d)
	trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"' EXIT
	git worktree add --detach "$tree" "$base_rev" >/dev/null 2>&1 || die "cannot check out the base revision $base_rev"
	(cd "$tree" && "${GO:-go}" build -o bin/bench ./cmd/bench) || die "go build of the base revision $base_rev failed"
	base_bench=$tree/bin/bench
fi

# pass BIN SIDE K: one pass over every cell, into $out/SIDE/<run-id>/.
failed=0
pass() {
	local rc=0
	echo "== $2 pass $3 of $passes" >>"$out/run.txt"
	"$1" run -s "$scenario" --repeat 1 --out "$out/$2" >>"$out/run.txt" 2>&1 || rc=$?
	case $rc in
	0) ;;
	2)
		failed=$((failed + 1))
		echo "gate: $2 pass $3: some cells could not run (see $out/run.txt)" >&2
		;;
	*) die "$2 pass $3: bench run failed (exit $rc); see $out/run.txt" ;;
	esac
}

mkdir -p "$out"
if [ -z "$new" ]; then
	find "$out" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
	sides="NEW"
	[ -n "$base_bench" ] && sides="BASE and NEW, alternately,"
	echo "gate: $passes passes of $scenario for $sides into $out (about 15 s a pass for ci)" >&2
	start=$(date +%s)
	for k in $(seq 1 "$passes"); do
		if [ -n "$base_bench" ]; then
			pass "$base_bench" base "$k"
		fi
		pass "$bench" new "$k"
	done
	echo "gate: the runs took $(($(date +%s) - start)) s; their tables are in $out/run.txt" >&2
	new=$out/new
	[ -n "$base_bench" ] && baseline=$out/base
fi
[ -e "$new" ] || die "no summary at $new"

if $refresh; then
	[ "$failed" -eq 0 ] || $force || die "not refreshing the baseline from runs whose cells did not all run (--force to do it anyway)"
	# A baseline with a violation, an undecided verdict or no progress
	# would switch that cell's gate off: ok in BASE is what makes it fail
	# later. Liveness not assessed (n/a) is neither.
	bad=$(cat "$new"/*/summary.json | grep -oE '"(mutex|resource|liveness|progress)": "[a-z/-]*"' | grep -v '"ok"' | grep -vc '"n/a"' || true)
	if [ "$bad" -gt 0 ] && ! $force; then
		die "the runs have $bad verdicts that are not ok; not recording them as the baseline (--force to do it anyway)"
	fi
	mkdir -p "$baseline"
	rm -f "$baseline"/pass-*.json "$baseline"/summary.json
	k=0
	for f in "$new"/*/summary.json; do
		k=$((k + 1))
		cp "$f" "$baseline/pass-$k.json"
	done
	echo "gate: baseline $baseline refreshed with $k passes ($(du -ch "$baseline"/pass-*.json | tail -1 | cut -f1); summaries only)" >&2
	if [ "$baseline" = results/baseline ]; then
		echo "gate: commit it: git add -A results/baseline && git commit -m 'gate: refresh the baseline'" >&2
	fi
	exit 0
fi

[ -e "$baseline" ] || die "no baseline at $baseline: record one with scripts/gate.sh --refresh"
rc=0
rm -f "$out/compare.md"
paired=()
[ -n "$base_bench" ] && paired=(--paired)
"$bench" compare "$baseline" "$new" --markdown "$out/compare.md" ${paired[@]+"${paired[@]}"} ${compare_args[@]+"${compare_args[@]}"} || rc=$?
[ -f "$out/compare.md" ] && echo "gate: Markdown for the pull request: $out/compare.md" >&2
exit $rc
