#!/usr/bin/env bash
# What the benchmarks need besides the project's own venv (make setup):
#   - Debian's pssh package (its binary is parallel-ssh), via apt-get when root;
#   - Debian's htop (B9 compares the bytes it writes to a terminal with the cockpit's);
#   - bench/.venv: ansible-core, parallel-ssh (the Python library), py-spy, Glances, from bench/requirements.txt.
# bench/.venv is ignored by git (.gitignore: .venv/). Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v parallel-ssh >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: pssh"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pssh
  else
    echo "missing system package: pssh (run: sudo apt-get install -y pssh)" >&2; exit 1
  fi
fi
if ! command -v htop >/dev/null 2>&1; then  # B9 measures the bytes it writes beside the cockpit's
  if [ "$(id -u)" = 0 ]; then
    echo "installing: htop"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq htop
  else
    echo "missing system package: htop (run: sudo apt-get install -y htop)" >&2; exit 1
  fi
fi
stamp=bench/.venv/.installed
if [ ! -f "$stamp" ] || [ bench/requirements.txt -nt "$stamp" ]; then
  .venv/bin/python -m venv bench/.venv
  bench/.venv/bin/pip install -q -r bench/requirements.txt
  touch "$stamp"
fi
