# SPDX-License-Identifier: MIT
"""batch_size.py - the batch-size experiment: softmax on Fashion-MNIST at batch 1 ... 60000.

For each batch size it first tunes the learning rate (each candidate trains
on the first 50000 training rows for the same training-time budget and is
scored on the last 10000, so the test set plays no part in the choice), then
trains on all 60000 rows at the chosen rate for a time budget, logging the
progressive cost of every batch and scoring t10k every few thousand samples.
It writes two SVG charts (cost against samples seen, cost against training
time) and returns a table: tuned rate, throughput, and the training time and
samples each batch size needs to reach 80%, 82% and 84% test accuracy.

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


def run_curve(build, batch, lr, budget, epochs, eval_every=0, holdout=0, first=0, log=None):
    """One batch_curve run: (eval rows, done row) as lists of floats."""
    cmd = [os.path.join(build, "bench", "batch_curve"), "-m", "softmax", "-b", str(batch), "-l", str(lr),
           "-e", str(epochs), "-T", str(budget), "-E", str(eval_every), "-t", "1"]
    if holdout:
        cmd += ["-v", str(holdout)]
    if first:
        cmd += ["-q", str(first)]
    if log:
        cmd += ["-L", log]
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
    """The grid rate with the best holdout accuracy after the budget; ties go to the smaller rate."""
    best = None
    for lr in grid:
        evals, _ = run_curve(build, batch, lr, budget, 100000, holdout=HOLDOUT if not first else first // 5,
                             first=first)
        acc = evals[-1][3] if evals and math.isfinite(evals[-1][3]) else 0.0
        if best is None or acc > best[1] + 1e-9:
            best = (lr, acc)
    return best


def binned(log_path, nbins=80):
    """Mean per-batch cost over log-spaced bins of samples seen: (samples, seconds, cost, late std)."""
    rows = []
    with open(log_path) as f:
        for line in f:
            s, t, c = line.split(",")
            rows.append((float(s), float(t), float(c)))
    if not rows:
        return [], [], [], float("nan")
    lo, hi = math.log10(rows[0][0]), math.log10(rows[-1][0]) + 1e-9
    edges = [10 ** (lo + (hi - lo) * i / nbins) for i in range(nbins + 1)]
    xs, ts, cs, acc, k = [], [], [], [], 0
    for s, t, c in rows:
        while s > edges[k + 1]:
            k += 1
            if acc:
                xs.append(sum(a[0] for a in acc) / len(acc))
                ts.append(sum(a[1] for a in acc) / len(acc))
                cs.append(sum(a[2] for a in acc) / len(acc))
                acc = []
        acc.append((s, t, c))
    if acc:
        xs.append(sum(a[0] for a in acc) / len(acc))
        ts.append(sum(a[1] for a in acc) / len(acc))
        cs.append(sum(a[2] for a in acc) / len(acc))
    late = [c for _, _, c in rows[-max(len(rows) // 5, 1):] if math.isfinite(c)]
    mean = sum(late) / len(late) if late else float("nan")
    std = math.sqrt(sum((c - mean) ** 2 for c in late) / len(late)) if late else float("nan")
    return xs, ts, cs, std


def reached(evals, target):
    """Training seconds and samples at the first evaluation at or above target, or None."""
    for e in evals:
        if e[3] >= target:
            return e[2], e[1]
    return None


def experiment(build, out_dir, quick=False):
    """Run it all; returns (markdown lines, csv records). SVGs go to out_dir."""
    tune_budget, budget, epochs, first = (0.2, 0.5, 2, 6000) if quick else (1.0, 12.0, 20, 0)
    batches = tuple(b if not first or b < first else first for b in BATCHES)
    grid = (0.1,) if quick else LR_GRID
    series_s, series_t, table, records = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="mb-batch-") as tmp:
        for b in batches:
            lr, hold_acc = tune(build, b, tune_budget, first, grid)
            log = os.path.join(tmp, f"cost-{b}.csv")
            eval_every = 0 if b >= 10000 else (2000 if quick else 5000)
            evals, done = run_curve(build, b, lr, budget, epochs, eval_every=eval_every, first=first, log=log)
            xs, ts, cs, std = binned(log)
            name = "full (GD)" if b == batches[-1] else f"batch {b}"
            series_s.append((f"{name}, lr {lr:g}", xs, cs))
            series_t.append((f"{name}, lr {lr:g}", ts, cs))
            final = evals[-1][3] if evals else float("nan")
            cells = [name, f"{lr:g}", f"{hold_acc:.4f}", f"{done[4]:,.0f}", f"{done[2]:,.0f}", f"{std:.3f}",
                     f"{final:.4f}"]
            for t in TARGETS:
                hit = reached(evals, t)
                cells.append(f"{hit[0]:.2f} s / {hit[1]:,.0f}" if hit else "not reached")
                records.append(("batch_size", "softmax", b, 1, "ours", f"seconds_to_{t:.2f}",
                                hit[0] if hit else "", "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "tuned_lr", lr, "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "samples_per_s", round(done[4]), "", "", 1))
            records.append(("batch_size", "softmax", b, 1, "ours", "final_test_accuracy", final, "", "", 1))
            table.append(cells)
    svg.line_chart(os.path.join(out_dir, "batch_size_samples.svg"), series_s,
                   "Softmax on Fashion-MNIST: progressive cost per batch", "samples seen (log)",
                   "mean batch cost (log-spaced bins)", logx=True, ylim=(0.2, 2.5))
    svg.line_chart(os.path.join(out_dir, "batch_size_time.svg"), series_t,
                   "Softmax on Fashion-MNIST: cost against training time", "training seconds (log)",
                   "mean batch cost (log-spaced bins)", logx=True, ylim=(0.2, 2.5))
    head = ["batch", "tuned lr", "holdout acc (tuning)", "samples/s", "samples trained", "cost std (last 20%)",
            "final test acc"] + [f"to {t:.0%}: train s / samples" for t in TARGETS]
    md = [f"Each batch size trains for at most {budget:g} s of training time (evaluation not counted) or "
          f"{epochs} epochs, 1 BLAS thread, plain SGD at a constant rate, in file order. "
          f"The rate is the best of {', '.join(f'{v:g}' for v in grid)} by accuracy on the last "
          f"{'fifth' if first else '10000 rows'} of the training set after {tune_budget:g} s of training on "
          f"the rest. t10k is scored every {2000 if quick else 5000} samples (every step for full batch).",
          "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in table]
    md += ["", "![cost against samples seen](batch_size_samples.svg)", "",
           "![cost against training time](batch_size_time.svg)"]
    if quick:
        md.insert(0, f"Quick mode: the first {first} training rows only.")
    return md, records


if __name__ == "__main__":
    md, _ = experiment(sys.argv[1], sys.argv[2], "--quick" in sys.argv)
    print("\n".join(md))
