#!/usr/bin/env bash
# build.sh builds engine.wasm: Debian's quickjs source package, checked
# against the checksums below, with patches/*.patch applied, plus our glue
# (src/*.c), compiled by clang-19 for wasm32-wasi (wasi-libc) as a reactor.
# The output is byte-for-byte reproducible with the same toolchain.
#
#   build.sh           rebuild engine.wasm beside this script
#   build.sh --check   rebuild into a temp dir and fail if the committed
#                      engine.wasm differs (CI)
#
# Missing build dependencies are installed with apt-get. Downloads are kept
# in $WASMROUTE_CACHE (default ~/.cache/wasmroute) and checked on every use.
set -euo pipefail
export LC_ALL=C TZ=UTC
export SOURCE_DATE_EPOCH=1745625600 # 2025-04-26, the QuickJS release

here=$(cd "$(dirname "$0")" && pwd)

# Debian's quickjs 2025.04.26-1 (trixie). The .dsc lists the orig tarball's
# checksum too; both are pinned here. Debian's own patches only touch the
# Makefile, which this build does not use, so the .debian.tar.xz is not
# fetched.
version=2025.04.26
pool=https://deb.debian.org/debian/pool/main/q/quickjs
dsc=quickjs_${version}-1.dsc
dsc_sha256=9dc1d44c9d68023ba42778f2263b25409e0037aefa32cd72a56420d2ed4fdc06
orig=quickjs_${version}.orig.tar.xz
orig_sha256=ec81da5b3249ed648dbc7df4a1654988910e66a118d9b71cb63534216efcfbbe

check=false
case "${1:-}" in
"") ;;
--check) check=true ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

die() {
	echo "build.sh: $*" >&2
	exit 1
}

sysroot_inc=/usr/include/wasm32-wasi
sysroot_lib=/usr/lib/wasm32-wasi
builtins=/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a

deps_missing() {
	! command -v clang-19 >/dev/null || ! command -v wasm-ld-19 >/dev/null ||
		[ ! -f "$sysroot_lib/libc.a" ] || [ ! -f "$builtins" ] ||
		! command -v curl >/dev/null || ! command -v xz >/dev/null || ! command -v patch >/dev/null
}
if deps_missing; then
	echo "build.sh: installing the build dependencies" >&2
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 curl xz-utils patch >/dev/null
	deps_missing && die "build dependencies still missing after apt-get install"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch downloads file from Debian's pool into the cache unless it is there
# with the right checksum, and copies it into $tmp.
cache=${WASMROUTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmroute}/quickjs
fetch() {
	local file=$1 sum=$2
	mkdir -p "$cache"
	if ! echo "$sum  $cache/$file" | sha256sum --check --status 2>/dev/null; then
		curl -fsSL --retry 3 -o "$cache/$file.part" "$pool/$file" || die "downloading $pool/$file failed"
		mv "$cache/$file.part" "$cache/$file"
	fi
	echo "$sum  $cache/$file" | sha256sum --check --status ||
		die "$file: SHA-256 is $(sha256sum <"$cache/$file" | cut -d' ' -f1), want $sum"
	cp "$cache/$file" "$tmp/$file"
}
fetch "$dsc" "$dsc_sha256"
fetch "$orig" "$orig_sha256"
grep -q "^ $orig_sha256 [0-9]* $orig\$" "$tmp/$dsc" || die "$dsc does not list $orig with SHA-256 $orig_sha256"

mkdir "$tmp/quickjs"
tar -xJf "$tmp/$orig" -C "$tmp/quickjs" --strip-components=1
for p in "$here"/patches/*.patch; do
	patch -s -p1 -d "$tmp/quickjs" --no-backup-if-mismatch <"$p" || die "applying $(basename "$p") failed"
done

# A private sysroot: wasi-libc's headers and libraries only, nothing from
# the host's /usr/include.
mkdir -p "$tmp/sysroot/lib"
ln -s "$sysroot_inc" "$tmp/sysroot/include"
ln -s "$sysroot_lib" "$tmp/sysroot/lib/wasm32-wasi"

cflags=(
	--target=wasm32-wasi --sysroot="$tmp/sysroot" -O2 -g0
	-ffile-prefix-map="$tmp"=/build -ffile-prefix-map="$here"=/jsengine
)
qjs_flags=(-D_GNU_SOURCE -DCONFIG_VERSION="\"$(cat "$tmp/quickjs/VERSION")\"" -w)
glue_flags=(-isystem "$tmp/quickjs" -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror)

mkdir "$tmp/obj"
pids=()
for f in quickjs libregexp libunicode cutils dtoa; do
	clang-19 "${cflags[@]}" "${qjs_flags[@]}" -c "$tmp/quickjs/$f.c" -o "$tmp/obj/qjs-$f.o" &
	pids+=($!)
done
for f in "$here"/src/*.c; do
	clang-19 "${cflags[@]}" "${glue_flags[@]}" -c "$f" -o "$tmp/obj/glue-$(basename "$f" .c).o" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid" || die "compiling failed"
done

objs=("$tmp"/obj/*.o) # sorted: LC_ALL=C
clang-19 "${cflags[@]}" -mexec-model=reactor -nostartfiles \
	-Wl,-z,stack-size=1048576 -Wl,--stack-first -Wl,--strip-all \
	-o "$tmp/engine.wasm" "${objs[@]}"

# The module may import only wasmroute_v1 and wasi_snapshot_preview1, and
# must import sched_yield.
if command -v wasm-objdump >/dev/null; then
	imports=$(wasm-objdump -x -j Import "$tmp/engine.wasm" | sed -n 's/.*<- \([^.]*\)\.\(.*\)$/\1.\2/p')
	bad=$(echo "$imports" | grep -v -e '^wasmroute_v1\.' -e '^wasi_snapshot_preview1\.' || true)
	[ -z "$bad" ] || die "engine.wasm imports from other modules: $bad"
	echo "$imports" | grep -qx 'wasi_snapshot_preview1.sched_yield' || die "engine.wasm does not import sched_yield"
fi

if $check; then
	cmp -s "$tmp/engine.wasm" "$here/engine.wasm" ||
		die "internal/jsengine/engine.wasm is not what build.sh builds from its sources: run internal/jsengine/build.sh and commit engine.wasm"
	echo "build.sh: engine.wasm is up to date ($(wc -c <"$here/engine.wasm") bytes)"
else
	cp "$tmp/engine.wasm" "$here/engine.wasm"
	echo "build.sh: wrote $here/engine.wasm ($(wc -c <"$here/engine.wasm") bytes)"
fi
