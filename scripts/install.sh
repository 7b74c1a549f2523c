#!/usr/bin/env bash
# Install rrl into ./.venv on a fresh Debian machine (Python 3.11).
#   bash scripts/install.sh          # runtime
#   bash scripts/install.sh --test   # runtime + test tools
# As root, installs the Debian packages for headless EGL rendering. The venv is reused only while
# pyproject.toml is unchanged (its hash is stamped into the venv); otherwise it is rebuilt. A runtime venv
# gains the test tools in place with --test; a test venv serves the runtime as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"

if [[ $(id -u) -eq 0 ]] && ! dpkg -s libegl1 libgl1-mesa-dri >/dev/null 2>&1; then
  echo "[install] Debian packages for headless rendering (libegl1 libgl1-mesa-dri)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1-mesa-dri >/dev/null
fi

py=$(command -v python3.11 || command -v python3)
"$py" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"rrl needs Python 3.11, found {sys.version}"'

hash=$(cat pyproject.toml | sha256sum | cut -c1-16)
stamp=".venv/.rrl-deps-${hash}"  # the runtime is installed; "$stamp-test": the test tools too
if [[ ! -f "$stamp" && ! -f "$stamp-test" ]]; then
  echo "[install] building .venv for dependency hash $hash"
  rm -rf .venv
  "$py" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  # torch first: pip takes these two files from the local disk on this kind of machine.
  .venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
  .venv/bin/pip install -q -e ".${extras}"
  touch "$stamp${extras:+-test}"
elif [[ -n "$extras" && ! -f "$stamp-test" ]]; then
  echo "[install] adding the test tools to .venv"
  .venv/bin/pip install -q -e ".${extras}"
  touch "$stamp-test"
else
  .venv/bin/pip install -q --no-deps -e . >/dev/null
fi
echo "[install] ready: $(.venv/bin/python -c 'import rrl, torch, mujoco; print("rrl", rrl.__version__, "torch", torch.__version__, "mujoco", mujoco.__version__)')"
