#!/usr/bin/env bash
# Side-by-side benchmark of issue 3: Fovea vs TorchSharp-cpu 0.107.0 (libtorch 2.10) vs Debian's PyTorch 1.13 on the
# reference CNN (Fashion-MNIST, batch 64, Adam 1e-3) and on SGEMM, at 1 and 2 threads, one process per framework,
# task and thread count. Writes benchmarks/results/<date>T<time>Z-<host>[-quick].md and .json and prints the table.
#
#   bash benchmarks/run-peers.sh            # full: 1 warm-up epoch + 2 timed epochs per run, peers also without tuning
#   bash benchmarks/run-peers.sh --quick    # a few hundred batches per run: checks the harness in a few minutes
#   options: --threads "1 2"   --out-dir DIR   --skip-install   --no-default-env (peers only in their tuned configuration)
#            --wait-quiet SECONDS (after building, wait up to SECONDS for the 1-minute load average to drop below 0.5)
#            --gemm-rounds N (GEMM runs of Fovea and libtorch alternate N times; each keeps its best: default 3, quick 1)
#            --tasks "cnn gemm" (which parts to run)
#
# Run on a quiet machine: every figure is compared within this one run, so load from other processes skews ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
COMMAND="bash benchmarks/run-peers.sh${*:+ $*}"
MODE=full THREADS="1 2" OUT_DIR=$ROOT/benchmarks/results INSTALL=1 DEFAULT_ENV=1 WAIT_QUIET=0 GEMM_ROUNDS= TASKS="cnn gemm"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) MODE=quick; DEFAULT_ENV=0 ;;
    --threads) THREADS=$2; shift ;;
    --out-dir) OUT_DIR=$2; shift ;;
    --skip-install) INSTALL=0 ;;
    --wait-quiet) WAIT_QUIET=$2; shift ;;
    --gemm-rounds) GEMM_ROUNDS=$2; shift ;;
    --tasks) TASKS=$2; shift ;;
    --no-default-env) DEFAULT_ENV=0 ;;
    --default-env) DEFAULT_ENV=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [[ $MODE == quick ]]; then
  CNN_ARGS=(--warmup-batches 30 --timed-batches 200 --infer-passes 1 --latency-warmup 1000 --latency-samples 300)
  GEMM_ARGS=(--gemm-reps 3)
  GEMM_ROUNDS=${GEMM_ROUNDS:-1}
else
  # 60,000 / 64 = 937 full batches per epoch: epoch 1 is warm-up, epochs 2 and 3 are timed.
  CNN_ARGS=(--warmup-batches 937 --timed-batches 1874 --infer-passes 3 --latency-warmup 2000 --latency-samples 2000)
  GEMM_ARGS=(--gemm-reps 7)
  GEMM_ROUNDS=${GEMM_ROUNDS:-3}
fi

# Peers' best configuration: glibc's malloc keeps freed blocks instead of returning them to the kernel (mmap and trim
# thresholds raised to 4 GiB; checked with strace on Debian 12's glibc 2.36: no mmap/munmap or brk trim per large
# block), and Debian's PyTorch keeps OpenBLAS single-threaded under its own OpenMP threads.
TUNED_MALLOC="glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"
PY=/usr/bin/python3   # Debian's interpreter, where python3-torch lives (not a pyenv or venv python)

log() { echo "[run-peers $(date +%H:%M:%S)] $*" >&2; }

# ---- 1. what the peers need ----
if [[ $INSTALL == 1 ]]; then
  if ! $PY -c "import torch, numpy" 2>/dev/null; then
    log "installing python3-torch python3-numpy (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-numpy >/dev/null
  fi
  # Debian's python3-torch takes its BLAS through the libblas.so.3 alternative; without OpenBLAS installed that is
  # the slow reference BLAS, not PyTorch's best configuration (its Dense layers and matmul run on it).
  if ! ldconfig -p | grep -q libopenblas.so.0; then
    log "installing libopenblas0-pthread (Debian), the BLAS of PyTorch's best configuration"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libopenblas0-pthread >/dev/null
  fi
  if ! command -v readelf >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q binutils >/dev/null
  fi
  # Every framework reads the same Fashion-MNIST files, from Debian's package (a fresh machine may not have it yet).
  if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
    log "installing dataset-fashion-mnist (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null
  fi
fi

# ---- 2. build (Release); the benchmark projects are not in Fovea.sln ----
log "building"
dotnet build -c Release -v q -nologo benchmarks/Fovea.Benchmarks/Fovea.Benchmarks.csproj >&2
dotnet build -c Release -v q -nologo benchmarks/Fovea.Benchmarks.TorchSharp/Fovea.Benchmarks.TorchSharp.csproj >&2
FOVEA=(dotnet "$ROOT/benchmarks/Fovea.Benchmarks/bin/Release/net10.0/Fovea.Benchmarks.dll" peer)
TS_DIR=$ROOT/benchmarks/Fovea.Benchmarks.TorchSharp/bin/Release/net10.0/linux-x64
TS=("$TS_DIR/Fovea.Benchmarks.TorchSharp")

# ---- 3. make TorchSharp load on Debian 12: weaken GLIBCXX_3.4.32 in the build output's own copy ----
# (libLibTorchSharp.so needs that version only for std::ios_base_library_init, which no relocation uses; see the tool.)
$PY "$ROOT/benchmarks/tools/weaken_verneed.py" "$TS_DIR/libLibTorchSharp.so" GLIBCXX_3.4.32 >&2

# ---- 4. runs, each in its own process ----
if [[ $WAIT_QUIET -gt 0 ]]; then
  deadline=$((SECONDS + WAIT_QUIET))
  while awk '{exit !($1 >= 0.5)}' /proc/loadavg && [[ $SECONDS -lt $deadline ]]; do
    log "waiting for a quiet machine (load average $(cut -d' ' -f1 /proc/loadavg))"; sleep 15
  done
fi
RUN_DIR=$(mktemp -d /tmp/fovea-peers.XXXXXX)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU time, in clock ticks: every process on the machine (/proc/stat), and this script's waited-for children, i.e.
# the benchmark runs themselves (/proc/$$/stat, fields cutime + cstime). Their difference over the run is the CPU
# that other processes took: the load average after the run cannot tell, as it is mostly the benchmark's own.
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
own_ticks() { awk '{print $16+$17}' /proc/$$/stat; }
BUSY_BEFORE=$(busy_ticks); OWN_BEFORE=$(own_ticks); WALL_BEFORE=$(date +%s)
log "results of single runs in $RUN_DIR; load average $LOAD_BEFORE"
run() {  # run NAME ENV... -- COMMAND...
  local name=$1; shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  log "$name"
  if ! timeout 1200 env "${envs[@]}" "$@" --out "$RUN_DIR/$name.json" 2> >(sed "s/^/    /" >&2); then
    log "FAILED: $name"
    echo "$name" >> "$RUN_DIR/failed.txt"
    rm -f "$RUN_DIR/$name.json"
  fi
}
has_task() { [[ " $TASKS " == *" $1 "* ]]; }
if has_task cnn; then
  for t in $THREADS; do
    run "fovea-cnn-t$t"        -- "${FOVEA[@]}" --what cnn --threads "$t" --config default "${CNN_ARGS[@]}"
    run "torchsharp-cnn-t$t-tuned" GLIBC_TUNABLES=$TUNED_MALLOC -- "${TS[@]}" --what cnn --threads "$t" --config tuned "${CNN_ARGS[@]}"
    run "pytorch-cnn-t$t-tuned" OPENBLAS_NUM_THREADS=1 GLIBC_TUNABLES=$TUNED_MALLOC -- $PY benchmarks/peers/pytorch_peer.py --what cnn --threads "$t" --config tuned "${CNN_ARGS[@]}"
  done
fi
if has_task gemm; then
  # On a shared (virtual) machine the cores' speed drifts by 10-30% over minutes, so one GEMM run each can land
  # Fovea and libtorch in different weather: their runs alternate, round after round, and each keeps its best.
  for round in $(seq 1 "$GEMM_ROUNDS"); do
    for t in $THREADS; do
      run "fovea-gemm-t$t-r$round"      -- "${FOVEA[@]}" --what gemm --threads "$t" --config default "${GEMM_ARGS[@]}"
      run "torchsharp-gemm-t$t-r$round" GLIBC_TUNABLES=$TUNED_MALLOC -- "${TS[@]}" --what gemm --threads "$t" --config tuned "${GEMM_ARGS[@]}"
      # A bare product has no outer OpenMP threads, so here OpenBLAS gets the thread count. One round: far behind.
      [[ $round == 1 ]] && run "pytorch-gemm-t$t"     OPENBLAS_NUM_THREADS=$t GLIBC_TUNABLES=$TUNED_MALLOC -- $PY benchmarks/peers/pytorch_peer.py --what gemm --threads "$t" --config tuned "${GEMM_ARGS[@]}"
    done
  done
fi
if [[ $DEFAULT_ENV == 1 ]] && has_task cnn; then
  for t in $THREADS; do
    run "torchsharp-cnn-t$t-default" -- "${TS[@]}" --what cnn --threads "$t" --config default "${CNN_ARGS[@]}"
    run "pytorch-cnn-t$t-default"    -- $PY benchmarks/peers/pytorch_peer.py --what cnn --threads "$t" --config default "${CNN_ARGS[@]}"
  done
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
OTHER_CORES=$(awk -v b="$(( $(busy_ticks) - BUSY_BEFORE ))" -v o="$(( $(own_ticks) - OWN_BEFORE ))" \
  -v s="$(( $(date +%s) - WALL_BEFORE ))" -v hz="$(getconf CLK_TCK)" 'BEGIN { x = (b - o) / hz / (s > 0 ? s : 1); printf "%.2f", x < 0 ? 0 : x }')

# ---- 5. report ----
mkdir -p "$OUT_DIR"
SUFFIX=""; [[ $MODE == quick ]] && SUFFIX=-quick
BASE="$OUT_DIR/$(date -u +%Y-%m-%dT%H%MZ)-$(hostname -s)$SUFFIX"
$PY benchmarks/tools/report.py "$RUN_DIR" "$BASE" --mode "$MODE" --gemm-rounds "$GEMM_ROUNDS" --command "$COMMAND" --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" --other-cores "$OTHER_CORES"
log "wrote $BASE.md and $BASE.json"
