#!/usr/bin/env bash
# The real llama.cpp for the GGUF tests: node-llama-cpp 3.21.1 and only its Linux x64 CPU
# binary package, installed from tests/llama-cpp/package-lock.json into
# tests/llama-cpp/node_modules (never into the studio's own dependencies). --omit=optional
# keeps out every GPU build (~640 MB); the CPU binary is a direct dependency there, so it is
# still installed (~85 MB). Install scripts are not needed: the prebuilt binary is used as is.
set -euo pipefail
cd "$(dirname "$0")/../tests/llama-cpp"
want=3.21.1
have=$(node -p "try { require('./node_modules/node-llama-cpp/package.json').version } catch { '' }" 2>/dev/null || true)
bin=$(node -p "try { require('./node_modules/@node-llama-cpp/linux-x64/package.json').version } catch { '' }" 2>/dev/null || true)
if [ "$have" = "$want" ] && [ "$bin" = "$want" ]; then exit 0; fi
echo "ensure-llama-cpp: installing node-llama-cpp $want (CPU build only) into tests/llama-cpp ..."
npm ci --omit=optional --no-audit --no-fund --ignore-scripts --loglevel=error
echo "ensure-llama-cpp: installed"
