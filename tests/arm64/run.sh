#!/usr/bin/env bash
# Runs Fovea's tests as linux-arm64 programs under qemu user-mode emulation, so the AdvSimd (NEON) code paths that ARM64
# machines take are checked against the same reference twins, gradient checks and ONNX conformance cases as on x64.
# Emulation checks correctness, not speed.
#
#   bash tests/arm64/run.sh                         # Fovea.Tests (all but the CLI's process tests) and the ONNX
#                                                   # conformance cases: about 8 minutes on 2 cores
#   bash tests/arm64/run.sh Fovea.Tests -class 'Fovea.Tests.Kernels.*'    # one test project, xunit v3 filters
#
# Needs root (or sudo) once: installs qemu-user-static and unpacks Debian's arm64 libc, libstdc++ and OpenSSL into
# ~/.cache/fovea/arm64-sysroot (no arm64 package is installed into the system). Prints one line per project,
# "arm64 (qemu neoverse-n1) PROJECT: Failed: N, Passed: N"; exits non-zero if a test failed, 3 if emulation could
# not be set up.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { echo "[arm64] $*" >&2; }

# A Neoverse N1 (AWS Graviton2, Ampere Altra): ARMv8.2 with AdvSimd and no SVE, the common ARM64 server baseline.
CPU=neoverse-n1
SYSROOT="${XDG_CACHE_HOME:-$HOME/.cache}/fovea/arm64-sysroot"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

setup() {
  if ! command -v qemu-aarch64-static >/dev/null; then
    log "installing qemu-user-static (Debian)"
    as_root apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends qemu-user-static >/dev/null || return 1
  fi
  [ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] && return 0
  log "unpacking Debian's arm64 runtime libraries into $SYSROOT"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    as_root dpkg --add-architecture arm64 && as_root apt-get update -q >/dev/null || return 1
  fi
  local debs="$WORK/debs"; mkdir -p "$debs"
  # .NET needs libc, libgcc_s and libstdc++; OpenSSL for hashing (xunit's test IDs), zlib for compression.
  (cd "$debs" && apt-get download libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64 libssl3:arm64 zlib1g:arm64 >/dev/null 2>&1) || return 1
  rm -rf "$SYSROOT.partial"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$SYSROOT.partial" || return 1; done
  mv "$SYSROOT.partial" "$SYSROOT"
}

# run_project NAME [xunit filters...]: publish tests/NAME for linux-arm64 and run it under qemu.
run_project() {
  local name=$1; shift
  local out="$WORK/$name"
  log "publishing tests/$name for linux-arm64"
  if ! dotnet publish "tests/$name" -c Release -r linux-arm64 --self-contained -o "$out" -v q -nologo >&2; then
    echo "arm64 (qemu $CPU) $name: Failed: 1, Passed: 0"; return 1
  fi
  log "running $name $* under qemu-aarch64 -cpu $CPU"
  # The runtime's write-xor-execute double mapping of JIT code is not emulated faithfully by qemu-user; turn it off.
  DOTNET_EnableWriteXorExecute=0 QEMU_CPU=$CPU QEMU_LD_PREFIX="$SYSROOT" \
    FOVEA_ONNX_CONFORMANCE="$ROOT/tests/Fovea.Onnx.Tests/conformance/onnx-node" \
    qemu-aarch64-static "$out/$name" "$@" -noColor | tee "$out.log"
  local status=${PIPESTATUS[0]}
  # xunit v3's summary: "Total: 383, Errors: 0, Failed: 0, Skipped: 0, Not Run: 0, Time: ..."
  local total=0 errors=0 failed=0 skipped=0 notrun=0
  read -r total errors failed skipped notrun < <(grep -Eo 'Total: [0-9]+, Errors: [0-9]+, Failed: [0-9]+, Skipped: [0-9]+, Not Run: [0-9]+' "$out.log" \
    | tail -1 | grep -Eo '[0-9]+' | tr '\n' ' ')
  local passed=$((${total:-0} - ${failed:-0} - ${skipped:-0} - ${notrun:-0}))
  failed=$((${failed:-0} + ${errors:-0}))   # errors: failures outside a test (cleanup, fixtures)
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  echo "arm64 (qemu $CPU) $name: Failed: $failed, Passed: $passed"
  return "$status"
}

if ! setup; then
  echo "arm64: could not set up qemu-user and the arm64 libraries (see the messages above); no test ran" >&2
  exit 3
fi
if [ $# -gt 0 ]; then run_project "$@"; exit; fi
status=0
# The CLI tests start the x64 'dotnet' as a child process, which says nothing about ARM64.
run_project Fovea.Tests -class- 'Fovea.Tests.Cli.*' || status=1
run_project Fovea.Onnx.Tests -class Fovea.Onnx.Tests.ConformanceTests || status=1
exit "$status"
