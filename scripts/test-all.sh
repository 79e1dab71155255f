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
export DEBIAN_FRONTEND=noninteractive
updated=
install() {
  echo "== installing $*"
  [ -n "$updated" ] || { apt-get update -qq; updated=1; }
  apt-get install -y -qq "$@" >/dev/null
}
if [ ${#need[@]} -gt 0 ]; then
  install "${need[@]}"
fi
# clang's sanitizer runtimes come in their own package on Debian 12.
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan*.a >/dev/null 2>&1; then
  major=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  install "libclang-rt-${major}-dev"
fi

if [ ! -d ../shared/corpus/mainnet ]; then
  echo "error: ../shared/corpus is missing (the corpus sits beside the repository)" >&2
  exit 1
fi

# Real peers on loopback (anvil, solc, the IPFS importer): tests that need
# them fail, rather than skip, when they are missing.
bash scripts/node-deps.sh
# PostgreSQL for the code-store tests: each test starts and stops a server
# of its own on 127.0.0.1 through scripts/postgres.sh.
bash scripts/postgres.sh install
export EBC_REQUIRE_PEERS=1

echo "== cargo test"
cargo test --all-targets
cargo test --doc

echo "== C harness (ctest: static, shared, C++, ASan+UBSan, valgrind)"
bash c_tests/run.sh

echo "== bindings and packaging (Go, Zig, C++, install, pkg-config, CMake)"
bash bindings/run.sh
