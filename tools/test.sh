#!/bin/sh
# README command 2: install what is missing, then run every test.
set -e
cd "$(dirname "$0")/.."
sh tools/deps.sh --hosts
make -j2 check
