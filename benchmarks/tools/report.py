#!/usr/bin/env python3
"""Combines the per-process results of benchmarks/run-peers.sh into one markdown table and one JSON file.

Usage: report.py RUN_DIR OUT_BASE --command "..." [--mode quick|full]
Reads RUN_DIR/*.json (one per framework, task, thread count and environment configuration), writes OUT_BASE.md and
OUT_BASE.json, and prints the markdown. For each peer, every figure is the best over that peer's configurations
(highest throughput, lowest latency and memory), so Fovea is compared with each peer's best configuration.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess

PEERS = ["TorchSharp", "PyTorch"]
FRAMEWORKS = ["Fovea"] + PEERS



def cpu_generation():
    """Family, model and vector width from /proc/cpuinfo: a VM often names its CPU only "AMD EPYC"."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" not in line:
                    if fields:
                        break
                    continue
                key, value = (part.strip() for part in line.split(":", 1))
                fields.setdefault(key, value)
    except OSError:
        return "family unknown"
    family = fields.get("cpu family", "?")
    # AMD families 0x19 and 0x1A: Zen 3/4 and Zen 5 (the model number tells Zen 3 from Zen 4).
    zen = {"25": "Zen 3 or 4", "26": "Zen 5"}.get(family, "") if "AMD" in fields.get("vendor_id", "") else ""
    avx512 = "AVX-512" if "avx512f" in fields.get("flags", "").split() else "no AVX-512"
    return f"family {family}{' = ' + zen if zen else ''}, model {fields.get('model', '?')}, {avx512}"

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as e:  # noqa: BLE001 - a missing tool only loses a line of the report
        return f"({e})"


def get(d, path):
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def best(runs, framework, threads, path, higher):
    """(value, config) of the best figure over the framework's cnn runs at this thread count."""
    found = [(get(r, path), r.get("config", "?")) for r in runs
             if r["framework"] == framework and r["what"] == "cnn" and r["threads"] == threads and get(r, path) is not None]
    if not found:
        return None, None
    return (max if higher else min)(found, key=lambda f: f[0])


def best_gemm(runs, framework, threads, name):
    found = [(row["gflops"], r.get("config", "?")) for r in runs
             if r["framework"] == framework and r["what"] == "gemm" and r["threads"] == threads
             for row in r["gemm"] if row["name"] == name]
    return max(found, key=lambda f: f[0]) if found else (None, None)


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("out_base")
    p.add_argument("--command", default="")
    p.add_argument("--mode", default="full")
    p.add_argument("--load-before", default="")
    p.add_argument("--load-after", default="")
    p.add_argument("--other-cores", default="", help="average cores other processes used during the run")
    p.add_argument("--gemm-rounds", default="1", help="how many times the GEMM runs of each framework alternated")
    o = p.parse_args()

    runs = []
    for path in sorted(glob.glob(os.path.join(o.run_dir, "*.json"))):
        with open(path) as f:
            r = json.load(f)
        r["file"] = os.path.basename(path)
        runs.append(r)
    failures = []
    failed_path = os.path.join(o.run_dir, "failed.txt")
    if os.path.exists(failed_path):
        with open(failed_path) as f:
            failures = [line.strip() for line in f if line.strip()]
    threads = sorted({r["threads"] for r in runs})
    cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    cpu = f"{cpu} ({cpu_generation()})"
    machine = {
        "host": platform.node(), "cpu": cpu, "cores": os.cpu_count(),
        "lscpu": sh("lscpu"), "kernel": platform.release(), "glibc": " ".join(platform.libc_ver()),
        "dotnet": sh("dotnet --version"), "fovea_commit": sh("git rev-parse HEAD"),
        "load_average_before": o.load_before, "load_average_after": o.load_after, "other_processes_cores": o.other_cores,
    }
    try:
        other = float(o.other_cores)
    except ValueError:
        other = None
    # Quiet: other processes took at most a quarter of a core on average while the run ran, measured from CPU time.
    # The load averages are only reported: the one after a run is mostly the benchmark's own, and the one before it
    # still carries, decaying, whatever ran in the minutes before (a build) though nothing runs any more.
    quiet = other is not None and other <= 0.25
    machine["quiet"] = quiet
    md = []
    md.append(f"# Fovea vs TorchSharp and PyTorch: reference CNN and GEMM ({o.mode} mode)")
    md.append("")
    md.append(f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; host `{platform.node()}`")
    md.append(f"- CPU: {cpu}, {os.cpu_count()} cores; kernel {platform.release()}; glibc {platform.libc_ver()[1]}; .NET SDK {machine['dotnet']}")
    md.append(f"- Load average before / after: {o.load_before or '?'} / {o.load_after or '?'}; CPU taken by other processes "
              f"during the run: {o.other_cores or '?'} cores on average (figures from a loaded machine are noise)")
    if not quiet:
        md.append("- **The machine was not quiet (other processes took more than 0.25 cores during the run): "
                  "other processes competed for the cores, which hurts the OpenMP-based peers far more than Fovea at 2 threads. "
                  "These figures and PASS/FAIL lines are not evidence for the issue; rerun on a quiet machine.**")
    md.append(f"- Fovea commit: `{machine['fovea_commit']}`")
    md.append(f"- Command: `{o.command}`")
    md.append("- Each framework runs in its own process per task and thread count; a peer's figure is its best over the "
              "environment configurations run (see Runs). Ratio = Fovea ÷ the faster peer (for latency and memory: the lower).")
    md.append("")

    # ---- reference CNN ----
    md.append("## Reference CNN on Fashion-MNIST (batch 64, Adam 1e-3)")
    md.append("")
    md.append("| Metric | Threads | Fovea | TorchSharp | PyTorch | Fovea ÷ best peer |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    metrics = [
        ("Training, images/s (steady)", "train.images_per_s", True, 0),
        ("Training warm-up, images/s", "train.warmup_images_per_s", True, 0),
        ("Inference batch 256, images/s", "infer.images_per_s", True, 0),
        ("Batch-1 latency p50, ms", "latency.p50_ms", False, 3),
        ("Batch-1 latency p99, ms", "latency.p99_ms", False, 3),
        ("Peak RSS after training, MiB", "peak_rss_train_mb", False, 0),
        ("Peak RSS whole run, MiB", "peak_rss_mb", False, 0),
        ("Test accuracy after training", "infer.test_accuracy", True, 4),
    ]
    table, configs_of = {}, {}
    for label, path, higher, digits in metrics:
        for t in threads:
            picked = {fw: best(runs, fw, t, path, higher) for fw in FRAMEWORKS}
            vals = {fw: picked[fw][0] for fw in FRAMEWORKS}
            table[f"{path}@{t}"] = vals
            configs_of[f"{path}@{t}"] = {fw: picked[fw][1] for fw in FRAMEWORKS}

            def cell(fw):
                # Name the winning configuration when the peer ran in more than one.
                many = len({r.get("config") for r in runs if r["framework"] == fw and r["what"] == "cnn" and r["threads"] == t}) > 1
                return fmt(vals[fw], digits) + (f" ({picked[fw][1]})" if many and vals[fw] is not None else "")
            peer_vals = [vals[fw] for fw in PEERS if vals[fw] is not None]
            ratio = None
            if vals["Fovea"] is not None and peer_vals and path != "infer.test_accuracy":
                ref = max(peer_vals) if higher else min(peer_vals)
                ratio = vals["Fovea"] / ref if ref else None
            md.append(f"| {label} | {t} | {cell('Fovea')} | {cell('TorchSharp')} | {cell('PyTorch')} | "
                      f"{fmt(ratio, 2) + 'x' if ratio is not None else ''} |")
    for t in threads:
        v, _ = best(runs, "Fovea", t, "alloc_bytes_per_step", False)
        table[f"alloc_bytes_per_step@{t}"] = {"Fovea": v}
        md.append(f"| Fovea managed bytes allocated per training step | {t} | {fmt(v)} | | | |")
    md.append("")

    # ---- GEMM ----
    names = []
    for r in runs:
        if r["what"] == "gemm":
            for row in r["gemm"]:
                if row["name"] not in names:
                    names.append(row["name"])
    conv_shaped = {row["name"]: row["conv_shaped"] for r in runs if r["what"] == "gemm" for row in r["gemm"]}
    gemm = {}
    if names:
        md.append("## SGEMM, GFLOP/s (C = op(A)·op(B) into a preallocated C; libtorch via TorchSharp's `addmm_(beta 0)`)")
        md.append("")
        if o.gemm_rounds not in ("", "1"):
            md.append(f"Fovea's and libtorch's GEMM runs alternated {o.gemm_rounds} times (PyTorch's ran once); each figure is "
                      "the framework's best over its rounds, so a slow spell of a shared machine does not fall on one side only.")
            md.append("")
        # The hardware's ceiling, measured by Fovea's gemm runs right after their products (register-only FMAs).
        peak = {}
        for t in threads:
            found = [r["fma_peak_gflops"] for r in runs if r["framework"] == "Fovea" and r["what"] == "gemm"
                     and r["threads"] == t and r.get("fma_peak_gflops")]
            peak[t] = max(found) if found else None
        if any(peak.values()):
            md.append("FMA peak: fused multiply-adds on registers only, in the vector width of Fovea's GEMM, measured in each of "
                      "Fovea's GEMM runs right after its products (best over rounds): "
                      + ", ".join(f"{fmt(peak[t], 1)} GFLOP/s on {t} thread(s)" for t in threads if peak[t])
                      + ". The % columns are each framework's figure over it: no GEMM can pass 100%.")
            md.append("")
        md.append("| Product (M x N x K) | Threads | Fovea | libtorch 2.10 (TorchSharp) | PyTorch 1.13 | Fovea ÷ libtorch 2.10 | Fovea % of peak | libtorch % of peak |")
        md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

        def share(v, t):
            return f"{100 * v / peak[t]:.1f}%" if v and peak.get(t) else ""
        for name in names:
            for t in threads:
                vals = {fw: best_gemm(runs, fw, t, name)[0] for fw in FRAMEWORKS}
                gemm[f"{name}@{t}"] = vals
                ratio = vals["Fovea"] / vals["TorchSharp"] if vals["Fovea"] and vals["TorchSharp"] else None
                md.append(f"| {name} | {t} | {fmt(vals['Fovea'], 1)} | {fmt(vals['TorchSharp'], 1)} | {fmt(vals['PyTorch'], 1)} | "
                          f"{fmt(ratio, 2) + 'x' if ratio is not None else ''} | {share(vals['Fovea'], t)} | {share(vals['TorchSharp'], t)} |")
        for t in threads:
            gemm[f"fma_peak@{t}"] = {"Fovea": peak.get(t)}
        md.append("")

    # ---- Done-when targets ----
    targets = []

    def target(label, value, op, limit, detail=""):
        if value is None:
            status = "MISSING"
        else:
            status = "PASS" if (value >= limit if op == ">=" else value <= limit if op == "<=" else value < limit) else "FAIL"
        targets.append({"target": label, "measured": value, "required": f"{op} {limit}", "status": status, "detail": detail})

    def ratio_to_best(path, t, higher):
        vals = table.get(f"{path}@{t}", {})
        peers = {fw: vals.get(fw) for fw in PEERS if vals.get(fw) is not None}
        if vals.get("Fovea") is None or not peers:
            return None, ""
        fw = (max if higher else min)(peers, key=peers.get)
        return vals["Fovea"] / peers[fw], f"vs {fw}"

    top = max(threads) if threads else 2
    r, d = ratio_to_best("train.images_per_s", top, True)
    target(f"Training throughput at {top} threads ÷ faster peer", r, ">=", 1.2, d)
    r, d = ratio_to_best("infer.images_per_s", top, True)
    target(f"Inference throughput (batch 256) at {top} threads ÷ faster peer", r, ">=", 1.2, d)
    r, d = ratio_to_best("latency.p50_ms", top, False)
    target(f"Batch-1 latency (p50) at {top} threads ÷ faster peer", r, "<=", 0.7, d)
    for t in threads:
        v = gemm.get(f"sgemm 1024^3@{t}", {})
        target(f"SGEMM 1024^3 at {t} thread(s) ÷ libtorch", v["Fovea"] / v["TorchSharp"] if v.get("Fovea") and v.get("TorchSharp") else None, ">=", 0.85)
    for t in threads:
        worst, worst_name = None, ""
        for name in names:
            if not conv_shaped.get(name):
                continue
            v = gemm.get(f"{name}@{t}", {})
            if v.get("Fovea") and v.get("TorchSharp"):
                q = v["Fovea"] / v["TorchSharp"]
                if worst is None or q < worst:
                    worst, worst_name = q, name
        target(f"Conv-shaped products at {t} thread(s) ÷ libtorch (worst)", worst, ">=", 1.0, worst_name)
    rss = table.get(f"peak_rss_train_mb@{top}", {})
    target(f"Peak RSS of training at {top} threads ÷ TorchSharp's", rss["Fovea"] / rss["TorchSharp"] if rss.get("Fovea") and rss.get("TorchSharp") else None, "<=", 0.5)
    allocs = [table[f"alloc_bytes_per_step@{t}"]["Fovea"] for t in threads if table[f"alloc_bytes_per_step@{t}"]["Fovea"] is not None]
    target("Steady-state training allocations, bytes per batch (worst thread count)", max(allocs) if allocs else None, "<", 65536)

    md.append("## Done-when targets (issue 3)")
    md.append("")
    md.append("| Target | Measured | Required | Result |")
    md.append("| --- | ---: | ---: | --- |")
    for tg in targets:
        m = tg["measured"]
        shown = "n/a" if m is None else (f"{m:,.0f}" if m >= 1000 else f"{m:.2f}")
        detail = f" ({tg['detail']})" if tg["detail"] else ""
        md.append(f"| {tg['target']}{detail} | {shown} | {tg['required']} | **{tg['status']}** |")
    md.append("")

    md.append("## Runs")
    md.append("")
    md.append("| File | Framework | Task | Threads | Config | Environment | Version |")
    md.append("| --- | --- | --- | ---: | --- | --- | --- |")
    for r in runs:
        env = " ".join(f"{k}={v}" for k, v in r.get("env", {}).items()) or "(none)"
        md.append(f"| {r['file']} | {r['framework']} | {r['what']} | {r['threads']} | {r.get('config', '?')} | `{env}` | {r.get('version', '?')} |")
    if failures:
        md.append("")
        md.append("Failed runs: " + "; ".join(failures))
    md.append("")

    text = "\n".join(md)
    with open(o.out_base + ".md", "w") as f:
        f.write(text)
    with open(o.out_base + ".json", "w") as f:
        json.dump({"mode": o.mode, "command": o.command, "machine": machine, "cnn": table, "cnn_best_config": configs_of, "gemm": gemm,
                   "targets": targets, "failures": failures, "runs": runs}, f, indent=2)
        f.write("\n")
    print(text)


if __name__ == "__main__":
    main()
