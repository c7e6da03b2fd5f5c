#!/usr/bin/env bash
# Build the release packages from a clean checkout:
#   target/dist-pkg/hilos-VERSION-HOST.tar.gz   binary, README, licenses, .desktop, icon
#   target/dist-pkg/hilos_VERSION-1_ARCH.deb     (Linux; built with cargo-deb)
# The binary comes from the `dist` profile (Cargo.toml: thin LTO, one codegen
# unit, stripped). Needs only the Rust toolchain; cargo-deb is installed from
# crates.io on first use. Takes several minutes.
#
#   dist/build.sh           both packages
#   dist/build.sh tar       only the .tar.gz (any OS with tar)
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
host=$(rustc -vV | sed -n 's/^host: //p')
out=target/dist-pkg
mkdir -p "$out"

echo "==> cargo build --profile dist (hilos $version for $host)"
cargo build --profile dist --locked
bin=target/dist/hilos
[ -x "$bin" ] || bin=target/dist/hilos.exe
ls -l "$bin"

echo "==> tar.gz"
name="hilos-$version-$host"
stage="$out/$name"
rm -rf "$stage"
mkdir -p "$stage"
cp "$bin" README.md LICENSE-MIT LICENSE-APACHE dist/hilos.desktop "$stage/"
cp assets/icon.png "$stage/hilos.png"
tar -C "$out" -czf "$out/$name.tar.gz" "$name"
rm -rf "$stage"
ls -l "$out/$name.tar.gz"

if [ "$what" = tar ]; then
    exit 0
fi
case "$host" in
    *linux*) ;;
    *) echo "(.deb packages are built on Linux only)"; exit 0 ;;
esac

echo "==> .deb"
if ! cargo deb --version >/dev/null 2>&1; then
    echo "installing cargo-deb from crates.io (once)"
    cargo install cargo-deb --locked
fi
# The metadata names target/release/hilos; cargo-deb maps it to the profile's folder.
cargo deb --no-build --profile dist --output "$out/"
ls -l "$out"/*.deb
