#!/usr/bin/env bash
# Tests need WebGPU without a GPU: Debian's chromium (the browser, with SwiftShader's
# Vulkan ICD) and the Vulkan loader libvulkan1 (Dawn's Node bindings open it). Installs
# them with apt-get when run as root; otherwise says in one line what to run.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; } | grep -q 'libvulkan\.so\.1' || need+=(libvulkan1)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-browser: installing ${need[*]} (Debian packages) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
  echo "ensure-browser: installed ${need[*]}"
else
  echo "webtune tests need Debian's ${need[*]}: run  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
