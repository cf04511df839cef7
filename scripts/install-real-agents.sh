#!/usr/bin/env bash
# Installs the real agent CLIs the conformance tier drives, from the npm registry, at pinned
# versions, into a cache directory (reused when already there):
#
#   ${BATON_AGENTS_CACHE:-$HOME/.cache/baton/agents}/claude-code-<version>/…/claude
#   ${BATON_AGENTS_CACHE:-$HOME/.cache/baton/agents}/codex-<version>/…/codex
#
# On success it prints, on stdout, lines the caller can `eval`:
#   BATON_REAL_CLAUDE=/abs/path/claude
#   BATON_REAL_CODEX=/abs/path/codex
# Exit status: 0 both installed, 1 at least one failed (a loud message says which; the lines
# for the ones that did install are still printed), 2 npm or node missing.
# Pinned versions: change them here and in docs/conformance.md together.
set -uo pipefail

CLAUDE_VERSION="${BATON_CLAUDE_VERSION:-2.1.329}"
CODEX_VERSION="${BATON_CODEX_VERSION:-0.169.0}"
CACHE="${BATON_AGENTS_CACHE:-$HOME/.cache/baton/agents}"

loud() {
    {
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "!! install-real-agents: $*"
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    } >&2
}

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    loud "node/npm not found: cannot install the real agent CLIs"
    exit 2
fi

# install PACKAGE VERSION DIR BINARY-GLOB… : prints the binary path, or fails.
install_one() {
    local pkg="$1" version="$2" dir="$3" bin="$4"
    local found
    found="$(find_bin "$dir" "$bin")"
    if [ -n "$found" ] && [ -x "$found" ]; then
        echo "$found"
        return 0
    fi
    echo "== installing $pkg@$version into $dir" >&2
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    if ! (cd "$dir.partial" && echo '{"private":true}' >package.json &&
        npm install --no-audit --no-fund --loglevel=error "$pkg@$version" >&2); then
        rm -rf "$dir.partial"
        return 1
    fi
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    found="$(find_bin "$dir" "$bin")"
    [ -n "$found" ] && [ -x "$found" ] || return 1
    echo "$found"
}

# The native binary lives in a platform package (e.g. @anthropic-ai/claude-code-linux-x64).
find_bin() {
    local dir="$1" bin="$2"
    [ -d "$dir/node_modules" ] || return 0
    find "$dir/node_modules" -type f -name "$bin" -perm -u+x 2>/dev/null |
        grep -v '/\.bin/' | grep -E -v '\.(js|cjs|mjs)$' | head -n 1
}

mkdir -p "$CACHE"
status=0

if claude="$(install_one @anthropic-ai/claude-code "$CLAUDE_VERSION" "$CACHE/claude-code-$CLAUDE_VERSION" claude)" &&
    v="$("$claude" --version 2>/dev/null)"; then
    echo "== claude: $claude ($v)" >&2
    echo "BATON_REAL_CLAUDE=$claude"
else
    loud "could not install or run @anthropic-ai/claude-code@$CLAUDE_VERSION"
    status=1
fi

if codex="$(install_one @openai/codex "$CODEX_VERSION" "$CACHE/codex-$CODEX_VERSION" codex)" &&
    v="$("$codex" --version 2>/dev/null)"; then
    echo "== codex: $codex ($v)" >&2
    echo "BATON_REAL_CODEX=$codex"
else
    loud "could not install or run @openai/codex@$CODEX_VERSION"
    status=1
fi

exit "$status"
