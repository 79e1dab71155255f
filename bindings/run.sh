#!/usr/bin/env bash
# Tests the language bindings and the packaging, on a fresh machine too:
#   - installs what is missing: Go (Debian's golang-go, at least 1.17 for
#     runtime/cgo.Handle), Zig 0.17.0 (the ziglang package from PyPI, into
#     target/ziglang-0.17.0), cmake, g++, pkg-config
#   - builds libebc once (debug) and installs it into target/bindings-prefix
#     with scripts/install.sh
#   - packaging/test.sh: SONAME, pkg-config and find_package consumers,
#     the README's static link libraries
#   - C++: bindings/cpp under ctest (C++17 static, C++20 shared, ASan+UBSan)
#   - Go: gofmt, go vet, go test -race in bindings/go
#   - Zig: zig fmt --check, zig build test in bindings/zig
# Prints "N passed, N failed" and exits non-zero when anything failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
zig_version=0.17.0
target_dir="${CARGO_TARGET_DIR:-$root/target}"
prefix="$target_dir/bindings-prefix"
weth9="$root/contracts/WETH9.hex"
corpus_weth9="$root/../shared/corpus/mainnet/5566bf50796faf93c9b6f6adacd3b32c70bfe16b48ffc59db6cd144cbdc89739"

export DEBIAN_FRONTEND=noninteractive
apt_updated=
apt_install() {
    echo "== installing $*"
    [[ -n "$apt_updated" ]] || { apt-get update -qq; apt_updated=1; }
    apt-get install -y -qq "$@" >/dev/null
}

# Go: runtime/cgo.Handle and unsafe.Slice need 1.17.
go_new_enough() {
    command -v go >/dev/null || return 1
    local v
    v="$(go env GOVERSION)"   # e.g. go1.19.8
    v="${v#go}"
    local major="${v%%.*}" rest="${v#*.}"
    local minor="${rest%%.*}"
    ((major > 1 || (major == 1 && minor >= 17)))
}
need=()
go_new_enough || need+=(golang-go)
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
((${#need[@]} == 0)) || apt_install "${need[@]}"
go_new_enough || { echo "bindings/run.sh: Go >= 1.17 is needed, found $(go version)" >&2; exit 1; }

# Zig, pinned, in its own directory (no system Python environment touched).
zig_dir="$target_dir/ziglang-$zig_version"
zig() { PYTHONPATH="$zig_dir" python3 -m ziglang "$@"; }
if [[ "$(zig version 2>/dev/null)" != "$zig_version" ]]; then
    echo "== installing ziglang==$zig_version into $zig_dir"
    rm -rf "$zig_dir"
    python3 -m pip install -q --disable-pip-version-check --target "$zig_dir" "ziglang==$zig_version" ||
        python3 -m pip install -q --disable-pip-version-check --break-system-packages --target "$zig_dir" \
            "ziglang==$zig_version"
    [[ "$(zig version)" == "$zig_version" ]]
fi
echo "== $(go version), zig $(zig version), $(cmake --version | head -1)"

echo "== building and installing libebc (debug) into $prefix"
rm -rf "$prefix"
bash scripts/install.sh --debug "$prefix"

passed=0
failed=()
run() { # run NAME COMMAND...: every step of COMMAND must pass
    local name="$1" rc
    shift
    echo
    echo "== $name"
    # Not in an `if`: there bash would ignore `set -e` inside the function.
    set +e
    (set -e; "$@")
    rc=$?
    set -e
    if [[ $rc -eq 0 ]]; then
        passed=$((passed + 1))
    else
        failed+=("$name")
    fi
}

run "packaging" bash packaging/test.sh "$prefix"

cpp_tests() {
    local build="$target_dir/bindings-cpp"
    rm -rf "$build"
    cmake -S bindings/cpp -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DEBC_WETH9="$corpus_weth9" \
        -DEBC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"
    (cd "$build" && ctest --output-on-failure)
}
run "C++ (ctest)" cpp_tests

go_tests() {
    cd "$root/bindings/go"
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    local unformatted
    unformatted="$(gofmt -l .)"
    [[ -z "$unformatted" ]] || { echo "not gofmt-formatted: $unformatted"; return 1; }
    go vet ./...
    go test -race -count=1 -v ./... 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT)'
    return "${PIPESTATUS[0]}"
}
run "Go (go test -race)" go_tests

zig_tests() {
    cd "$root/bindings/zig"
    zig fmt --check build.zig src example
    zig build test -Debc-prefix="$prefix" -Dweth9="$weth9" --summary all
}
run "Zig (zig build test)" zig_tests

echo
echo "bindings: ${passed} passed, ${#failed[@]} failed"
if ((${#failed[@]} > 0)); then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
