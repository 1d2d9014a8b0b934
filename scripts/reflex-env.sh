# shellcheck shell=bash
# The environment Reflex 0.10.1 needs to start offline: the one place it is defined.
#
#   . scripts/reflex-env.sh         exports the variables into the current shell
#   bash scripts/reflex-env.sh      prints them as KEY=VALUE lines (for Python callers)
#
# Why each one:
#   PIER_BUN_PACKAGE            bun's npm package for this machine's system and architecture
#   REFLEX_BUN_PATH             bun from the npm registry (.tools), else Reflex downloads bun
#   BUN_INSTALL_CACHE_DIR       bun's package cache inside the checkout, reused across builds
#   NPM_CONFIG_REGISTRY         the registry npm uses here; avoids bun racing two registries
#   REFLEX_TELEMETRY_ENABLED    no telemetry calls
#   REFLEX_CHECK_LATEST_VERSION no PyPI version probe at start
#   REFLEX_HTTP_CLIENT_BIND_ADDRESS  skips Reflex's IPv6 probe (a network call)

_pier_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=0
export REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0
case "$(uname -s)-$(uname -m)" in
    Linux-aarch64 | Linux-arm64) _pier_bun=bun-linux-aarch64 ;;
    Darwin-arm64) _pier_bun=bun-darwin-aarch64 ;;
    Darwin-x86_64) _pier_bun=bun-darwin-x64 ;;
    *) _pier_bun=bun-linux-x64 ;;
esac
export PIER_BUN_PACKAGE="@oven/$_pier_bun"
export REFLEX_BUN_PATH="${REFLEX_BUN_PATH:-$_pier_root/.tools/node_modules/@oven/$_pier_bun/bin/bun}"
export BUN_INSTALL_CACHE_DIR="${BUN_INSTALL_CACHE_DIR:-$_pier_root/.tools/bun-cache}"
if [ -z "${NPM_CONFIG_REGISTRY:-}" ]; then
    NPM_CONFIG_REGISTRY="$(npm config get registry 2>/dev/null || true)"
    export NPM_CONFIG_REGISTRY="${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org/}"
fi
unset _pier_root _pier_bun

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    for _name in REFLEX_TELEMETRY_ENABLED REFLEX_CHECK_LATEST_VERSION \
        REFLEX_HTTP_CLIENT_BIND_ADDRESS PIER_BUN_PACKAGE REFLEX_BUN_PATH BUN_INSTALL_CACHE_DIR \
        NPM_CONFIG_REGISTRY; do
        printf '%s=%s\n' "$_name" "${!_name}"
    done
fi
