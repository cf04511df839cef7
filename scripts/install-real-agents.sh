#!/usr/bin/env bash
# Installs released versions of the real agent CLIs from the npm registry into a cache
# directory (a version already there is reused):
#
#   ${BATON_AGENTS_CACHE:-$HOME/.cache/baton/agents}/<package-name>-<version>/…
#
# Usage:
#   scripts/install-real-agents.sh            the CI set: for Claude Code and Codex the pinned
#                                             and the newest listed version; Gemini CLI and
#                                             opencode at their pinned version
#   scripts/install-real-agents.sh --matrix   every version of the matrix below (the older ones
#                                             the scenario scripts capture fixtures from)
#   scripts/install-real-agents.sh --latest   the pinned ones plus whatever the registry calls
#                                             `latest` today (scripts/check-latest-clis)
#   … --amp                                   Amp too (opt-in; --matrix includes it): pinned is
#                                             the last release that runs offline against a fake
#                                             server, plus the newest (docs/conformance.md)
#
# On success it prints, on stdout, lines the caller can `eval`; each names one or more
# binaries, separated by `:`, the pinned version first:
#   BATON_REAL_CLAUDE=/abs/claude-2.1.329/…/claude:/abs/claude-2.1.332/…/claude
#   BATON_REAL_CODEX=…   BATON_REAL_GEMINI=…   BATON_REAL_OPENCODE=…   BATON_REAL_AMP=…
# Exit status: 0 all installed, 1 at least one failed (a loud message says which; the lines
# for the ones that did install are still printed), 2 npm or node missing.
#
# Versions: change them here and in docs/conformance.md together. The matrix holds, per CLI,
# the pinned version, the newest, and ones about 3, 6 and 12 months older.
set -uo pipefail

CLAUDE_PINNED="${BATON_CLAUDE_VERSION:-2.1.329}"
CLAUDE_NEWEST="2.1.332"
CLAUDE_OLDER="2.1.258 2.1.159 2.1.49 2.0.55"
CODEX_PINNED="${BATON_CODEX_VERSION:-0.169.0}"
CODEX_NEWEST="0.171.0"
CODEX_OLDER="0.152.0 0.130.0 0.64.0"
GEMINI_PINNED="${BATON_GEMINI_VERSION:-0.61.0}"
GEMINI_OLDER="0.43.0 0.20.0"
OPENCODE_PINNED="${BATON_OPENCODE_VERSION:-1.18.33}"
# Amp: releases up to 0.0.1777897475 run the agent loop in the CLI (a loopback fake can play
# the server); from 0.0.1784106548 on the thread runs on Amp's server (see docs/conformance.md).
AMP_PINNED="${BATON_AMP_VERSION:-0.0.1777897475-g2324e1}"
AMP_NEWEST="0.0.1790142911-g7618fb"
AMP_OLDER="0.0.1784106548-gd81d8b 0.0.1775981571-g834e73 0.0.1767830505-ga62310"
CACHE="${BATON_AGENTS_CACHE:-$HOME/.cache/baton/agents}"

mode="ci"
amp=0
for arg in "$@"; do
    case "$arg" in
    --matrix) mode="matrix" amp=1 ;;
    --latest) mode="latest" ;;
    --amp) amp=1 ;;
    -h | --help)
        sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install-real-agents: unknown argument '$arg' (try --help)" >&2
        exit 2
        ;;
    esac
done

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

# install_one PACKAGE VERSION DIR BINARY: prints the binary path, or fails.
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

# A native binary lives in a platform package (e.g. @anthropic-ai/claude-code-linux-x64), or in
# a vendor folder per platform (older Codex): this machine's own is preferred. A JavaScript CLI
# (older Claude Code, Gemini CLI) is its `.bin` link, run by node.
find_bin() {
    local dir="$1" bin="$2" native arch
    [ -d "$dir/node_modules" ] || return 0
    arch="$(uname -m)"
    native="$(find "$dir/node_modules" -type f -name "$bin" -perm -u+x 2>/dev/null |
        grep -v '/\.bin/' | grep -E -v '\.(js|cjs|mjs)$' |
        grep -E -v 'darwin|windows|apple' |
        awk -v a="$arch" '{ print (index($0, a) > 0 || index($0, "x64") > 0 && a == "x86_64" ? 0 : 1) "\t" $0 }' |
        sort -s -k1,1n | cut -f2- | head -n 1)"
    if [ -n "$native" ]; then
        echo "$native"
    elif [ -e "$dir/node_modules/.bin/$bin" ]; then
        echo "$dir/node_modules/.bin/$bin"
    fi
}

# versions_of PINNED NEWEST OLDER PACKAGE: the versions this mode installs, pinned first.
versions_of() {
    local pinned="$1" newest="$2" older="$3" pkg="$4" latest
    case "$mode" in
    ci) echo "$pinned" "$newest" ;;
    matrix) echo "$pinned" "$newest" "$older" ;;
    latest)
        latest="$(timeout 60 npm view "$pkg" version 2>/dev/null)"
        if [ -z "$latest" ]; then
            loud "could not ask the registry for the latest $pkg"
            latest="$newest"
        fi
        echo "$pinned" "$latest"
        ;;
    esac
}

mkdir -p "$CACHE"
status=0

# cli VAR PACKAGE DIRNAME BINARY VERSIONS…: installs each version, prints VAR=path:path.
cli() {
    local var="$1" pkg="$2" name="$3" bin="$4" paths="" seen=" " v path out
    shift 4
    for v in "$@"; do
        [ -n "$v" ] || continue
        case "$seen" in *" $v "*) continue ;; esac
        seen="$seen$v "
        if path="$(install_one "$pkg" "$v" "$CACHE/$name-$v" "$bin")" &&
            out="$(timeout 60 "$path" --version 2>/dev/null)"; then
            echo "== $bin $v: $path ($out)" >&2
            paths="${paths:+$paths:}$path"
        else
            loud "could not install or run $pkg@$v"
            status=1
        fi
    done
    [ -z "$paths" ] || echo "$var=$paths"
}

# shellcheck disable=SC2046 # word splitting of the version lists is wanted
cli BATON_REAL_CLAUDE @anthropic-ai/claude-code claude-code claude \
    $(versions_of "$CLAUDE_PINNED" "$CLAUDE_NEWEST" "$CLAUDE_OLDER" @anthropic-ai/claude-code)
# shellcheck disable=SC2046
cli BATON_REAL_CODEX @openai/codex codex codex \
    $(versions_of "$CODEX_PINNED" "$CODEX_NEWEST" "$CODEX_OLDER" @openai/codex)
# shellcheck disable=SC2046
cli BATON_REAL_GEMINI @google/gemini-cli gemini-cli gemini \
    $(versions_of "$GEMINI_PINNED" "$GEMINI_PINNED" "$GEMINI_OLDER" @google/gemini-cli)
# shellcheck disable=SC2046
cli BATON_REAL_OPENCODE opencode-ai opencode-ai opencode \
    $(versions_of "$OPENCODE_PINNED" "$OPENCODE_PINNED" "" opencode-ai)
if [ "$amp" = 1 ]; then
    # shellcheck disable=SC2046
    cli BATON_REAL_AMP @sourcegraph/amp amp amp \
        $(versions_of "$AMP_PINNED" "$AMP_NEWEST" "$AMP_OLDER" @sourcegraph/amp)
fi

exit "$status"
