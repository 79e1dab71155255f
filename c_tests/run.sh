#!/usr/bin/env bash
# Builds libebc and runs the C/C++ tests of its C ABI in four configurations:
#   build-static  gcc, libebc.a, plus every test again under valgrind
#   build-shared  gcc, libebc.so (found by rpath)
#   build-asan    clang, libebc.a, ASan + UBSan
#   build-asan-shared  clang, libebc.so, ASan + UBSan
# Each configuration builds every test as C11 and as C++17.
#
# Usage: c_tests/run.sh (from any directory). Needs cargo, cmake, gcc/g++,
# clang/clang++ and valgrind. EBC_C_TESTS_BUILD_ROOT moves the build
# directories (default: c_tests/). Exits non-zero if anything fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build_root="${EBC_C_TESTS_BUILD_ROOT:-$here}"
jobs="$(nproc 2>/dev/null || echo 2)"

missing=()
for tool in cargo cmake ctest gcc g++ clang clang++ valgrind; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
    echo "run.sh: missing required tools: ${missing[*]}" >&2
    echo "run.sh: install them first, e.g. apt-get install -y cmake clang valgrind" >&2
    exit 2
fi

echo "== cargo build --lib"
(cd "$root" && cargo build --lib)
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    lib_dir="$(cd "$root" && cd "$CARGO_TARGET_DIR" && pwd)/debug"
else
    lib_dir="$root/target/debug"
fi
for f in libebc.a libebc.so; do
    [[ -f "$lib_dir/$f" ]] || { echo "run.sh: $lib_dir/$f was not built" >&2; exit 1; }
done

failures=()
summary=()

# run_config NAME CC CXX [cmake -D options...]; the environment of ctest is
# taken from the caller (set it with env before the call).
run_config() {
    local name="$1" cc="$2" cxx="$3"
    shift 3
    local dir="$build_root/build-$name" log
    echo "== $name: configure and build ($dir)"
    mkdir -p "$dir"
    if ! cmake -S "$here" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
        -DCMAKE_BUILD_TYPE=Debug -DEBC_LIB_DIR="$lib_dir" "$@" >"$dir/configure.log" 2>&1; then
        cat "$dir/configure.log" >&2
        failures+=("$name (configure)")
        return 0
    fi
    if ! cmake --build "$dir" -j "$jobs"; then
        failures+=("$name (build)")
        return 0
    fi
    echo "== $name: ctest"
    log="$dir/ctest.log"
    if (cd "$dir" && ctest --output-on-failure -j "$jobs") 2>&1 | tee "$log"; then
        summary+=("$name: $(grep -E 'tests passed' "$log" | tail -1)")
    else
        summary+=("$name: $(grep -E 'tests passed|tests failed' "$log" | tail -1)")
        failures+=("$name (tests)")
    fi
}

mkdir -p "$build_root"

run_config static gcc g++ -DEBC_LINK=static -DEBC_VALGRIND=ON
run_config shared gcc g++ -DEBC_LINK=shared
export ASAN_OPTIONS="detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_config asan clang clang++ -DEBC_LINK=static -DEBC_SANITIZE=ON
run_config asan-shared clang clang++ -DEBC_LINK=shared -DEBC_SANITIZE=ON
unset ASAN_OPTIONS UBSAN_OPTIONS

echo
echo "== summary"
for line in "${summary[@]}"; do echo "  $line"; done
if ((${#failures[@]} > 0)); then
    echo "FAILED: ${failures[*]}" >&2
    exit 1
fi
echo "all C ABI tests passed"
