#!/usr/bin/env bash
# Tests the installed package the way a consumer uses it:
#   - scripts/install.sh into PREFIX (and a DESTDIR-staged install)
#   - the shared library's SONAME is libebc.so.<major>, and its links resolve
#   - packaging/consumer/example.c built with pkg-config (ebc: shared,
#     ebc-static: static) and with find_package(ebc) (ebc::ebc,
#     ebc::ebc_static), each run and its printed code hashes checked
#   - the README's list of system libraries for a static link is the one
#     rustc reports, and the one the installed files carry
#
# Usage: packaging/test.sh PREFIX   (PREFIX: where scripts/install.sh --debug
# installed ebc; bindings/run.sh does that first). Prints "N passed, N failed".
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$1"
weth9="$root/../shared/corpus/mainnet/5566bf50796faf93c9b6f6adacd3b32c70bfe16b48ffc59db6cd144cbdc89739"
weth9_hash="0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

check() { # check NAME COMMAND...: runs the command (every step must pass), counts the outcome
    local name="$1" rc
    shift
    # Not in an `if`: there bash would ignore `set -e` inside the function.
    set +e
    (set -e; "$@") >"$work/out" 2>&1
    rc=$?
    set -e
    if [[ $rc -eq 0 ]]; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        sed 's/^/     /' "$work/out"
        failed=$((failed + 1))
    fi
}

version="$(sed -n 's/^version = "\([^"]*\)"/\1/p' "$root/Cargo.toml" | head -1)"
major="${version%%.*}"
lib="$prefix/lib"

soname_is_versioned() {
    readelf -d "$lib/libebc.so.$version" | grep -F "Library soname: [libebc.so.$major]"
    [[ "$(readlink "$lib/libebc.so.$major")" == "libebc.so.$version" ]]
    [[ "$(readlink -f "$lib/libebc.so")" == "$(readlink -f "$lib/libebc.so.$version")" ]]
}
check "SONAME libebc.so.$major and the links" soname_is_versioned

# runs_and_prints BINARY: the example prints WETH9's hash from the file and the loader.
runs_and_prints() {
    local out
    out="$("$1" "$weth9")"
    echo "$out"
    [[ "$out" == "file: $weth9_hash"$'\n'"loader: $weth9_hash" ]]
}
links_installed_shared() {
    ldd "$1" | grep -F "libebc.so.$major => $lib/libebc.so.$major"
}
links_no_shared_ebc() {
    ! ldd "$1" | grep -F libebc
}

export PKG_CONFIG_PATH="$lib/pkgconfig"
cc_flags=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
pkg_shared() {
    # shellcheck disable=SC2046
    cc "${cc_flags[@]}" "$root/packaging/consumer/example.c" -o "$work/pc_shared" \
        $(pkg-config --cflags --libs ebc) -Wl,-rpath,"$(pkg-config --variable=libdir ebc)"
    links_installed_shared "$work/pc_shared"
    runs_and_prints "$work/pc_shared"
}
pkg_static() {
    # shellcheck disable=SC2046
    cc "${cc_flags[@]}" "$root/packaging/consumer/example.c" -o "$work/pc_static" \
        $(pkg-config --cflags --libs ebc-static)
    links_no_shared_ebc "$work/pc_static"
    runs_and_prints "$work/pc_static"
}
check "pkg-config ebc (shared)" pkg_shared
check "pkg-config ebc-static" pkg_static

cmake_consumer() {
    cmake -S "$root/packaging/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Debug
    cmake --build "$work/cmake"
    links_installed_shared "$work/cmake/example_shared"
    runs_and_prints "$work/cmake/example_shared"
    links_no_shared_ebc "$work/cmake/example_static"
    runs_and_prints "$work/cmake/example_static"
}
check "find_package(ebc): ebc::ebc and ebc::ebc_static" cmake_consumer

cmake_version_check() {
    # An older major (for 0.x: minor) or a newer version than installed is refused.
    mkdir -p "$work/ver"
    printf 'cmake_minimum_required(VERSION 3.16)\nproject(v NONE)\nfind_package(ebc %s REQUIRED)\n' \
        "$1" >"$work/ver/CMakeLists.txt"
    rm -rf "$work/ver/build"
    cmake -S "$work/ver" -B "$work/ver/build" -DCMAKE_PREFIX_PATH="$prefix"
}
refuses() { ! "$@"; }
check "find_package(ebc $version) accepts" cmake_version_check "$version"
check "find_package(ebc 99.0) refuses" refuses cmake_version_check 99.0

static_libs_agree() {
    local readme rustc pc
    readme="$(grep -F 'native-static-libs' "$root/README.md" | grep -o '`-l[^`]*`' | tail -1 | tr -d '`')"
    rustc="$(cd "$root" && cargo rustc --lib -- --print native-static-libs 2>&1 |
        sed -n 's/.*native-static-libs: //p' | tail -1)"
    pc="$(sed -n 's|^Libs: ${libdir}/libebc.a ||p' "$lib/pkgconfig/ebc-static.pc")"
    echo "README: $readme"
    echo "rustc:  $rustc"
    echo "pc:     $pc"
    [[ -n "$readme" && "$readme" == "$rustc" && "$rustc" == "$pc" ]]
}
check "README's static link libraries = rustc's = ebc-static.pc's" static_libs_agree

staged_install() {
    DESTDIR="$work/stage" bash "$root/scripts/install.sh" --debug /opt/ebc
    [[ -f "$work/stage/opt/ebc/include/ebc.h" && -f "$work/stage/opt/ebc/lib/libebc.a" ]]
    grep -Fx "prefix=/opt/ebc" "$work/stage/opt/ebc/lib/pkgconfig/ebc.pc"
}
check "DESTDIR staged install" staged_install

echo "packaging: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
