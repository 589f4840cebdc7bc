#!/usr/bin/env bash
# Measures the core issue's two accuracy targets on this machine and writes them to benchmarks/results/:
#   1. `./fovea train` (the default network and recipe) — test accuracy >= 91.5% within 10 minutes of wall time;
#   2. the reference CNN, 3 epochs, Adam 1e-3, batch 64 — test accuracy >= 89%.
# Usage: bash benchmarks/train-default.sh [extra options for the default run]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="benchmarks/results"
mkdir -p "$out" runs
stamp="$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)"
./fovea summary --model default >/dev/null   # build outside the timed runs

run() { # name, then fovea train options
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  ./fovea train "$@" --json > "runs/$name.json"
  end=$(date +%s.%N)
  python3 - "$name" "$start" "$end" <<'PY'
import json, sys
name, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
r = json.load(open(f"runs/{name}.json"))
print(f"{name}: test accuracy {r['test_accuracy']*100:.2f}%  epochs {r['epochs']}  train {r['train_seconds']:.0f}s  wall {end-start:.0f}s (process start to exit)")
json.dump({"name": name, "wall_seconds": end - start, **r}, open(f"runs/{name}.result.json", "w"), indent=1)
PY
}

run default --out runs/fashion-mnist-default.fovea "$@"
run reference --model reference --out runs/fashion-mnist-reference.fovea

python3 - "$out/train-$stamp.md" <<'PY'
import json, subprocess, sys
cpu = subprocess.run(["bash", "-c", "lscpu | grep 'Model name' | sed 's/Model name: *//'"], capture_output=True, text=True).stdout.strip()
d = json.load(open("runs/default.result.json")); r = json.load(open("runs/reference.result.json"))
lines = [f"# Fashion-MNIST training targets ({cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores)", "",
         "| run | epochs | test accuracy | training s | wall s | target | result |", "|---|---|---|---|---|---|---|",
         f"| ./fovea train (default) | {d['epochs']} | {d['test_accuracy']*100:.2f}% | {d['train_seconds']:.0f} | {d['wall_seconds']:.0f} | >= 91.5% in <= 600 s | {'PASS' if d['test_accuracy'] >= 0.915 and d['wall_seconds'] <= 600 else 'FAIL'} |",
         f"| reference CNN, Adam 1e-3, batch 64 | {r['epochs']} | {r['test_accuracy']*100:.2f}% | {r['train_seconds']:.0f} | {r['wall_seconds']:.0f} | >= 89% | {'PASS' if r['test_accuracy'] >= 0.89 else 'FAIL'} |",
         "", "Command: `bash benchmarks/train-default.sh`"]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
