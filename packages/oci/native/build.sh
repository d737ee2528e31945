#!/bin/sh
# Builds the native front (nsbox-runc) and the init helper placed into boxes
# (nsbox-runc-init), both static so that the helper runs inside any image.
set -e
cd "$(dirname "$0")/.."
mkdir -p build
CC=${CC:-cc}
FLAGS="-static -O2 -Wall -Wextra -D_GNU_SOURCE"
$CC $FLAGS -o build/nsbox-runc.tmp native/runc-front.c
$CC $FLAGS -o build/nsbox-runc-init.tmp native/runc-init.c
mv build/nsbox-runc.tmp build/nsbox-runc
mv build/nsbox-runc-init.tmp build/nsbox-runc-init
