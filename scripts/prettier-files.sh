#!/usr/bin/env bash
# Prettier on the allowlist in .prettier-files (see there why not the whole tree):
#   scripts/prettier-files.sh --check | --write
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(grep -v '^\s*#' .prettier-files | grep -v '^\s*$')
exec npx prettier "$1" "${files[@]}"
