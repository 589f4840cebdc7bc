#!/usr/bin/env bash
# Measures fine-tuning against frozen features alone, with the pretrained ResNet-18 as the base, on a generated image
# folder of colour textures whose class is the orientation of fine stripes (benchmarks/Fovea.Benchmarks/TextureFolder.cs):
# 300 training images (75 per class, seed 1) and 200 held-out test images (50 per class, seed 2), 224 x 224.
#   1. ./fovea train --data train --test-data test                 the dense classifier on frozen features
#   2. the same with --fine-tune: then 5 epochs of the last residual stage and the classifier at lr 1e-4
# Writes benchmarks/results/fine-tune-<time>-<host>.md. Usage: bash benchmarks/fine-tune.sh [fine-tuning options]
# (options of the second run in place of --fine-tune, e.g. --fine-tune ReLU379 --fine-tune-lr 1e-5);
# TRAIN_PER_CLASS=N changes the number of training images per class (default 75).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="benchmarks/results"
data="runs/textures"
mkdir -p "$out" runs
stamp="$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)"
dotnet build benchmarks/Fovea.Benchmarks -c Release -nologo -v q >/dev/null
bench=(dotnet benchmarks/Fovea.Benchmarks/bin/Release/net10.0/Fovea.Benchmarks.dll)
rm -rf "$data"
train_per_class="${TRAIN_PER_CLASS:-75}"
"${bench[@]}" texture-folder --out "$data/train" --per-class "$train_per_class" --seed 1
"${bench[@]}" texture-folder --out "$data/test" --per-class 50 --seed 2
./fovea summary --model compact >/dev/null   # build outside the timed runs
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

run() { # name, then fovea train options
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  ./fovea train --data "$data/train" --test-data "$data/test" --seed 0 --out "runs/textures-$name.fovea" "$@" --json > "runs/textures-$name.json"
  end=$(date +%s.%N)
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r['wall_seconds']=float(sys.argv[3])-float(sys.argv[2]); json.dump(r, open(sys.argv[1],'w'), indent=1)" \
    "runs/textures-$name.json" "$start" "$end"
}

run frozen
if [ $# -eq 0 ]; then set -- --fine-tune; fi
run finetuned "$@"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out/fine-tune-$stamp.md" "$load_before" "$load_after" "$*" "$train_per_class" <<'PY'
import json, subprocess, sys
path, load_before, load_after, extra, per_class = sys.argv[1:6]
per_class = int(per_class)
sh = lambda c: subprocess.run(["bash", "-c", c], capture_output=True, text=True).stdout.strip()
f = json.load(open("runs/textures-frozen.json")); t = json.load(open("runs/textures-finetuned.json")); ft = t["fine_tune"]
pct = lambda r: f"{r['accuracy']*100:.2f}% ({round(r['accuracy']*r['images'])}/{r['images']})"
cpu = sh("lscpu | grep 'Model name' | sed 's/Model name: *//'")
lines = [f"# Fine-tuning ResNet-18's last stage against frozen features ({cpu}, {sh('nproc')} cores)", "",
  f"Commit {sh('git rev-parse --short HEAD')}{' (with uncommitted changes)' if sh('git status --porcelain -- src') else ''}; load average before {load_before}, after {load_after}.",
  "Data: generated colour textures, 4 classes by the orientation of fine stripes (0/45/90/135 degrees, each +-15), a weaker",
  f"grating at a random orientation over them, pixel noise; {4 * per_class} training images ({per_class} per class), 200 held-out test images.", "",
  "| run | held-out test accuracy | test loss | ResNet-18 passes s | classifier s | fine-tuning s | wall s (process) |", "|---|---|---|---|---|---|---|",
  f"| frozen features, dense classifier (100 epochs, Adam 1e-3) | {pct(f['test'])} | {f['test']['loss']:.4f} | {f['feature_seconds']:.1f} | {f['train_seconds']:.1f} | - | {f['wall_seconds']:.1f} |",
  f"| same, then `{extra}` ({ft['epochs']} epochs after {ft['layer']}, lr {ft['learning_rate']:g}, {ft['trainable_parameters']:,} parameters) | {pct(t['test'])} | {t['test']['loss']:.4f} | {t['feature_seconds']:.1f} | {t['train_seconds']:.1f} | {ft['seconds']:.1f} | {t['wall_seconds']:.1f} |",
  "", f"Frozen features alone in the fine-tuning run (same classifier, before fine-tuning): {pct(ft['frozen_test'])}.", "",
  "Fine-tuning epochs (training images):", "", "| epoch | loss | accuracy | seconds |", "|---|---|---|---|"]
lines += [f"| {e['epoch']} | {e['loss']:.4f} | {e['accuracy']*100:.2f}% | {e['seconds']:.1f} |" for e in t["history"][-ft['epochs']:]]
lines += ["", f"Command: `{'' if per_class == 75 else f'TRAIN_PER_CLASS={per_class} '}bash benchmarks/fine-tune.sh {extra}`"]
open(path, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
