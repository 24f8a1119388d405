#!/usr/bin/env bash
# A scratch venv holding one wandb client version (with numpy and Pillow for its media), cached outside the
# checkout so CI reuses it: ${RUNTREE_CI_CACHE:-~/.cache/runtree-ci}/wandb-<version>. Prints its python.
# Usage: scripts/wandb-venv.sh 0.18.7   (tests/integration/test_wandb_versions.py calls it)
set -euo pipefail
version=${1:?usage: wandb-venv.sh VERSION}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "not a wandb version: $version" >&2; exit 2; }
cache=${RUNTREE_CI_CACHE:-$HOME/.cache/runtree-ci}
dir=$cache/wandb-$version
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9  # two test processes asking for the same version build it once
if [ ! -f "$dir/.ready" ]; then
    rm -rf "$dir"
    "${PYTHON:-python3}" -m venv "$dir" >&2
    numpy=numpy
    case $version in 0.1[0-7].*) numpy='numpy<2' ;; esac  # clients older than numpy 2
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "wandb==$version" "$numpy" pillow setuptools >&2
    touch "$dir/.ready"
fi
echo "$dir/bin/python"
