#!/usr/bin/env python3
"""Assembles reports/results/cpu-validation.{md,json} from the comparisons that tools/validate-cpu.sh
wrote (`clustersim validate --report S.R.json`, schema clustersim.comparison/1, R = repetition).
Each metric's error is reported per repetition and as the median over the repetitions, which the
tolerances are checked against."""
import json
import os
import statistics
import sys

work, out = sys.argv[1], sys.argv[2]
read = lambda name: open(os.path.join(work, name)).read().strip()
commands = read("commands.txt").splitlines()
machine = read("machine.txt").splitlines()
reps = int(read("reps.txt"))
durations = {}
for line in read("durations.txt").splitlines():
    s, r, sec = line.split()
    durations.setdefault(s, {})[int(r)] = float(sec)
scenarios = list(durations)
TOL = {"step": 0.10, "memory": 0.05, "comm": 0.15}


def pct(e):
    return "n/a" if e is None else f"{e * 100:+.1f}%"


def ms(s):
    return f"{s * 1e3:.2f} ms"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


rows, doc = [], {"machine": machine, "commands": commands, "repetitions": reps, "tolerances": TOL,
                 "scenarios": []}
all_pass = True
for s in scenarios:
    runs = []
    for r in range(1, reps + 1):
        path = os.path.join(work, f"{s}.{r}.json")
        if os.path.exists(path):
            runs.append(json.load(open(path)))
        else:
            tail = read(f"{s}.{r}.txt").splitlines()[-1:] if os.path.exists(os.path.join(work, f"{s}.{r}.txt")) else []
            runs.append({"error": tail})
    ok = [c for c in runs if "error" not in c]
    # Attempts per repetition (validate --attempts: one line per repeated attempt) and whether the
    # machine probe held between the calibration and the run that was kept.
    attempts = []
    for r in range(1, reps + 1):
        txt = os.path.join(work, f"{s}.{r}.txt")
        lines = open(txt).read().splitlines() if os.path.exists(txt) else []
        attempts.append(1 + sum(1 for l in lines if l.startswith("attempt ")))
    steady_of = lambda c: all(k["passed"] for k in c["checks"] if k["name"].startswith("machine:"))
    steady = [c for c in ok if steady_of(c)]
    # The medians are taken over the repetitions whose machine held; all of them when none did.
    used = steady or ok
    entry = {"scenario": s, "seconds": durations[s], "runs": runs, "attempts": attempts,
             "steady_runs": len(steady)}
    if not ok:
        rows.append(f"| {s} | run failed | | | | | | **FAIL** |")
        doc["scenarios"].append(entry)
        all_pass = False
        continue
    ok = used
    step_err = [c["step_time"]["error"] for c in ok]
    mem_err = [max((m["error"] for m in c["memory"]), key=abs) if c["memory"] else None for c in ok]
    groups = sorted({g["name"] for c in ok for g in c["comm_groups"]})
    comm = {}
    for g in groups:
        errs = [next((x["error"] for x in c["comm_groups"] if x["name"] == g), None) for c in ok]
        pred = median([next((x["predicted"] for x in c["comm_groups"] if x["name"] == g), None) for c in ok])
        meas = median([next((x["measured"] for x in c["comm_groups"] if x["name"] == g), None) for c in ok])
        # a group whose transfer is under 1% of the step is not checked (as clustersim validate does)
        checked = any(k["name"] == f"comm {g}" for c in ok for k in c["checks"])
        comm[g] = {"errors": errs, "median_error": median(errs), "predicted_s": pred, "measured_s": meas,
                   "checked": checked}
    med_step, med_mem = median(step_err), median(mem_err)
    passed = bool(steady) and abs(med_step) <= TOL["step"] and (med_mem is None or abs(med_mem) <= TOL["memory"]) and all(
        abs(v["median_error"]) <= TOL["comm"] for v in comm.values() if v["checked"] and v["median_error"] is not None)
    all_pass &= passed
    waits = median([sum(w["measured"] for w in c.get("comm_waits", [])) for c in ok])
    entry.update({"step_error": step_err, "median_step_error": med_step, "memory_error": mem_err,
                  "median_memory_error": med_mem, "comm": comm, "passed": passed,
                  "predicted_step_s": median([c["step_time"]["predicted"] for c in ok]),
                  "measured_step_s": median([c["step_time"]["measured"] for c in ok])})
    doc["scenarios"].append(entry)
    comm_cell = "; ".join(
        f"{g}: {pct(v['median_error'])} ({', '.join(pct(e) for e in v['errors'])})"
        + ("" if v["checked"] else " not checked") for g, v in comm.items()) or "none"
    rows.append(f"| {s} | {ms(entry['predicted_step_s'])} / {ms(entry['measured_step_s'])} | "
                f"**{pct(med_step)}** ({', '.join(pct(e) for e in step_err)}) | {pct(med_mem)} | {comm_cell} | "
                f"{ms(waits) if waits is not None else '-'} | {len(steady)} of {reps} "
                f"(attempts {', '.join(str(a) for a in attempts)}) | {'pass' if passed else '**FAIL**'} |")

doc["passed"] = all_pass
with open(out + ".json", "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
with open(out + ".md", "w") as f:
    f.write("# CPU validation: predicted vs measured\n\n")
    f.write("Generated by `tools/validate-cpu.sh` (raw data: `cpu-validation.json`). Each scenario is validated "
            f"{reps} times with `clustersim validate --calibrate`: the scenario's own ops, collectives and host "
            "overheads are measured alone just before its run. Error = (predicted - measured) / measured; the "
            "median over the repetitions is checked against the tolerances: step time 10%, peak memory 5% "
            "(worst rank), communication transfer per group 15% (groups over 1% of the step). A machine probe "
            "(a 1 MiB all-reduce and a GEMM) is timed by the calibration and before and after the run; a "
            "repetition counts when the run's probe is within 25% of the calibration's (`--attempts` makes "
            "the calibration and run again when it is not). The medians are over the repetitions that count "
            "(over all of them, and the scenario fails, when none does).\n\n")
    f.write("## Machine\n\n" + "\n".join(f"- {l}" for l in machine) + "\n\n")
    f.write("## Results\n\n| scenario | step predicted / measured (median) | step error: median (each run) | "
            "peak memory error | communication transfer error per group: median (each run) | "
            "measured wait for peers | machine steady (attempts per repetition) | result |\n"
            "|---|---:|---|---:|---|---:|---|---|\n")
    f.write("\n".join(rows) + "\n\n")
    f.write("Run time per repetition (s): " + "; ".join(
        f"{s} " + ", ".join(f"{t:.1f}" for t in durations[s].values()) for s in scenarios) + "\n\n")
    f.write("## Commands\n\n```\n" + "\n".join(commands) + "\n```\n")
