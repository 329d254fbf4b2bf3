# SPDX-License-Identifier: MIT
"""pytrain.py - the PyTorch and scikit-learn sides of the bench, one process per thread count.

Trains the bench's two models (softmax 784-10, MLP 784-128-10 relu) on
Fashion-MNIST already in memory, so only training is timed. The BLAS thread
count comes from OPENBLAS_NUM_THREADS, which must be set before this process
starts (OpenBLAS reads it once); --threads also sets torch's own pool.

  speed:   pytrain.py speed --fw torch|sklearn --threads T --cells softmax:32:0,mlp:1:5000,...
           cell = model:batch:rows (batch 0 = all rows, rows 0 = all 60000); one epoch each.
           Prints fw,model,batch,threads,rows,samples_per_s per cell.
  quality: pytrain.py quality --fw torch|sklearn --model softmax --batch 64 --optim adam --lr 0.002
           --sched cosine --epochs 10 --at 1,5,10 --seed 1 [--reshuffle]
           Prints fw,model,epoch,test_accuracy at each epoch of --at. With --reshuffle the
           training rows are visited in a fresh order every epoch, drawn from the seed; without
           it, in file order.
"""

import argparse
import gzip
import math
import os
import sys
import time
import warnings

import numpy as np

LR_BY_BATCH = ((1, 0.01), (32, 0.1))  # the reference loops' rates; 0.5 above 32


def default_lr(batch):
    for upto, lr in LR_BY_BATCH:
        if batch <= upto:
            return lr
    return 0.5


def load(directory, name):
    """Images as float32 rows scaled to [0, 1] and labels as int64, from the IDX .gz pair."""
    with gzip.open(os.path.join(directory, f"{name}-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    x = np.frombuffer(raw, np.uint8, offset=16).reshape(n, -1).astype(np.float32) / 255.0
    with gzip.open(os.path.join(directory, f"{name}-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


class Torch:
    """Plain torch.nn training, one optimizer step per mini-batch, tensors in memory."""

    def __init__(self, threads):
        import torch
        self.torch = torch
        torch.set_num_threads(threads)

    def model(self, kind):
        nn = self.torch.nn
        if kind == "softmax":
            return nn.Linear(784, 10)
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def optimizer(self, net, optim, lr, steps, sched):
        t = self.torch
        if optim == "adam":
            o = t.optim.Adam(net.parameters(), lr=lr)
        elif optim in ("momentum", "nesterov"):
            o = t.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=optim == "nesterov")
        else:
            o = t.optim.SGD(net.parameters(), lr=lr)
        s = None
        if sched == "cosine":
            # The engine's cosine: lr_min 0, over all steps of the run, stepped per batch.
            s = t.optim.lr_scheduler.LambdaLR(o, lambda k: (1 + math.cos(math.pi * min(k, steps) / steps)) / 2)
        return o, s

    def epoch(self, net, opt, sched, x, y, batch):
        f = self.torch.nn.functional
        for at in range(0, len(x) - batch + 1, batch):
            opt.zero_grad(set_to_none=True)
            loss = f.cross_entropy(net(x[at:at + batch]), y[at:at + batch])
            loss.backward()
            opt.step()
            if sched:
                sched.step()

    def accuracy(self, net, x, y):
        with self.torch.no_grad():
            return float((net(x).argmax(1) == y).float().mean())

    def tensors(self, x, y):
        return self.torch.from_numpy(x), self.torch.from_numpy(y)

    def speed(self, kind, x, y, batch):
        self.torch.manual_seed(1)
        net = self.model(kind)
        opt, _ = self.optimizer(net, "sgd", default_lr(batch), 1, "constant")
        x, y = self.tensors(x, y)
        t0 = time.perf_counter()
        self.epoch(net, opt, None, x, y, batch)
        return (len(x) // batch * batch) / (time.perf_counter() - t0)

    def quality(self, a, x, y, xt, yt):
        t = self.torch
        t.manual_seed(a.seed)
        net = self.model(a.model)
        opt, sched = self.optimizer(net, a.optim, a.lr, a.epochs * (len(x) // a.batch), a.sched)
        x, y = self.tensors(x, y)
        xt, yt = self.tensors(xt, yt)
        order = t.Generator().manual_seed(a.seed)  # its own stream: the initial weights do not move it
        for e in range(1, a.epochs + 1):
            if a.reshuffle:
                p = t.randperm(len(x), generator=order)
                self.epoch(net, opt, sched, x[p], y[p], a.batch)
            else:
                self.epoch(net, opt, sched, x, y, a.batch)
            if e in a.at:
                yield e, self.accuracy(net, xt, yt)


class Sklearn:
    """scikit-learn's incremental estimators, fed the same batch size and the same kind of order."""

    def __init__(self, threads):
        warnings.filterwarnings("ignore")  # ConvergenceWarning after every one-epoch fit

    def softmax(self, lr, seed):
        from sklearn.linear_model import SGDClassifier
        # One-vs-rest logistic regression, updated per sample inside each partial_fit;
        # no L2 penalty, a constant rate: the closest it has to our softmax step. The
        # order is the caller's (partial_fit does not shuffle).
        return SGDClassifier(loss="log_loss", penalty=None, learning_rate="constant", eta0=lr,
                             shuffle=False, random_state=seed)

    def mlp(self, batch, optim, lr, seed, shuffle=False):
        from sklearn.neural_network import MLPClassifier
        solver = "adam" if optim == "adam" else "sgd"
        # A RandomState rather than the seed itself: every partial_fit re-reads random_state, and
        # an int would start each epoch's shuffle from the same state, giving the same order.
        return MLPClassifier(hidden_layer_sizes=(128,), solver=solver, batch_size=batch,
                             learning_rate_init=lr, momentum=0.9 if optim in ("momentum", "nesterov") else 0.0,
                             nesterovs_momentum=optim == "nesterov", alpha=0.0,
                             shuffle=shuffle, random_state=np.random.RandomState(seed))

    def epoch(self, est, kind, x, y, batch):
        classes = np.arange(10)
        if kind == "mlp":
            # partial_fit, not fit: each fit would start a fresh Adam (its moments and step
            # count reset every epoch); partial_fit keeps the optimizer from one epoch to the next.
            est.partial_fit(x, y, classes=classes)
            return
        for at in range(0, len(x) - batch + 1, batch):
            est.partial_fit(x[at:at + batch], y[at:at + batch], classes=classes)

    def speed(self, kind, x, y, batch):
        lr = default_lr(batch)
        est = self.softmax(lr, 1) if kind == "softmax" else self.mlp(batch, "sgd", lr, 1)
        x, y = x[:len(x) // batch * batch], y[:len(y) // batch * batch]
        t0 = time.perf_counter()
        self.epoch(est, kind, x, y, batch)
        return len(x) / (time.perf_counter() - t0)

    def quality(self, a, x, y, xt, yt):
        est = self.softmax(a.lr_sgd, a.seed) if a.model == "softmax" else \
            self.mlp(a.batch, a.optim, a.lr, a.seed, shuffle=a.reshuffle)
        # MLPClassifier shuffles inside partial_fit; SGDClassifier's takes the rows as given.
        order = np.random.default_rng(a.seed) if a.reshuffle and a.model == "softmax" else None
        for e in range(1, a.epochs + 1):
            if order is not None:
                p = order.permutation(len(x))
                self.epoch(est, a.model, x[p], y[p], a.batch)
            else:
                self.epoch(est, a.model, x, y, a.batch)
            if e in a.at:
                yield e, float(est.score(xt, yt))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("speed", "quality"))
    p.add_argument("--fw", choices=("torch", "sklearn"), required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--cells", default="")
    p.add_argument("--model", default="softmax")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--optim", default="sgd")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--lr-sgd", type=float, default=0.01, help="scikit-learn's per-sample SGD for softmax")
    p.add_argument("--sched", default="constant")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--at", default="")
    p.add_argument("--rows", type=int, default=0, help="train on the first N rows only")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reshuffle", action="store_true", help="a fresh order of the rows every epoch, from the seed")
    a = p.parse_args()

    fw = Torch(a.threads) if a.fw == "torch" else Sklearn(a.threads)
    x, y = load(a.dir, "train")
    if a.mode == "speed":
        for cell in filter(None, a.cells.split(",")):
            kind, batch, rows = cell.split(":")
            rows = int(rows) or len(x)
            batch = int(batch) or rows
            sps = fw.speed(kind, x[:rows], y[:rows], batch)
            print(f"{a.fw},{kind},{batch},{a.threads},{rows},{sps:.0f}", flush=True)
        return 0
    xt, yt = load(a.dir, "t10k")
    if a.rows:
        x, y = x[:a.rows], y[:a.rows]
    a.at = {int(e) for e in a.at.split(",")} if a.at else {a.epochs}
    for e, acc in fw.quality(a, x, y, xt, yt):
        print(f"{a.fw},{a.model},{e},{acc:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
