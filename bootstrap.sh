#!/usr/bin/env bash
# Sets up clustersim on a fresh Debian 12 machine and runs it.
#
#   ./bootstrap.sh predict [SCENARIO]   install what is missing, build, predict the default scenario
#   ./bootstrap.sh test                 install what is missing, build everything, run the test suite
#   ./bootstrap.sh build                install what is missing and build
#
# Missing Debian packages are installed with apt-get when run as root; otherwise the script prints
# the apt-get command to run and stops. The CUDA toolkit (nvcc, cuBLAS, NCCL) is used when present
# and never installed here. Environment: BUILD_DIR (default build), BUILD_TYPE (default Release),
# JOBS (default: number of cores), CTEST_ARGS (extra ctest arguments).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
build_dir="${BUILD_DIR:-build}"
build_type="${BUILD_TYPE:-Release}"
jobs="${JOBS:-$(nproc)}"

packages=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev libopenmpi-dev openmpi-bin
  qt6-base-dev qt6-charts-dev qt6-svg-dev libqt6opengl6-dev libgl-dev
)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
    echo "bootstrap: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

configure_and_build() {
  local generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    # MPI, the dashboard and the benchmarks are required here (ON), so that a missing package fails
    # the build instead of silently dropping a component and its tests; CUDA stays AUTO (the
    # toolkit is never installed by this script).
    cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" \
      -DCLUSTERSIM_WITH_MPI=ON -DCLUSTERSIM_WITH_GUI=ON -DCLUSTERSIM_WITH_BENCHMARKS=ON
  fi
  cmake --build "$build_dir" --parallel "$jobs"
}

cmd="${1:-predict}"
shift || true
case "$cmd" in
  predict)
    install_missing
    configure_and_build
    exec "$build_dir/cli/clustersim" predict "${1:-scenarios/default.json}" "${@:2}"
    ;;
  test)
    install_missing
    configure_and_build
    # The default run covers every component; benchmarks (label bench) run with `ctest -L bench`.
    # shellcheck disable=SC2086
    exec ctest --test-dir "$build_dir" --output-on-failure --parallel "$jobs" -LE bench ${CTEST_ARGS:-}
    ;;
  build)
    install_missing
    configure_and_build
    ;;
  *)
    echo "usage: $0 predict [SCENARIO] | test | build" >&2
    exit 2
    ;;
esac
