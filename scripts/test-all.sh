#!/usr/bin/env bash
# Every test of ebc, on a fresh machine: installs what is missing (cmake,
# clang, valgrind), runs the Rust tests (unit, integration, the whole
# mainnet corpus, header freshness, doc tests), then the C harness under
# ctest: static and shared library, C and C++, AddressSanitizer +
# UndefinedBehaviorSanitizer, and valgrind memcheck.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v clang >/dev/null || need+=(clang)
command -v valgrind >/dev/null || need+=(valgrind)
command -v g++ >/dev/null || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -d ../shared/corpus/mainnet ]; then
  echo "error: ../shared/corpus is missing (the corpus sits beside the repository)" >&2
  exit 1
fi

echo "== cargo test"
cargo test --all-targets
cargo test --doc

echo "== C harness (ctest: static, shared, C++, ASan+UBSan, valgrind)"
bash c_tests/run.sh
