#!/bin/sh
# The Debian packages the tests run the exports with: gcc and node for the parity gate of the C
# and JS formats, a cross compiler and qemu-user for armhf, arm-none-eabi for a Cortex-M4F,
# Chromium for the ES module in a browser, ChromeDriver for hp-serve's pricing page,
# qemu-system-arm for the Cortex-M boards (tests/mcu, hp-bench --mcu), g++ for the ExecuTorch
# example (examples/executorch). Installed
# when missing (as root); otherwise the one command to run is printed and this fails.
set -eu
packages="gcc g++ binutils file gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static
gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm chromium chromium-driver openssl"
missing=""
for package in $packages; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $package"
done
command -v node >/dev/null || missing="$missing nodejs"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "system-packages: missing:$missing; run: sudo apt-get install$missing" >&2
    exit 1
fi
echo "system-packages: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
