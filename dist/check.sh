#!/usr/bin/env bash
# Check the packages as a user would get them (takes minutes; run as root on a
# Debian machine, like CI): build them, then
#   - unpack the .deb into a scratch root and run `hilos --version` and
#     `hilos list` from it; check apt can resolve its dependencies;
#   - install it for real with dpkg -i (apt-get -f install brings what it
#     depends on), run `hilos --version` and `hilos run race-condition --json`
#     from /usr/bin, validate the installed .desktop file, then dpkg -r and
#     check nothing is left in /usr/bin. This changes the machine it runs on:
#     run it on CI or in a scratch container; it refuses to run where a hilos
#     package is already installed;
#   - open the window from it under a virtual display and take a screenshot;
#   - validate the .desktop file;
#   - unpack the .tar.gz and run its binary.
set -euo pipefail
cd "$(dirname "$0")/.."

dist/build.sh
out=target/dist-pkg
deb=$(ls -t "$out"/*.deb | head -1)
tgz=$(ls -t "$out"/*.tar.gz | head -1)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

need=""
command -v desktop-file-validate >/dev/null || need="$need desktop-file-utils"
command -v python3 >/dev/null || need="$need python3"
command -v xvfb-run >/dev/null || need="$need xvfb xauth"
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || need="$need mesa-vulkan-drivers"
if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi

echo "==> $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb"
dpkg-deb -x "$deb" "$scratch/root"
"$scratch/root/usr/bin/hilos" --version | grep -q "hilos $version"
"$scratch/root/usr/bin/hilos" --version
"$scratch/root/usr/bin/hilos" list | head -3
echo "apt would install it with:"
apt-get install --simulate "./$deb" | grep -E "^(Inst|Conf)" || true

echo "==> installing it for real (dpkg -i), then removing it (dpkg -r)"
if [ "$(id -u)" != 0 ]; then
    echo "dpkg -i needs root: run dist/check.sh as root (CI does)" >&2
    exit 1
fi
if dpkg-query -W -f='${Status}' hilos 2>/dev/null | grep -q "install ok installed"; then
    echo "a hilos package is already installed here: check.sh installs and removes its own, run it in a scratch container" >&2
    exit 1
fi
installed=1
trap 'if [ -n "${installed:-}" ]; then dpkg -r hilos >/dev/null 2>&1 || true; fi; rm -rf "$scratch"' EXIT
if ! dpkg -i "$deb"; then
    echo "dpkg -i left dependencies to install: apt-get -f install"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -f install -y -qq
fi
dpkg-query -W -f='${Package} ${Version} ${Status}\n' hilos
test "$(command -v hilos)" = /usr/bin/hilos
hilos --version | grep -q "hilos $version"
hilos --version
hilos run race-condition --json >"$scratch/race.json"
python3 - "$scratch/race.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["scenario"] == "race-condition", report["scenario"]
assert report["finished"] is True, report.get("stop")
print("hilos run race-condition --json: finished, metrics:", report["metrics"])
PY
desktop-file-validate /usr/share/applications/hilos.desktop
echo "/usr/share/applications/hilos.desktop is valid"
dpkg -r hilos
installed=
if [ -e /usr/bin/hilos ] || [ -e /usr/share/applications/hilos.desktop ]; then
    echo "dpkg -r left files behind" >&2
    exit 1
fi
echo "installed, ran and removed: nothing left in /usr/bin or /usr/share/applications"

echo "==> the window, from the package, under a virtual display"
xvfb-run -a -s "-screen 0 1400x900x24" bash -c '
    "$0" gui --scenario producer-consumer --start >"$1/gui.log" 2>&1 & app=$!
    sleep 6
    if ! kill -0 $app 2>/dev/null; then echo "the window did not stay open:"; cat "$1/gui.log"; exit 1; fi
    kill $app' "$scratch/root/usr/bin/hilos" "$scratch"
echo "the window opened and ran"

echo "==> desktop-file-validate"
desktop-file-validate dist/hilos.desktop
desktop-file-validate "$scratch/root/usr/share/applications/hilos.desktop"

echo "==> $tgz"
tar -C "$scratch" -xzf "$tgz"
"$scratch"/hilos-*/hilos --version
ls "$scratch"/hilos-*/

echo
echo "packages:"
ls -l "$out"/*.deb "$out"/*.tar.gz
echo "binary: $(stat -c %s target/dist/hilos) bytes"
