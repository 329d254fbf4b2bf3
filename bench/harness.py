# SPDX-License-Identifier: MIT
"""harness.py - runs every bench section and writes one report (called by bench/run).

Each section is one function taking the run's context and returning its
Markdown lines and CSV records. A figure is measured `reps` times, in rounds
(every implementation once per round, in the same environment), and shown as
median [min-max]; a ratio against a baseline pairs the two runs of the same
round, so a machine that gets busier halfway through shifts both sides.
"""

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batch_size  # noqa: E402

FLOPS_PER_SAMPLE = {
    # 2 in out for the forward product and for the weight gradient of each layer, plus
    # 2 in out for the delta handed down from every layer but the first (train_bench's count).
    "softmax": 2 * 784 * 10 * 2,
    "mlp": 2 * 784 * 128 * 2 + 2 * 128 * 10 * 3,
}
BATCHES = (1, 32, 256, 0)  # 0 = the whole training set in one batch
QUALITY = {
    # model: (optimizer, lr, schedule). The same for every implementation that has it.
    "softmax": ("adam", 0.002, "cosine"),
    "mlp": ("nesterov", 0.05, "cosine"),
}
QUALITY_BATCH, QUALITY_EPOCHS, QUALITY_AT = 64, 10, (1, 5, 10)
TARGETS = {"softmax": 0.845, "mlp": 0.89}


class Ctx:
    """What every section needs: where the programs are and how hard to try."""

    def __init__(self, a):
        self.build = os.path.abspath(a.build)
        self.baselines = a.baselines or None
        self.out = os.path.abspath(a.out)
        self.quick = a.quick
        self.reps = 1 if a.quick else a.reps
        ncpu = os.cpu_count() or 1
        self.threads = [1] if a.quick else [t for t in (1, 2) if t <= ncpu]
        self.rows = 2000 if a.quick else 0  # 0 = all 60000 rows
        self.fashion = a.fashion
        self.python = sys.executable

    def prog(self, name):
        return os.path.join(self.build, "bench", name)

    def run(self, cmd, threads=1):
        """Run a command with OPENBLAS_NUM_THREADS set; its stdout, or an exception with its stderr."""
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), FASHION_MNIST_DIR=self.fashion)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-400:]}")
        return p.stdout


def med(vals):
    """(median, min, max) of the finite values, or None."""
    vals = [v for v in vals if v is not None]
    return (statistics.median(vals), min(vals), max(vals)) if vals else None


def si(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fig(vals, fmt=si):
    m = med(vals)
    if not m:
        return "—"
    return fmt(m[0]) if m[1] == m[2] else f"{fmt(m[0])} [{fmt(m[1])}–{fmt(m[2])}]"


def ratio_fig(a, b):
    """Paired ratios a[i]/b[i] of the same rounds as median [min-max]."""
    return fig([x / y if x is not None and y else None for x, y in zip(a, b)], lambda v: f"{v:.2f}×")


def records(section, model, batch, threads, impl, metric, vals):
    m = med(vals)
    if not m:
        return []
    return [(section, model, batch, threads, impl, metric, f"{m[0]:.6g}", f"{m[1]:.6g}", f"{m[2]:.6g}",
             len([v for v in vals if v is not None]))]


def table(head, rows):
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


# --- machine --------------------------------------------------------------------------------------

def machine(ctx):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    blas = ctx.run([ctx.prog("sgemm_peak"), "-I"]).strip().split(",")
    versions = ctx.run([ctx.python, "-c", "import numpy, sklearn; print(numpy.__version__, sklearn.__version__);"
                        "import torch; print(torch.__version__)"]).split()
    return [f"- CPU: {cpu}, {os.cpu_count()} cores; kernel {platform.release()}; load average at start "
            f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}",
            f"- OpenBLAS: `{blas[1]}`, core type {blas[2]}"
            + (f" (OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']})" if "OPENBLAS_CORETYPE" in os.environ else ""),
            f"- Python {platform.python_version()}: numpy {versions[0]}, scikit-learn {versions[1]}, "
            f"PyTorch {versions[2] if len(versions) > 2 else 'absent'} (Debian's build: its matrix products "
            f"run on the system BLAS, the same OpenBLAS, so OPENBLAS_NUM_THREADS binds it too)",
            f"- {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"{'quick mode (1 run, tiny subsets, 1 thread: checks the harness, not the speed)' if ctx.quick else f'{ctx.reps} runs of everything'}"]


# --- training throughput --------------------------------------------------------------------------

def py_rows(ctx, fw, batch):
    """Rows the Python frameworks train on per cell: they are slow at small batches."""
    if ctx.quick:
        return 500 if batch == 1 else 2000
    if batch == 1:
        return 5000 if fw == "torch" else 1000
    if batch == 32 and fw == "sklearn":
        return 10000
    return 60000


def ref_loops(ctx, threads):
    """samples/s of the reference loops by (model, batch); empty without them."""
    out = {}
    if not ctx.baselines:
        return out
    for model, prog in (("softmax", "softmax_loop"), ("mlp", "mlp_loop")):
        text = ctx.run([os.path.join(ctx.baselines, prog), ctx.fashion, "1"], threads)
        for m in re.finditer(r"batch\s+(\d+) lr [\d.]+ epochs \d+:\s+(\d+) samples/s", text):
            out[(model, int(m.group(1)))] = float(m.group(2))
    return out


def section_training(ctx):
    full = ctx.rows or 60000
    cells = [(m, b if b else full) for m in ("softmax", "mlp") for b in BATCHES
             if not (ctx.quick and b == 256)]
    res = {}  # (impl, model, batch, threads) -> [value per round]

    def put(key, v):
        res.setdefault(key, [None] * ctx.reps)[rep] = v

    for rep in range(ctx.reps):
        for t in ctx.threads:
            for m, b in cells:
                cmd = [ctx.prog("train_bench"), "-m", m, "-b", str(b), "-e", "1", "-t", str(t)]
                if ctx.rows:
                    cmd += ["-q", str(ctx.rows)]
                f = ctx.run(cmd, t).strip().splitlines()[-1].split(",")
                put(("ours", m, b, t), float(f[4]))
                put(("ours_gflops", m, b, t), float(f[5]))
                put(("sgemm", m, b, t), float(ctx.run([ctx.prog("sgemm_peak"), "-m", m, "-b", str(b), "-t", str(t),
                                                       "-T", "0.1" if ctx.quick else "0.3"], t).split(",")[3]))
            for (m, b), v in ref_loops(ctx, t).items():
                if (m, b) in cells:
                    put(("ref", m, b, t), v)
            for fw in ("torch", "sklearn"):
                spec = ",".join(f"{m}:{b}:{min(py_rows(ctx, fw, b), full) if b < full else full}" for m, b in cells)
                text = ctx.run([ctx.python, os.path.join(os.path.dirname(__file__), "pytrain.py"), "speed",
                                "--fw", fw, "--threads", str(t), "--dir", ctx.fashion, "--cells", spec], t)
                for line in text.splitlines():
                    _, m, b, _, _, sps = line.split(",")
                    b = int(b) if int(b) < full else full
                    put((fw, m, b, t), float(sps))

    rows, recs = [], []
    for m, b in cells:
        for t in ctx.threads:
            g = lambda impl: res.get((impl, m, b, t), [None] * ctx.reps)  # noqa: E731
            rows.append([m, f"full ({b})" if b == full else str(b), str(t), fig(g("ours")),
                         fig(g("ours_gflops"), lambda v: f"{v:.1f}"), fig(g("ref")), fig(g("torch")),
                         fig(g("sklearn")), fig(g("sgemm"), lambda v: f"{v:.1f}"),
                         ratio_fig(g("ours"), g("ref")), ratio_fig(g("ours"), g("torch")),
                         ratio_fig(g("ours_gflops"), g("sgemm"))])
            for impl, metric in (("ours", "samples_per_s"), ("ours_gflops", "gflops"), ("ref", "samples_per_s"),
                                 ("torch", "samples_per_s"), ("sklearn", "samples_per_s"), ("sgemm", "gflops")):
                recs += records("training", m, b, t, impl.replace("_gflops", ""), metric, g(impl))
            for name, a, base in (("ours/ref", "ours", "ref"), ("ours/torch", "ours", "torch"),
                                  ("ours/sgemm", "ours_gflops", "sgemm")):
                recs += records("training", m, b, t, name, "ratio",
                                [x / y if x is not None and y else None for x, y in zip(g(a), g(base))])
    py_note = ", ".join(f"batch {b}: first {py_rows(ctx, 'torch', b)} rows (PyTorch) / {py_rows(ctx, 'sklearn', b)} "
                        f"(scikit-learn)" for b in (1, 32))
    md = [f"One epoch of plain SGD, file order, at the reference loops' rates (0.01 at batch 1, 0.1 up to 32, 0.5 "
          f"above); samples/s of training alone (data already in memory). T = OpenBLAS threads (and "
          f"torch.set_num_threads) for every column of the row. "
          f"GFLOP/s counts the matrix products only ({FLOPS_PER_SAMPLE['softmax']:,} flop/sample softmax, "
          f"{FLOPS_PER_SAMPLE['mlp']:,} MLP). sgemm = OpenBLAS alone on the same shapes (bench/sgemm_peak). "
          f"Ratios pair the runs of the same round. At batch 1 the engine and the reference loops use "
          f"matrix-vector kernels (sgemv/sger) where sgemm_peak times sgemm with one row, which OpenBLAS runs "
          f"slower: ours/sgemm can pass 1 there. The Python sides train on subsets where slow ({py_note}); "
          f"ours and the reference loops train on all {full} rows. scikit-learn: SGDClassifier(log_loss) "
          f"partial_fit per batch (one-vs-rest, per-sample updates inside) for softmax, MLPClassifier(sgd, "
          f"momentum 0, alpha 0) one warm-started epoch for the MLP."
          + ("" if ctx.baselines else " Reference loops: absent (see bench/run), column empty."), ""]
    md += table(["model", "batch", "T", "ours samples/s", "ours GFLOP/s", "ref loop samples/s", "PyTorch samples/s",
                 "sklearn samples/s", "sgemm GFLOP/s", "ours/ref", "ours/PyTorch", "ours/sgemm"], rows)
    return md, recs


# --- quality --------------------------------------------------------------------------------------

def section_quality(ctx):
    epochs = 1 if ctx.quick else QUALITY_EPOCHS
    at = [e for e in QUALITY_AT if e <= epochs]
    t = max(ctx.threads)
    acc = {}  # (impl, model, epoch) -> [accuracy per seed]
    for rep in range(ctx.reps):
        seed = rep + 1
        for model, (optim, lr, sched) in QUALITY.items():
            cmd = [ctx.prog("batch_curve"), "-m", model, "-b", str(QUALITY_BATCH), "-o", optim, "-l", str(lr),
                   "-S", sched, "-e", str(epochs), "-t", str(t), "-s", str(seed)]
            if ctx.rows:
                cmd += ["-q", str(ctx.rows)]
            for line in ctx.run(cmd, t).splitlines():
                f = line.split(",")
                if f[0] == "eval" and int(f[1]) in at:
                    acc.setdefault(("ours", model, int(f[1])), []).append(float(f[4]))
            for fw in ("torch", "sklearn"):
                cmd = [ctx.python, os.path.join(os.path.dirname(__file__), "pytrain.py"), "quality", "--fw", fw,
                       "--threads", str(t), "--dir", ctx.fashion, "--model", model, "--batch", str(QUALITY_BATCH),
                       "--optim", optim, "--lr", str(lr), "--lr-sgd", str(lr), "--sched", sched,
                       "--epochs", str(epochs), "--at", ",".join(map(str, at)), "--seed", str(seed)]
                if ctx.rows:
                    cmd += ["--rows", str(ctx.rows)]
                for line in ctx.run(cmd, t).splitlines():
                    _, m, e, a = line.split(",")
                    acc.setdefault((fw, m, int(e)), []).append(float(a))
    rows, recs = [], []
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    for model in QUALITY:
        for e in at:
            g = lambda impl: acc.get((impl, model, e), [])  # noqa: E731
            mine = g("ours")
            ok = med(mine) and med(mine)[0] >= TARGETS[model]
            rows.append([model, str(e), fig(mine, pct), fig(g("torch"), pct), fig(g("sklearn"), pct),
                         f"{100 * (med(mine)[0] - med(g('torch'))[0]):+.2f} pts" if mine and g("torch") else "—",
                         ("met" if ok else "not met") if e == QUALITY_EPOCHS else ""])
            for impl in ("ours", "torch", "sklearn"):
                recs += records("quality", model, QUALITY_BATCH, t, impl, f"test_accuracy_epoch_{e}", g(impl))
    settings = "; ".join(f"{m}: {o}, lr {lr:g}, {s} schedule over the {epochs} epochs"
                         for m, (o, lr, s) in QUALITY.items())
    md = [f"Fashion-MNIST t10k accuracy at batch {QUALITY_BATCH}, file order, {t} thread(s), one run per seed "
          f"(seeds 1..{ctx.reps}); the accuracy after 1 and 5 epochs is read from the same "
          f"{epochs}-epoch run. Settings, the same for every implementation: {settings} (momentum 0.9 where used). "
          f"PyTorch: the same optimizer from torch.optim (Nesterov as SGD(momentum=0.9, nesterov=True)) with the "
          f"cosine as a per-step LambdaLR. scikit-learn cannot do all of it: "
          f"SGDClassifier is one-vs-rest logistic regression with per-sample SGD at a constant eta0 = the same lr; "
          f"MLPClassifier gets the same solver family (adam or sgd with momentum, nesterovs_momentum as asked) "
          f"at a constant rate (it has no cosine schedule). Targets for ours after {QUALITY_EPOCHS} epochs: "
          f"softmax >= {100 * TARGETS['softmax']:.1f}%, MLP >= {100 * TARGETS['mlp']:.0f}%.", ""]
    if ctx.quick:
        md[0] = f"Quick mode: first {ctx.rows} training rows, 1 epoch. " + md[0]
    md += table(["model", "epochs", "ours", "PyTorch", "scikit-learn", "ours − PyTorch", "target"], rows)
    return md, recs


# --- batch size -----------------------------------------------------------------------------------

def section_batch_size(ctx):
    return batch_size.experiment(ctx.build, ctx.out, ctx.quick)


# --- room for the sections still to come ----------------------------------------------------------

def section_ingest_files(ctx):
    """io_uring vs read(2) on one file, from bench/file_ingest (page-cache reads: the reader's own cost)."""
    prog = ctx.prog("file_ingest")
    if not os.access(prog, os.X_OK):
        return ["bench/file_ingest is not built in this build directory: skipped."], []
    mib = 32 if ctx.quick else 256
    gbs = {}
    for rep in range(ctx.reps):
        for line in ctx.run([prog, "--mib", str(mib), "--runs", "1"]).splitlines():
            m = re.match(r"(read|uring|sqpoll)\s+([\d.]+) GB/s", line)
            if m:
                gbs.setdefault(m.group(1), [None] * ctx.reps)[rep] = float(m.group(2))
    read = gbs.get("read", [None] * ctx.reps)
    rows = [[mode, fig(v, lambda x: f"{x:.2f}"), ratio_fig(v, read)] for mode, v in gbs.items()]
    recs = [r for mode, v in gbs.items() for r in records("ingest_files", "", "", 1, mode, "gb_per_s", v)]
    md = [f"A {mib} MiB file of Fashion-MNIST images read whole, block and depth at file_ingest's defaults, "
          f"from the page cache; one pass per run.", ""]
    return md + table(["reader", "GB/s", "vs read(2)"], rows), recs


def section_ingest_sockets(ctx):
    """Samples/s into the daemon over ipc and tcp against raw libzmq PUSH/PULL: not written yet."""
    return ["Not measured yet: this section is reserved for ingest over ipc/tcp against raw libzmq."], []


def section_latency(ctx):
    """Sample-to-snapshot latency: not written yet."""
    return ["Not measured yet: this section is reserved for ingest-to-update and snapshot latency."], []


def section_memory(ctx):
    """Resident memory of the daemon under load: not written yet."""
    return ["Not measured yet: this section is reserved for the daemon's memory use."], []


SECTIONS = (
    ("training", "Training throughput", section_training),
    ("quality", "Quality: test accuracy after 1, 5, 10 epochs", section_quality),
    ("batch", "Batch size: cost against samples and time, time to accuracy", section_batch_size),
    ("files", "Ingest: io_uring vs read(2) files", section_ingest_files),
    ("sockets", "Ingest: ZeroMQ ipc/tcp vs raw libzmq", section_ingest_sockets),
    ("latency", "Latency", section_latency),
    ("memory", "Memory", section_memory),
)


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description="minibatchd bench")
    p.add_argument("--build", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--baselines", default="")
    p.add_argument("--fashion", default=os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated section keys: " + ",".join(k for k, _, _ in SECTIONS))
    p.add_argument("--command", default="bench/run")
    a = p.parse_args()
    ctx = Ctx(a)
    os.makedirs(ctx.out, exist_ok=True)
    only = set(filter(None, a.only.split(",")))

    md = ["# minibatchd bench", "", f"Command: `{a.command}`", ""] + machine(ctx)
    csv = ["section,model,batch,threads,impl,metric,median,min,max,runs"]
    for key, title, fn in SECTIONS:
        if only and key not in only:
            continue
        t0 = time.monotonic()
        print(f"bench: {title} ...", file=sys.stderr, flush=True)
        lines, recs = fn(ctx)
        md += ["", f"## {title}", ""] + lines
        csv += [",".join(str(v) for v in r) for r in recs]
        print(f"bench: {title}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        # Written after every section, so a run cut short keeps what it measured.
        write(os.path.join(ctx.out, "latest.md"), "\n".join(md) + "\n")
        write(os.path.join(ctx.out, "latest.csv"), "\n".join(csv) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
