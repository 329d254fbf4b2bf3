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
    # model: (optimizer, lr, schedule, batch). The same for every implementation that has it;
    # the training rows are reshuffled every epoch from the seed. The MLP's were chosen on a
    # validation split (the last 10,000 training rows held out, never the test set): Adam with
    # cosine decay over 10 epochs, batch 32/64/128 x lr 0.001/0.0015/0.002/0.003, two seeds;
    # batch 32 at 0.002 scored best (89.41% mean; 0.0015 had 89.23%).
    "softmax": ("adam", 0.002, "cosine", 64),
    "mlp": ("adam", 0.002, "cosine", 32),
}
QUALITY_EPOCHS, QUALITY_AT = 10, (1, 5, 10)
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

def build_flags(ctx):
    """The build tree and the compiler flags its Makefile was configured with (the daemon's speed depends on them)."""
    flags = {}
    try:
        with open(os.path.join(ctx.build, "Makefile")) as f:
            for line in f:
                m = re.match(r"(CC|CFLAGS|MB_SAN_CFLAGS) = (.*)", line)
                if m:
                    flags[m.group(1)] = m.group(2).strip()
    except OSError:
        pass
    shown = ", ".join(f"{k} `{v}`" for k, v in flags.items() if v)
    return f"Build: {os.path.relpath(ctx.build, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))}" \
        + (f" ({shown})" if shown else "")


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
            + (f" (OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} for every side: the daemon's choice unless "
               f"the caller set it)" if "OPENBLAS_CORETYPE" in os.environ else ""),
            f"- Python {platform.python_version()}: numpy {versions[0]}, scikit-learn {versions[1]}, "
            f"PyTorch {versions[2] if len(versions) > 2 else 'absent'} (Debian's build: its matrix products "
            f"run on the system BLAS, the same OpenBLAS, so OPENBLAS_NUM_THREADS binds it too)",
            f"- {build_flags(ctx)}",
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
          f"Ratios pair the runs of the same round. At batch 1 the engine uses its single-row kernels and "
          f"the reference loops matrix-vector kernels (sgemv/sger) where sgemm_peak times sgemm with one row, "
          f"which OpenBLAS runs slower: ours/sgemm can pass 1 there. The Python sides train on subsets where slow ({py_note}); "
          f"ours and the reference loops train on all {full} rows. scikit-learn: SGDClassifier(log_loss) "
          f"partial_fit per batch (one-vs-rest, per-sample updates inside) for softmax, MLPClassifier(sgd, "
          f"momentum 0, alpha 0) one partial_fit over the rows an epoch for the MLP."
          + ("" if ctx.baselines else " Reference loops: absent (see bench/run), column empty."), ""]
    md += table(["model", "batch", "T", "ours samples/s", "ours GFLOP/s", "ref loop samples/s", "PyTorch samples/s",
                 "sklearn samples/s", "sgemm GFLOP/s", "ours/ref", "ours/PyTorch", "ours/sgemm"], rows)
    return md, recs


# --- quality --------------------------------------------------------------------------------------

def section_quality(ctx):
    epochs = 1 if ctx.quick else QUALITY_EPOCHS
    at = [e for e in QUALITY_AT if e <= epochs]
    t = 1  # accuracy does not depend on the thread count; one keeps the ten-epoch peers affordable
    acc = {}  # (impl, model, epoch) -> [accuracy per seed]
    for rep in range(ctx.reps):
        seed = rep + 1
        for model, (optim, lr, sched, batch) in QUALITY.items():
            cmd = [ctx.prog("batch_curve"), "-m", model, "-b", str(batch), "-o", optim, "-l", str(lr),
                   "-S", sched, "-e", str(epochs), "-t", str(t), "-s", str(seed), "-r"]
            if ctx.rows:
                cmd += ["-q", str(ctx.rows)]
            for line in ctx.run(cmd, t).splitlines():
                f = line.split(",")
                if f[0] == "eval" and int(f[1]) in at:
                    acc.setdefault(("ours", model, int(f[1])), []).append(float(f[4]))
            for fw in ("torch", "sklearn"):
                cmd = [ctx.python, os.path.join(os.path.dirname(__file__), "pytrain.py"), "quality", "--fw", fw,
                       "--threads", str(t), "--dir", ctx.fashion, "--model", model, "--batch", str(batch),
                       "--optim", optim, "--lr", str(lr), "--lr-sgd", str(lr), "--sched", sched,
                       "--epochs", str(epochs), "--at", ",".join(map(str, at)), "--seed", str(seed),
                       "--reshuffle"]
                if ctx.rows:
                    cmd += ["--rows", str(ctx.rows)]
                for line in ctx.run(cmd, t).splitlines():
                    _, m, e, a = line.split(",")
                    acc.setdefault((fw, m, int(e)), []).append(float(a))
    rows, recs = [], []
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    for model, (_, _, _, batch) in QUALITY.items():
        for e in at:
            g = lambda impl: acc.get((impl, model, e), [])  # noqa: E731
            mine = g("ours")
            ok = med(mine) and med(mine)[0] >= TARGETS[model]
            rows.append([model, str(batch), str(e), fig(mine, pct), fig(g("torch"), pct), fig(g("sklearn"), pct),
                         f"{100 * (med(mine)[0] - med(g('torch'))[0]):+.2f} pts" if mine and g("torch") else "—",
                         ("met" if ok else "not met") if e == QUALITY_EPOCHS else ""])
            for impl in ("ours", "torch", "sklearn"):
                recs += records("quality", model, batch, t, impl, f"test_accuracy_epoch_{e}", g(impl))
    optims = {o for o, _, _, _ in QUALITY.values()}
    momentum = " (momentum 0.9)" if optims & {"momentum", "nesterov"} else ""
    nesterov = " (Nesterov as SGD(momentum=0.9, nesterov=True))" if "nesterov" in optims else ""
    settings = "; ".join(f"{m}: batch {b}, {o}, lr {lr:g}, {s} schedule over the {epochs} epochs"
                         for m, (o, lr, s, b) in QUALITY.items())
    md = [f"Fashion-MNIST t10k accuracy, training rows reshuffled every epoch from the seed, {t} thread(s), "
          f"one run per seed "
          f"(seeds 1..{ctx.reps}); the accuracy after 1 and 5 epochs is read from the same "
          f"{epochs}-epoch run. Settings, the same for every implementation: {settings}{momentum}. "
          f"PyTorch: the same optimizer from torch.optim{nesterov} with the cosine as a per-step LambdaLR, "
          f"each epoch over torch.randperm from a generator seeded once. scikit-learn cannot do all of it: "
          f"SGDClassifier is one-vs-rest logistic regression with per-sample SGD at a constant eta0 = the same lr, "
          f"fed a seeded numpy permutation every epoch; MLPClassifier (shuffle=True, its own seeded order) gets "
          f"the same solver family (adam or sgd with momentum, nesterovs_momentum as asked) at a constant rate "
          f"(it has no cosine schedule). Targets for ours after {QUALITY_EPOCHS} epochs: "
          f"softmax >= {100 * TARGETS['softmax']:.1f}%, MLP >= {100 * TARGETS['mlp']:.0f}%.", ""]
    if ctx.quick:
        md[0] = f"Quick mode: first {ctx.rows} training rows, 1 epoch. " + md[0]
    md += table(["model", "batch", "epochs", "ours", "PyTorch", "scikit-learn", "ours − PyTorch", "target"], rows)
    return md, recs


# --- batch size -----------------------------------------------------------------------------------

def section_batch_size(ctx):
    return batch_size.experiment(ctx.build, ctx.out, ctx.quick)


# --- file ingest ----------------------------------------------------------------------------------

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


# --- the running daemon: ingest, latency, memory --------------------------------------------------
# bench/ingest_bench, bench/latency_bench and bench/memory_bench.sh print CSV `section,name,value,unit`
# (bench/INGEST.md). They are parsed by name, not by position, so a figure a program adds later
# shows up in its table without a change here.

def bench_lines(text):
    """[(section, name, value, unit)] of the `section,name,value,unit` lines in text."""
    out = []
    for line in text.splitlines():
        f = line.strip().split(",")
        if len(f) != 4:
            continue
        try:
            out.append((f[0], f[1], float(f[2]), f[3]))
        except ValueError:
            continue
    return out


def bench_figures(lines):
    """{(section, name): (median, min, max, unit)} of one program run.

    A program that ran several rounds prints `name`, `name_min` and `name_max`; a `_min` or `_max`
    name is a bound only when its base name is there too (latency's `batch1_max` is a figure).
    """
    seen = {(s, n): (v, u) for s, n, v, u in lines}
    out = {}
    for (s, n), (v, u) in seen.items():
        base = n[:-4] if n.endswith(("_min", "_max")) else None
        if base and (s, base) in seen:
            continue
        lo = seen.get((s, n + "_min"), (v,))[0]
        hi = seen.get((s, n + "_max"), (v,))[0]
        out[(s, n)] = (v, lo, hi, u)
    return out


def unit_slug(unit):
    return {"samples/s": "samples_per_s", "us": "us", "kB": "kb", "ratio": "ratio"}.get(
        unit, re.sub(r"\W+", "_", unit).strip("_"))


def fig3(m, fmt):
    """median [min-max] of a (median, min, max) triple."""
    if not m:
        return "—"
    return fmt(m[0]) if m[1] == m[2] else f"{fmt(m[0])} [{fmt(m[1])}–{fmt(m[2])}]"


def triple_records(section, model, batch, impl, name, m, runs):
    unit = unit_slug(m[3])
    metric = name if name.startswith(unit) or name.endswith(unit) else f"{name}_{unit}"
    return [(section, model, batch, 1, impl, metric, f"{m[0]:.6g}", f"{m[1]:.6g}", f"{m[2]:.6g}", runs)]


def run_daemon_bench(ctx, cmd, needs=()):
    """Run one daemon bench with one BLAS thread; its figures, or the reason it could not run.

    needs: the programs it takes from the build tree besides cmd[0].
    """
    for prog in ([cmd[0]] if cmd[0].startswith(ctx.build) else []) + list(needs):
        if not os.access(prog, os.X_OK):
            return None, f"{os.path.relpath(prog, ctx.build)} is not built in {ctx.build}: skipped."
    return bench_lines(ctx.run(cmd, 1)), None


# The daemon's model in an ingest figure's name (daemon_tcp_softmax_u8x32); none is the default one.
INGEST_MODELS = {"": "linear 784-1", "linear": "linear 784-1", "softmax": "softmax 784-10", "mlp": "MLP 784-128-10"}


INGEST_OTHER = {
    # Figures beside the table, by name prefix.
    "over_vw_": "daemon / Vowpal Wabbit's daemon on the same task (VW's figure measured elsewhere, not in this run)",
    "vw_": "Vowpal Wabbit's daemon, measured elsewhere (not in this run)",
}


def ingest_rows(figs):
    """Table rows of one ingest_bench run, and the (section, name) keys that fit no row.

    Names: raw_<transport>_<shape>, daemon_<transport>[_<model>]_<shape>, ratio_<as daemon>; the
    raw figure of a row is the one measured in the same run.
    """
    keys, other = [], []
    for (s, n) in figs:
        m = re.fullmatch(r"(raw|daemon|ratio)_([a-z0-9]+)_(?:(\w+)_)?([a-z0-9]+x\d+)", n)
        if s == "ingest" and m:
            k = (m.group(2), m.group(4), m.group(3) or "")
            if m.group(1) != "raw" and k not in keys:
                keys.append(k)
        else:
            other.append((s, n))
    rows = []
    for transport, shape, variant in keys:
        rest = "_".join(p for p in (transport, variant, shape) if p)
        raw = figs.get(("ingest", f"raw_{transport}_{shape}"))
        daemon = figs.get(("ingest", f"daemon_{rest}"))
        ratio = figs.get(("ingest", f"ratio_{rest}"))
        rows.append([transport, shape, INGEST_MODELS.get(variant, variant), fig3(raw, si), fig3(daemon, si),
                     fig3(ratio, lambda v: f"{v:.2f}×")])
    return rows, other


def section_ingest_sockets(ctx):
    """Samples/s into the daemon over ipc and tcp against raw libzmq PUSH/PULL (bench/ingest_bench)."""
    cmd = [ctx.prog("ingest_bench"), "--runs", str(ctx.reps)]
    if ctx.quick:
        cmd += ["--samples", "32000"]
    runs = [("linear", cmd)]
    # A daemon training softmax as well, when this ingest_bench can (its figures carry the model's name).
    if os.access(cmd[0], os.X_OK) and "--model" in ctx.run([cmd[0], "--help"], 1):
        runs.append(("softmax", cmd + ["--model", "softmax"]))
    rows, other, recs = [], [], []
    for model, c in runs:
        lines, why = run_daemon_bench(ctx, c)
        if why:
            return [why], []
        figs = bench_figures(lines)
        r, o = ingest_rows(figs)
        rows += r
        other += [(n, figs[k]) for k in o for n in [k[1]]]
        for (s, n), m in figs.items():
            recs += triple_records(s, model, 256, "ingest_bench", n, m, ctx.reps)
    per = "32000 samples" if ctx.quick else "1,920,000 samples (u8x32) and 300,000 (f32x1)"
    md = [f"bench/ingest_bench: Fashion-MNIST rows sent from a PUSH socket in {per} per run, as u8x32 "
          f"(32 rows a message, U8 features, 25,248 bytes) and f32x1 (1 row, F32, 3,172 bytes). raw = a libzmq "
          f"PUSH thread to a PULL thread in two ZeroMQ contexts, first send to last receive; daemon = a fresh "
          f"minibatchd (its zmq source on the same transport, batch 256, no publication, checkpoints or "
          f"metrics), first send until `status` shows every sample trained, start-up not timed. "
          f"{ctx.reps} round(s), each runs raw then daemon; the ratio pairs the two of a round (target >= 0.8). "
          f"OPENBLAS_NUM_THREADS=1. The model column is what the daemon trains: linear 784-1 is the cheapest, so "
          f"that ingest, not training, is measured; each model's rows come from a run of their own, with its own "
          f"raw figures.", ""]
    md += table(["transport", "shape", "daemon model", "raw libzmq samples/s", "daemon samples/s", "daemon/raw"],
                rows)
    if other:
        label = lambda n: next((f"{v} ({n})" for k, v in INGEST_OTHER.items() if n.startswith(k)), n)  # noqa: E731
        md += ["", "Other figures:", ""]
        md += table(["figure", "value"], [[label(n), f"{fig3(m, lambda v: f'{v:.4g}')} {m[3]}"] for n, m in other])
    return md, recs


LATENCY_NAMES = {
    "handover_softmax784x10": "trainer's share: copy + hand over, softmax 784-10 (7,850 parameters)",
    "publish_softmax784x10": "hand-over to sent by the publisher thread, softmax 784-10",
    "handover_mlp784x128x10": "trainer's share: copy + hand over, MLP 784-128-10 (101,770 parameters)",
    "publish_mlp784x128x10": "hand-over to sent by the publisher thread, MLP 784-128-10",
    "cost_per_snapshot": "throughput difference a snapshot (publish every batch vs never, batch 32)",
    "snap_encode_784x10": "mb_snap_encode alone, 7,850 parameters",
    "samples_per_s_no_snapshots": "daemon throughput, no snapshots (batch 32)",
    "samples_per_s_snapshot_every_batch": "daemon throughput, a snapshot every batch (batch 32)",
}


def runs_figures(ctx, cmd, reps, needs=()):
    """{(section, name): ([value per run], unit)} over reps runs of one program."""
    vals = {}
    for rep in range(reps):
        lines, why = run_daemon_bench(ctx, cmd, needs)
        if why:
            return None, why
        for (s, n), m in bench_figures(lines).items():
            vals.setdefault((s, n), ([None] * reps, m[3]))[0][rep] = m[0]
    return vals, None


def section_latency(ctx):
    """Sample-to-snapshot latency and the cost of one snapshot publication (bench/latency_bench)."""
    probes, rate = (50, 500) if ctx.quick else (1000, 200)
    cmd = [ctx.prog("latency_bench"), "--samples", str(probes), "--rate", str(rate), "--runs", "1"]
    if ctx.quick:
        cmd += ["--cost-samples", "32000"]
    vals, why = runs_figures(ctx, cmd, ctx.reps)
    if why:
        return [why], []
    us = lambda v: f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}"  # noqa: E731
    cases, rows, recs = [], [], []
    for (s, n) in vals:
        m = re.fullmatch(r"(\w+?)_(p\d+|max)", n)
        if s == "latency" and m and m.group(1) not in cases:
            cases.append(m.group(1))
    stats = sorted({n.rsplit("_", 1)[1] for s, n in vals if s == "latency" and n.rsplit("_", 1)[0] in cases},
                   key=lambda q: (q == "max", int(q[1:]) if q[1:].isdigit() else 0))
    for c in cases:
        rows.append([c.replace("batch", "batch ")] + [fig(vals.get(("latency", f"{c}_{q}"), ([], ""))[0], us)
                                                       for q in stats])
    md = [f"bench/latency_bench: a fresh minibatchd (softmax 784-10, SGD, zmq source and snapshots on ipc, a "
          f"snapshot after every batch); one U8 sample at a time at {rate}/s, {probes} probes a run, the time from "
          f"just before the send until the first snapshot whose sample count includes it arrives at a subscriber "
          f"(mb_subscriber). batch 1: batch.size=1; batch 32: batch.size=32 with batch.linger_ms=1, so each lone "
          f"sample rides a partial batch sealed by the linger. Microseconds, median [min–max] of the runs' "
          f"percentiles over {ctx.reps} run(s); OPENBLAS_NUM_THREADS=1.", ""]
    md += table(["case"] + [f"{q} µs" for q in stats], rows)
    pub = [(n, v) for (s, n), v in vals.items() if s == "publish"]
    md += ["", "The cost of one snapshot publication. Timed directly (the figures to use): the daemon's own "
           "handover and publisher code in the bench's process publishing on ipc to a subscriber thread, 2000 "
           "snapshots one at a time. By throughput difference: the daemon trains "
           f"{'32,000' if ctx.quick else '640,000'} rows at batch 32 with a snapshot after every batch and "
           "with none; the time difference over the snapshots it reports (noisy on a shared machine, can "
           "come out negative).", ""]
    md += table(["figure", "value"],
                [[LATENCY_NAMES.get(n, n), f"{fig(v, si if u == 'samples/s' else us)} {'µs' if u == 'us' else u}"]
                 for n, (v, u) in pub])
    for (s, n), (v, u) in vals.items():
        m = med(v)
        if m:
            recs += triple_records(s, "softmax", "", "latency_bench", n, m + (u,), len([x for x in v if x is not None]))
    return md, recs


MEMORY_FLAT_KB = 4096  # growth from the start to the end of the stream still called flat


def memory_verdict(runs):
    """'flat', or what was not, from each run's RSS at 10%, 20%, ... 100% of the stream (kB)."""
    kinds = []
    for pts in runs:
        pts = [v for v in pts if v is not None]
        if len(pts) < 6:
            continue
        # The floors (see section_memory) of the start, the middle and the end of the stream.
        start, middle, end = min(pts[:3]), min(pts[-6:-3]), min(pts[-3:])
        if end - start <= MEMORY_FLAT_KB:
            kinds.append("flat")
        elif end - middle <= MEMORY_FLAT_KB:
            kinds.append(f"a step of {(end - start) / 1024:.0f} MiB, level over the second half")
        else:
            kinds.append(f"climbing ({(end - start) / 1024:.0f} MiB from start to end, still rising)")
    if not kinds:
        return "no figures"
    if all(k == "flat" for k in kinds):
        return f"flat in every run ({len(kinds)})"
    return "; ".join(f"run {i + 1}: {k}" for i, k in enumerate(kinds))


def section_memory(ctx):
    """Resident memory of the daemon along a long stream (bench/memory_bench.sh)."""
    samples = 300000 if ctx.quick else 10000000
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "memory_bench.sh")
    vals, why = runs_figures(ctx, ["sh", script, "--samples", str(samples), "--build", ctx.build], ctx.reps,
                             needs=[os.path.join(ctx.build, "daemon", "minibatchd"),
                                    os.path.join(ctx.build, "tools", "minibatchctl")])
    if why:
        return [why], []
    get = lambda n: vals.get(("memory", n), ([None] * ctx.reps, ""))[0]  # noqa: E731
    mb = lambda v: f"{v / 1024:.1f}"  # noqa: E731
    points = [("idle, before the stream", "rss_idle")]
    points += [(f"VmRSS after {p}% of the stream", f"rss_at_{p}pct") for p in range(10, 101, 10)]
    points += [("largest VmRSS sampled (every 0.1 s)", "rss_max_sampled"), ("VmHWM (kernel's peak)", "vmhwm")]
    rows = [[label, fig(get(n), mb)] for label, n in points if any(v is not None for v in get(n))]

    # Start and end: the lowest of the first and of the last three checkpoints of each run. Buffers
    # that fill while the trainer falls behind come and go on top; memory that is never given back
    # raises the floor.
    def window(rep, pcts):
        vs = [get(f"rss_at_{p}pct")[rep] for p in pcts]
        vs = [v for v in vs if v is not None]
        return min(vs) if vs else None

    start = [window(r, (10, 20, 30)) for r in range(ctx.reps)]
    end = [window(r, (80, 90, 100)) for r in range(ctx.reps)]
    growth = [e - s if e is not None and s is not None else None for s, e in zip(start, end)]
    verdict = memory_verdict([[get(f"rss_at_{p}pct")[r] for p in range(10, 101, 10)] for r in range(ctx.reps)])
    rows += [["start: lowest of the 10–30% checkpoints", fig(start, mb)],
             ["end: lowest of the 80–100% checkpoints", fig(end, mb)],
             ["end − start", fig(growth, mb)]]
    rate = get("stream_samples_per_s")
    md = [f"bench/memory_bench.sh: a fresh minibatchd (zmq source on ipc, softmax 784-10, batch 256, default "
          f"optimizer and publication) fed the Fashion-MNIST training images by `minibatchctl feed --loop --elem "
          f"u8` until it has trained {samples:,} samples; VmRSS read from /proc every 0.1 s. MB (MiB), median "
          f"[min–max] over {ctx.reps} run(s); the stream ran at {fig(rate)} samples/s (feed start-up included). "
          f"Start and end are the lowest of the first and of the last three checkpoints: buffers that fill while "
          f"the trainer falls behind (ZeroMQ's receive queue holds up to source.rcvhwm messages) come and go on "
          f"top, memory never given back raises the floor. Flat: the end at most {MEMORY_FLAT_KB // 1024} MiB above "
          f"the start. A step: higher, but no higher than over 50–70% of the stream, so memory taken once and "
          f"kept (a full queue's pages the allocator does not return) rather than memory that grows with the "
          f"samples; climbing: still rising. A transient peak shows in the largest figures only.",
          "", f"**Verdict** over {samples:,} samples: {verdict}.", ""]
    md += table(["resident memory", "MiB"], rows)
    recs = []
    for (s, n), (v, u) in vals.items():
        m = med(v)
        if m:
            recs += triple_records(s, "softmax", 256, "memory_bench", n, m + (u,), len([x for x in v if x is not None]))
    for name, v in (("rss_start_kb", start), ("rss_end_kb", end), ("rss_growth_kb", growth)):
        recs += records("memory", "softmax", 256, 1, "memory_bench", name, v)
    return md, recs


SECTIONS = (
    ("training", "Training throughput", section_training),
    ("quality", "Quality: test accuracy after 1, 5, 10 epochs", section_quality),
    ("batch-size", "Batch size: cost against samples and time, time to accuracy", section_batch_size),
    ("files", "Ingest: io_uring vs read(2) files", section_ingest_files),
    ("ingest", "Ingest: ZeroMQ ipc/tcp vs raw libzmq", section_ingest_sockets),
    ("latency", "Latency: sample to snapshot, and what a snapshot costs", section_latency),
    ("memory", "Memory: resident set along a long stream", section_memory),
)
SECTION_ALIASES = {"batch": "batch-size", "sockets": "ingest"}  # the keys' earlier names


def pick_sections(spec):
    """The section keys of a comma-separated list (all when empty); SystemExit on an unknown one."""
    keys = [k for k, _, _ in SECTIONS]
    want = [SECTION_ALIASES.get(k, k) for k in filter(None, (k.strip() for k in spec.split(",")))]
    unknown = [k for k in want if k not in keys]
    if unknown:
        raise SystemExit(f"bench: unknown section(s) {', '.join(unknown)}; the sections are {', '.join(keys)}")
    return set(want) or set(keys)


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
    p.add_argument("--sections", "--only", dest="sections", default="",
                   help="comma-separated section keys (default all): " + ",".join(k for k, _, _ in SECTIONS))
    p.add_argument("--command", default="bench/run")
    a = p.parse_args()
    ctx = Ctx(a)
    os.makedirs(ctx.out, exist_ok=True)
    only = pick_sections(a.sections)

    md = ["# minibatchd bench", "", f"Command: `{a.command}`", ""] + machine(ctx)
    csv = ["section,model,batch,threads,impl,metric,median,min,max,runs"]
    took, failed, t_all = [], [], time.monotonic()
    for key, title, fn in SECTIONS:
        if key not in only:
            continue
        t0 = time.monotonic()
        print(f"bench: {title} ...", file=sys.stderr, flush=True)
        try:
            lines, recs = fn(ctx)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            # One broken program should not cost the other sections' figures; the run still fails.
            lines, recs = [f"**Failed**: {e}"], []
            failed.append(key)
            print(f"bench: {title}: {e}", file=sys.stderr, flush=True)
        md += ["", f"## {title}", ""] + lines
        csv += [",".join(str(v) for v in r) for r in recs]
        took.append((key, time.monotonic() - t0))
        print(f"bench: {title}: {took[-1][1]:.0f} s", file=sys.stderr, flush=True)
        # Written after every section, so a run cut short keeps what it measured.
        write(os.path.join(ctx.out, "latest.md"), "\n".join(md) + "\n")
        write(os.path.join(ctx.out, "latest.csv"), "\n".join(csv) + "\n")
    md += ["", "## Run time", "", ", ".join(f"{k} {t:.0f} s" for k, t in took)
           + f"; {time.monotonic() - t_all:.0f} s in all."]
    write(os.path.join(ctx.out, "latest.md"), "\n".join(md) + "\n")
    print("\n".join(md))
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
