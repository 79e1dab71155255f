#!/usr/bin/env bash
# Builds libebc and installs it under PREFIX, as `make install` would:
#
#   PREFIX/include/ebc.h, ebc.hpp          the C ABI and the C++ wrapper
#   PREFIX/lib/libebc.a                    static library
#   PREFIX/lib/libebc.so.<version>         shared library, SONAME libebc.so.<major>,
#   PREFIX/lib/libebc.so.<major>, libebc.so  and its links
#   PREFIX/lib/pkgconfig/ebc.pc, ebc-static.pc
#   PREFIX/lib/cmake/ebc/ebcConfig.cmake, ebcConfigVersion.cmake
#
# Usage: scripts/install.sh [--debug] PREFIX
#   --debug    install the debug build (target/debug) instead of release
#   DESTDIR    staged install: files go to $DESTDIR$PREFIX, paths inside
#              them name PREFIX
#   LIBDIR     library directory below PREFIX (default: lib)
#
# The system libraries a static link needs are what rustc reports for this
# build (`--print native-static-libs`); they go into ebc-static.pc,
# ebc.pc's Libs.private and the ebc::ebc_static target.
set -euo pipefail

profile=release
if [[ "${1:-}" == "--debug" ]]; then
    profile=debug
    shift
fi
if [[ $# -ne 1 || "$1" != /* ]]; then
    echo "usage: $0 [--debug] PREFIX (an absolute path)" >&2
    exit 2
fi
prefix="${1%/}"
libdir_rel="${LIBDIR:-lib}"
dest="${DESTDIR:-}$prefix"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

version="$(sed -n 's/^version = "\([^"]*\)"/\1/p' Cargo.toml | head -1)"
IFS=. read -r major minor _ <<<"$version"

# One build of every crate type, which also reports the static link's needs.
cargo_flags=(--lib)
[[ "$profile" == release ]] && cargo_flags+=(--release)
build_log="$(mktemp)"
trap 'rm -f "$build_log"' EXIT
if ! cargo rustc "${cargo_flags[@]}" -- --print native-static-libs >"$build_log" 2>&1; then
    cat "$build_log" >&2
    exit 1
fi
static_libs="$(sed -n 's/.*native-static-libs: //p' "$build_log" | tail -1)"
if [[ -z "$static_libs" ]]; then
    echo "install.sh: rustc did not report native-static-libs" >&2
    exit 1
fi
# "-lgcc_s -lm" as CMake's list "gcc_s;m".
static_libs_cmake="$(sed 's/-l//g; s/ \+/;/g' <<<"$static_libs")"

if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    built="$(cd "$CARGO_TARGET_DIR" && pwd)/$profile"
else
    built="$root/target/$profile"
fi

lib="$dest/$libdir_rel"
install -d "$dest/include" "$lib/pkgconfig" "$lib/cmake/ebc"
install -m 644 include/ebc.h bindings/cpp/ebc.hpp "$dest/include/"
install -m 644 "$built/libebc.a" "$lib/libebc.a"
install -m 755 "$built/libebc.so" "$lib/libebc.so.$version"
ln -sfn "libebc.so.$version" "$lib/libebc.so.$major"
ln -sfn "libebc.so.$major" "$lib/libebc.so"

# From lib/cmake/ebc back up to the prefix, one ".." per directory.
cmake_to_prefix="$(sed 's|[^/]\+|..|g' <<<"$libdir_rel/cmake/ebc")"
fill() {
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$prefix/$libdir_rel|g" \
        -e "s|@LIBDIR_REL@|$libdir_rel|g" -e "s|@CMAKE_TO_PREFIX@|$cmake_to_prefix|g" \
        -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" -e "s|@MINOR@|$minor|g" \
        -e "s|@STATIC_LIBS@|$static_libs|g" -e "s|@STATIC_LIBS_CMAKE@|$static_libs_cmake|g" \
        "packaging/$1.in" >"$2"
    chmod 644 "$2"
}
fill ebc.pc "$lib/pkgconfig/ebc.pc"
fill ebc-static.pc "$lib/pkgconfig/ebc-static.pc"
fill ebcConfig.cmake "$lib/cmake/ebc/ebcConfig.cmake"
fill ebcConfigVersion.cmake "$lib/cmake/ebc/ebcConfigVersion.cmake"

echo "installed ebc $version ($profile) under $dest"
echo "static link needs: $static_libs"
