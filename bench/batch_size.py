# SPDX-License-Identifier: MIT
"""batch_size.py - the batch-size experiment: softmax on Fashion-MNIST at batch 1 ... 60000.

For each batch size it first tunes the learning rate (a sweep over one grid:
each candidate trains on the first 50000 training rows for the same short
training-time budget and is scored on the last 10000, so the test set plays
no part in the choice), then trains on all 60000 rows at the chosen rate for
one time budget, the same for every batch size whatever number of epochs it
makes, logging the progressive cost of every batch (pooled into log-spaced
bins) and scoring t10k on a log-spaced schedule. It writes two SVG charts
(cost against samples seen, cost against training time) and returns two
tables: the runs (tuned rate, throughput, and the training time and samples
each batch size needs to reach 80%, 82% and 84% test accuracy, or how far it
got), and the sweep's holdout accuracy at every rate.

Run alone: batch_size.py BUILD_DIR OUT_DIR [--quick]
"""

import math
import os
import subprocess
import sys
import tempfile

import svg

BATCHES = (1, 8, 32, 128, 512, 60000)
LR_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
TARGETS = (0.80, 0.82, 0.84)
HOLDOUT = 10000
# (tuning seconds per rate, training seconds, rows or 0 for all, t10k every N samples at least)
FULL = (5.0, 60.0, 0, 5000)
QUICK = (0.2, 0.5, 6000, 1000)
EVALS_A_DECADE = 30  # t10k scores a decade of samples seen, past the first ones -E apart
LOG_BINS_A_DECADE = 20  # cost log bins a decade of samples seen: what the charts plot
MAX_EPOCHS = 100000  # never the limit: the time budget is


def run_curve(build, batch, lr, budget, eval_every=0, holdout=0, first=0, log=None):
    """One batch_curve run: (eval rows, done row) as lists of floats."""
    cmd = [os.path.join(build, "bench", "batch_curve"), "-m", "softmax", "-b", str(batch), "-l", str(lr),
           "-e", str(MAX_EPOCHS), "-T", str(budget), "-E", str(eval_every), "-t", "1"]
    if eval_every:
        cmd += ["-G", str(EVALS_A_DECADE)]
    if holdout:
        cmd += ["-v", str(holdout)]
    if first:
        cmd += ["-q", str(first)]
    if log:
        cmd += ["-L", log, "-P", str(LOG_BINS_A_DECADE)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1")).stdout
    evals, done = [], None
    for line in out.splitlines():
        kind, *rest = line.split(",")
        if kind == "eval":
            evals.append([float(v) for v in rest])  # epoch, samples, seconds, accuracy, cost
        elif kind == "done":
            done = [float(v) for v in rest]  # steps, skipped, samples, seconds, samples/s
    return evals, done


def tune(build, batch, budget, first, grid):
    """Holdout accuracy of every grid rate after the budget, and the best rate (ties to the smaller).

    Each rate trains on all rows but the last fifth (the last 10000 of the full set) and is scored
    on those at every epoch end, so the test set plays no part in the choice. A rate's figure is
    the mean of its last three scores: at a constant rate the accuracy hovers, and one score would
    let a lucky moment pick the rate.
    """
    sweep = {}
    for lr in grid:
        evals, _ = run_curve(build, batch, lr, budget, holdout=HOLDOUT if not first else first // 5, first=first)
        last = [e[3] for e in evals[-3:]]
        acc = sum(last) / len(last) if last else float("nan")
        sweep[lr] = acc if math.isfinite(acc) else float("nan")
    best = max(grid, key=lambda lr: (sweep[lr] if math.isfinite(sweep[lr]) else -1, -lr))
    return best, sweep


def read_log(log_path):
    """The cost log's bins: [(samples, seconds, mean cost, cost std, steps)]."""
    rows = []
    with open(log_path) as f:
        for line in f:
            v = line.strip().split(",")
            if len(v) == 3:  # a line a step
                v += ["0", "1"]
            rows.append((float(v[0]), float(v[1]), float(v[2]), float(v[3]), int(v[4])))
    return rows


def late_spread(rows, frac=0.2):
    """Standard deviation of the per-batch cost over the steps of the last frac of the samples seen."""
    if not rows:
        return float("nan")
    start = rows[-1][0] * (1 - frac)
    late = [r for r in rows if r[0] > start and r[4] and math.isfinite(r[2])]
    n = sum(r[4] for r in late)
    if not n:
        return float("nan")
    mean = sum(r[2] * r[4] for r in late) / n
    sq = sum((r[3] ** 2 + r[2] ** 2) * r[4] for r in late) / n
    return math.sqrt(max(sq - mean * mean, 0.0))


def reached(evals, target):
    """Training seconds and samples at the first evaluation at or above target, or None."""
    for e in evals:
        if e[3] >= target:
            return e[2], e[1]
    return None


def not_reached(done, count, best):
    steps, samples, secs = done[0], done[2], done[3]
    return f"not reached in {secs:.3g} s / {samples / count:,.1f} epochs ({steps:,.0f} steps; best {100 * best:.1f}%)"


def experiment(build, out_dir, quick=False):
    """Run it all; returns (markdown lines, csv records). SVGs go to out_dir."""
    tune_budget, budget, first, eval_every = QUICK if quick else FULL
    count = first or 60000
    batches = tuple(b if not first or b < first else first for b in BATCHES)
    grid = (0.1,) if quick else LR_GRID
    series_s, series_t, rows, sweeps, records = [], [], [], [], []
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mb-batch-") as tmp:
        for b in batches:
            lr, sweep = tune(build, b, tune_budget, first, grid)
            log = os.path.join(tmp, f"cost-{b}.csv")
            # Full batch: t10k after every step (epoch ends); smaller ones on a log-spaced schedule.
            evals, done = run_curve(build, b, lr, budget, eval_every=0 if b == count else eval_every, first=first,
                                    log=log)
            bins = read_log(log)
            name = "full (GD)" if b == count else f"batch {b}"
            xs = [r[0] for r in bins]
            cs = [r[2] for r in bins]
            series_s.append((f"{name}, lr {lr:g}", xs, cs))
            series_t.append((f"{name}, lr {lr:g}", [r[1] for r in bins], cs))
            final = evals[-1][3] if evals else float("nan")
            best = max((e[3] for e in evals), default=float("nan"))
            cells = [name, f"{lr:g}", f"{sweep[lr]:.4f}", f"{done[4]:,.0f}", f"{done[2]:,.0f}",
                     f"{done[2] / count:,.1f}", f"{done[0]:,.0f}", f"{late_spread(bins):.3f}", f"{final:.4f}",
                     f"{best:.4f}"]
            for i, t in enumerate(TARGETS):
                hit = reached(evals, t)
                # The budget and how far it got, said once: at the lowest target missed.
                cells.append(f"{hit[0]:.2f} s / {hit[1]:,.0f}" if hit else
                             not_reached(done, count, best) if i == 0 or reached(evals, TARGETS[i - 1])
                             else "not reached")
                records.append(("batch_size", "softmax", b, 1, "ours", f"seconds_to_{t:.2f}",
                                hit[0] if hit else "", "", "", 1))
                records.append(("batch_size", "softmax", b, 1, "ours", f"samples_to_{t:.2f}",
                                round(hit[1]) if hit else "", "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "tuned_lr", lr, "", "", 1))
            for g in grid:
                records.append(("batch_size", "softmax", b, 1, "ours", f"tuning_holdout_accuracy_lr_{g:g}",
                                f"{sweep[g]:.4f}", "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "samples_per_s", round(done[4]), "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "train_seconds", f"{done[3]:.2f}", "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "steps", round(done[0]), "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "final_test_accuracy", final, "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "best_test_accuracy", best, "", "", 1))
            rows.append(cells)
            sweeps.append([name] + [("**" if g == lr else "") + (f"{sweep[g]:.4f}" if math.isfinite(sweep[g])
                                                                 else "diverged") + ("**" if g == lr else "")
                                    for g in grid])
    svg.line_chart(os.path.join(out_dir, "batch_size_samples.svg"), series_s,
                   "Softmax on Fashion-MNIST: progressive cost per batch", "samples seen (log)",
                   "mean batch cost (log-spaced bins)", logx=True, ylim=(0.2, 2.5))
    svg.line_chart(os.path.join(out_dir, "batch_size_time.svg"), series_t,
                   "Softmax on Fashion-MNIST: cost against training time", "training seconds, wall clock (log)",
                   "mean batch cost (log-spaced bins)", logx=True, ylim=(0.2, 2.5))
    head = ["batch", "tuned lr", "holdout acc (tuning)", "samples/s", "samples trained", "epochs", "steps",
            "cost std (last 20%)", "final test acc", "best test acc"] + \
        [f"to {t:.0%}: train s / samples" for t in TARGETS]
    hold = "the last fifth" if first else f"the last {HOLDOUT} rows"
    md = [f"Each batch size trains for {budget:g} s of training time (wall clock, evaluations not counted), "
          f"1 BLAS thread, plain SGD at a constant rate, in file order; the same time for every batch size, "
          f"whatever the number of epochs that makes. The rate is the best by accuracy on {hold} of the "
          f"training set after {tune_budget:g} s of training on the rest (the sweep is the second table). "
          f"t10k is scored {EVALS_A_DECADE} times a decade of samples seen, at least every "
          f"{eval_every} samples, and after every step at full batch; the time to a target is that of the "
          f"first score at or above it (constant-rate SGD hovers around its level, so a score can dip back below).",
          ""]
    md += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", f"Learning-rate sweep: holdout accuracy after {tune_budget:g} s of training at each rate, the "
           f"mean of the last three epoch-end scores (the rate kept in bold).", ""]
    sh = ["batch"] + [f"lr {g:g}" for g in grid]
    md += ["| " + " | ".join(sh) + " |", "|" + "---|" * len(sh)]
    md += ["| " + " | ".join(r) + " |" for r in sweeps]
    md += ["", "![cost against samples seen](batch_size_samples.svg)", "",
           "![cost against training time](batch_size_time.svg)"]
    if quick:
        md.insert(0, f"Quick mode: the first {first} training rows only.")
    return md, records


if __name__ == "__main__":
    md, _ = experiment(sys.argv[1], sys.argv[2], "--quick" in sys.argv)
    print("\n".join(md))
