#!/usr/bin/env bash
# CPU validation evidence (reports/results/cpu-validation.{md,json}): calibrates this machine, then
# predicts, runs and compares every CPU scenario of scenarios/validation/ with `clustersim validate`.
# Usage: tools/validate-cpu.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, reports/results)
# Environment: STEPS (measured steps, default 40), WARMUP (default 5), PROFILE (reuse a profile
# instead of calibrating).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-reports/results}
STEPS=${STEPS:-40}
WARMUP=${WARMUP:-5}
CLI="$BUILD/cli/clustersim"
SCENARIOS="gpt-tiny-dp2 gpt-tiny-dp2-accum4 gpt-tiny-zero2 llama-tiny-recompute gpt-tiny-bf16 gpt-tiny-tp2 gpt-tiny-pp2-1f1b"
WORK=$(mktemp -d)
mkdir -p "$OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$WORK/machine.txt"
if [ -z "${PROFILE:-}" ]; then
  PROFILE="$WORK/cpu-profile.json"
  echo "+ $CLI calibrate --backend cpu --out PROFILE" | tee "$WORK/commands.txt"
  "$CLI" calibrate --backend cpu --out "$PROFILE" > "$WORK/calibrate.txt" 2>&1 || { cat "$WORK/calibrate.txt"; exit 1; }
  tr '\r' '\n' < "$WORK/calibrate.txt" | grep -v '^calibrating' > "$WORK/profile-summary.txt"
else
  echo "(profile reused: $PROFILE)" | tee "$WORK/commands.txt"
  echo "profile $PROFILE" > "$WORK/profile-summary.txt"
fi
status=0
for s in $SCENARIOS; do
  cmd="$CLI validate scenarios/validation/$s.json --backend cpu --profile PROFILE --steps $STEPS --warmup $WARMUP"
  echo "+ $cmd" | tee -a "$WORK/commands.txt"
  start=$(date +%s.%N)
  "$CLI" validate "scenarios/validation/$s.json" --backend cpu --profile "$PROFILE" --steps "$STEPS" \
    --warmup "$WARMUP" --report "$WORK/$s.json" > "$WORK/$s.txt" 2>&1 || status=1
  end=$(date +%s.%N)
  echo "$s $(echo "$end - $start" | bc)" >> "$WORK/durations.txt"
  echo "load after $s: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/machine.txt"
done
python3 tools/validation_report.py "$WORK" "$OUT/cpu-validation" || status=1
cp "$PROFILE" "$OUT/cpu-profile.json" 2>/dev/null || true
echo "per-scenario outputs in $WORK"
exit $status
