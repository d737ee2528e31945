#!/bin/sh
# Places the native front (nsbox-runc) in build/. It is built by @nsbox/native from its one
# C core (native/binding.gyp, `npm run build:native -w @nsbox/native`) and copied here
# because it finds its server as ../dist/server-main.js beside its own executable.
set -e
cd "$(dirname "$0")/.."
dir=$(pwd)
while [ ! -d "$dir/node_modules/@nsbox/native" ]; do
  [ "$dir" = / ] && { echo "build.sh: @nsbox/native not found" >&2; exit 1; }
  dir=$(dirname "$dir")
done
release="$dir/node_modules/@nsbox/native/build/Release"
mkdir -p build
for program in nsbox-runc; do
  [ -x "$release/$program" ] || { echo "build.sh: $release/$program is not built (npm run build:native -w @nsbox/native)" >&2; exit 1; }
  cp "$release/$program" "build/$program.tmp"
  mv "build/$program.tmp" "build/$program"
done
