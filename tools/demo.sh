#!/bin/sh
# README command 1: install what is missing, build, and run the main job:
# the example host triaging sample conversations with the default model.
set -e
cd "$(dirname "$0")/.."
sh tools/deps.sh
make -j2 -s all
sh examples/run-demo.sh
