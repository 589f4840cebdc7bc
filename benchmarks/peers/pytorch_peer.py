#!/usr/bin/python3
"""PyTorch's side of the side-by-side benchmark (benchmarks/run-peers.sh), run with Debian's python3-torch.

Measures exactly what Fovea's `peer` mode and the TorchSharp peer measure (protocol in benchmarks/README.md) and
writes one JSON result. Reads the Fashion-MNIST IDX files itself (numpy + gzip); downloads nothing.
Usage: /usr/bin/python3 pytorch_peer.py --what cnn|gemm --threads N [...] --out FILE.json
"""
import argparse
import gzip
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from torch import nn


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--what", choices=["cnn", "gemm"], default="cnn")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup-batches", type=int, default=937)
    p.add_argument("--timed-batches", type=int, default=1874)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--infer-passes", type=int, default=3)
    p.add_argument("--latency-warmup", type=int, default=2000)
    p.add_argument("--latency-samples", type=int, default=2000)
    p.add_argument("--gemm-reps", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default="")
    p.add_argument("--config", default="default")
    return p.parse_args()


# The same shapes as GemmShape.All in benchmarks/Shared/PeerProtocol.cs: (name, ta, tb, m, n, k, conv_shaped).
GEMM_SHAPES = [
    ("sgemm 1024^3", False, False, 1024, 1024, 1024, False),
    ("conv 64x25088x288", False, False, 64, 25088, 288, True),
    ("conv2 fwd 64x12544x288", False, False, 64, 12544, 288, True),
    ("conv2 dW 64x288x12544 (NT)", False, True, 64, 288, 12544, True),
    ("conv2 dX 288x12544x64 (TN)", True, False, 288, 12544, 64, True),
    ("conv1 fwd 32x50176x9", False, False, 32, 50176, 9, True),
]


WARM_UP_SECONDS = 1.0


def best_seconds_per_call(call, flops, reps):
    """Warm-up calls for at least WARM_UP_SECONDS (and at least 3), then `reps` samples each repeating the call enough
    to last about 20 ms; the best per call. Same protocol as Measure.BestSecondsPerCall in benchmarks/Shared."""
    inner = int(max(1, 2e9 / 50 / flops))
    warm_start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - warm_start < WARM_UP_SECONDS:
        call()
        calls += 1
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            call()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def relevant_env():
    names = ["GLIBC_TUNABLES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LD_PRELOAD"]
    return {n: os.environ[n] for n in names if n in os.environ}


def mapped_blas():
    """The BLAS/LAPACK libraries this process has mapped (Debian's libblas.so.3 is an alternative: reference BLAS or OpenBLAS)."""
    found = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in path or "lapack" in path:
                found.add(os.path.realpath(path))
    return sorted(found)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"\0\0\x08":
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(folder, prefix):
    images = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1).contiguous()
    return x, torch.from_numpy(labels.astype(np.int64))


def run_gemm(o):
    rows = []
    with torch.no_grad():
        for name, ta, tb, m, n, k, conv in GEMM_SHAPES:
            # Stored as Fovea stores them; .t() views are free and passed to BLAS as transposed; C preallocated and
            # overwritten (addmm_ with beta 0), as Fovea's Gemm.Multiply overwrites its destination.
            a = (torch.rand(k, m) - 0.5).t() if ta else torch.rand(m, k) - 0.5
            b = (torch.rand(n, k) - 0.5).t() if tb else torch.rand(k, n) - 0.5
            c = torch.zeros(m, n)
            flops = 2.0 * m * n * k
            seconds = best_seconds_per_call(lambda: c.addmm_(a, b, beta=0, alpha=1), flops, o.gemm_reps)
            rows.append({"name": name, "m": m, "n": n, "k": k, "ta": ta, "tb": tb, "conv_shaped": conv, "gflops": flops / seconds / 1e9})
            print(f"PyTorch gemm {name} x{o.threads}: {flops / seconds / 1e9:.1f} GFLOP/s", file=sys.stderr)
    return rows


def run_cnn(o, result):
    train_x, train_y = load(o.data, "train")
    test_x, test_y = load(o.data, "t10k")
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    # Shuffled batches, a new permutation every epoch, the last short batch dropped (as Fovea's dropLast).
    count = train_x.shape[0]
    per_epoch = count // o.batch_size
    state = {"batch": 0, "perm": None, "sum": 0.0, "n": 0, "first": None}

    def step():
        if state["batch"] % per_epoch == 0:
            state["perm"] = torch.randperm(count)
        start = state["batch"] % per_epoch * o.batch_size
        idx = state["perm"][start:start + o.batch_size]
        x = train_x.index_select(0, idx)
        y = train_y.index_select(0, idx)
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item()
        if not np.isfinite(value):
            raise SystemExit(f"Training diverged: loss {value}")
        if state["first"] is None:
            state["first"] = value
        state["sum"] += value
        state["n"] += 1
        state["batch"] += 1

    t0 = time.perf_counter()
    for _ in range(o.warmup_batches):
        step()
    warmup_seconds = time.perf_counter() - t0
    state["sum"], state["n"] = 0.0, 0
    t0 = time.perf_counter()
    for _ in range(o.timed_batches):
        step()
    seconds = time.perf_counter() - t0
    result["train"] = {
        "batch_size": o.batch_size, "warmup_batches": o.warmup_batches, "timed_batches": o.timed_batches,
        "warmup_images_per_s": o.warmup_batches * o.batch_size / max(1e-9, warmup_seconds),
        "seconds": seconds, "images_per_s": o.timed_batches * o.batch_size / seconds,
        "first_loss": state["first"], "mean_timed_loss": state["sum"] / max(1, state["n"]),
    }
    result["peak_rss_train_mb"] = peak_rss_mib()
    print(f"PyTorch x{o.threads}: train {o.timed_batches * o.batch_size / seconds:.0f} img/s", file=sys.stderr)

    # Inference at batch 256 over the test set: one warm-up pass, then timed passes.
    model.eval()
    n_test = test_x.shape[0]
    with torch.inference_mode():
        def one_pass():
            right = 0
            for start in range(0, n_test, o.infer_batch):
                scores = model(test_x[start:start + o.infer_batch])
                right += int((scores.argmax(1) == test_y[start:start + o.infer_batch]).sum().item())
            return right

        one_pass()
        t0 = time.perf_counter()
        correct = 0
        for _ in range(o.infer_passes):
            correct = one_pass()
        infer_seconds = time.perf_counter() - t0
        result["infer"] = {
            "batch_size": o.infer_batch, "images": n_test * o.infer_passes, "seconds": infer_seconds,
            "images_per_s": n_test * o.infer_passes / infer_seconds, "test_accuracy": correct / n_test,
        }

        # Batch-1 latency: the single-image view is made before the clock starts.
        times = []
        for i in range(o.latency_warmup + o.latency_samples):
            x = test_x[i % n_test:i % n_test + 1]
            t0 = time.perf_counter()
            scores = model(x)
            ms = (time.perf_counter() - t0) * 1000.0
            if torch.isnan(scores[0, 0]):
                raise SystemExit("NaN prediction")
            if i >= o.latency_warmup:
                times.append(ms)
        t = np.array(times)
        result["latency"] = {"samples": o.latency_samples, "p50_ms": float(np.percentile(t, 50)),
                             "p99_ms": float(np.percentile(t, 99)), "mean_ms": float(t.mean())}


def main():
    o = parse()
    torch.set_num_threads(o.threads)
    torch.manual_seed(o.seed)
    result = {
        "framework": "PyTorch",
        "version": f"PyTorch {torch.__version__} (Debian python3-torch), numpy {np.__version__}",
        "runtime": f"Python {platform.python_version()} ({sys.executable})",
        "what": o.what, "config": o.config, "threads": o.threads, "torch_threads": torch.get_num_threads(),
        "env": relevant_env(),
    }
    if o.what == "gemm":
        result["gemm"] = run_gemm(o)
    else:
        run_cnn(o, result)
    result["blas"] = mapped_blas()
    result["peak_rss_mb"] = peak_rss_mib()
    text = json.dumps(result, indent=2)
    if o.out:
        with open(o.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
