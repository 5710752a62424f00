#!/usr/bin/env bash
# CPU validation evidence (reports/results/cpu-validation.{md,json}): for every CPU scenario of
# scenarios/validation/, REPS times, `clustersim validate --calibrate`: measure the scenario's own ops,
# collectives and host overheads alone (seconds), predict with them, run the same plan for real under
# mpirun, compare. The report gives each repetition's errors and their median, which the tolerances
# are checked against (a shared virtual machine's speed moves by 10-20% from one minute to the next).
# Usage: tools/validate-cpu.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, reports/results)
# Environment: STEPS (measured steps, default 40), WARMUP (default 5), REPS (default 3), ATTEMPTS
# (calibration and run pairs per repetition while the machine probe moves, default 5),
# SCENARIOS (space-separated names, default all seven).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-reports/results}
STEPS=${STEPS:-40}
WARMUP=${WARMUP:-5}
REPS=${REPS:-3}
ATTEMPTS=${ATTEMPTS:-5}
CLI="$BUILD/cli/clustersim"
SCENARIOS=${SCENARIOS:-"gpt-tiny-dp2 gpt-tiny-dp2-accum4 gpt-tiny-zero2 llama-tiny-recompute gpt-tiny-bf16 gpt-tiny-tp2 gpt-tiny-pp2-1f1b"}
WORK=$(mktemp -d)
mkdir -p "$OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$WORK/machine.txt"
: > "$WORK/commands.txt"
: > "$WORK/durations.txt"
echo "$REPS" > "$WORK/reps.txt"
status=0
for s in $SCENARIOS; do
  for r in $(seq 1 "$REPS"); do
    cmd="$CLI validate scenarios/validation/$s.json --calibrate --steps $STEPS --warmup $WARMUP --attempts $ATTEMPTS"
    [ "$r" = 1 ] && echo "+ $cmd   (x$REPS)" | tee -a "$WORK/commands.txt"
    start=$(date +%s.%N)
    "$CLI" validate "scenarios/validation/$s.json" --calibrate --steps "$STEPS" --warmup "$WARMUP" --attempts "$ATTEMPTS" \
      --report "$WORK/$s.$r.json" > "$WORK/$s.$r.txt" 2>&1 || true
    end=$(date +%s.%N)
    echo "$s $r $(echo "$end - $start" | bc)" >> "$WORK/durations.txt"
  done
  echo "load after $s: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/machine.txt"
done
python3 tools/validation_report.py "$WORK" "$OUT/cpu-validation" || status=1
echo "per-scenario outputs in $WORK"
exit $status
