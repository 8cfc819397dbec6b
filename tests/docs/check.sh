#!/usr/bin/env bash
# Checks what `vroot generate-docs` writes for the package: a man page for
# vroot and for every subcommand `vroot help` lists, nested ones too, that
# man renders without warnings and that carries the command's help text;
# vroot.toml(5) with the config keys; completion scripts that load (bash)
# and parse (zsh, fish: only when those shells are installed).
#
#   bash tests/docs/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in man groff; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "installing man-db groff-base"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq man-db groff-base >/dev/null
        break
    fi
done

cargo build --quiet -p vroot
vroot="${CARGO_TARGET_DIR:-target}/debug/vroot"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$vroot" generate-docs --out "$out" >/dev/null

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# One very long line per paragraph: no wrapping, so no hyphenation or
# justification between the words a check looks for.
render() {
    local warnings
    warnings=$(MANWIDTH=1000 man --warnings "$@" 2>&1 >/dev/null) || return 1
    [ -z "$warnings" ] || { echo "$warnings" >&2; return 1; }
    MANWIDTH=1000 man "$@" | tr -s ' '
}

# The subcommands `vroot ARGS… --help` lists (clap's "Commands:" block).
subcommands() {
    "$vroot" "$@" --help | awk '/^Commands:/ {listing = 1; next} listing && /^  [a-z]/ {print $1} listing && /^$/ {exit}' |
        grep -vx help || true
}

# Each page: it exists, man finds it by name below $out/man, it renders
# without warnings, and it carries the first line of the command's --help.
check_page() {
    local page="$1"
    shift
    local file="$out/man/man1/$page.1"
    [ -f "$file" ] || { fail "no $page.1"; return; }
    local text about
    text=$(render -M "$out/man" "$page") || { fail "man $page does not render cleanly"; return; }
    about=$("$vroot" "$@" --help | head -n 1 | tr -s ' ')
    grep -qF -- "$about" <<<"$text" || fail "man $page lacks its help text: $about"
    grep -q '^SEE ALSO' <<<"$text" || fail "man $page has no SEE ALSO"
    grep -qF 'vroot.toml(5)' <<<"$text" || fail "man $page does not name vroot.toml(5)"
}

pages=0
check_tree() {
    local page="$1"
    shift
    check_page "$page" "$@"
    pages=$((pages + 1))
    local sub
    for sub in $(subcommands "$@"); do
        check_tree "$page-$sub" "$@" "$sub"
    done
}
check_tree vroot
for hidden in fence-agent ocf-agent generate-docs; do
    [ ! -e "$out/man/man1/vroot-$hidden.1" ] || fail "hidden $hidden has a page"
done
# The acceptance's examples, by name as `man` finds them once installed.
[ -f "$out/man/man1/vroot-start.1" ] || fail "no vroot-start.1"
[ -f "$out/man/man1/vroot-storage-mount.1" ] || fail "no vroot-storage-mount.1"
found=$(find "$out/man/man1" -name '*.1' | wc -l)
[ "$found" -eq "$pages" ] || fail "$found pages in man1, $pages commands"

config=$(render -M "$out/man" 5 vroot.toml) || fail "man 5 vroot.toml does not render cleanly"
for word in stop_timeout userns_base hang_timeout '[[network.interface]]' '[[overlay.path]]' \
    '[storage]' probe_timeout 'vroot-start(1)'; do
    grep -qF -- "$word" <<<"$config" || fail "vroot.toml(5) does not mention $word"
done

completions="$out/completions"
bash -c "source '$completions/vroot.bash' && complete -p vroot" >/dev/null ||
    fail "the bash completion does not load"
offered=$(bash -c "source '$completions/vroot.bash'
    COMP_WORDS=(vroot sto); COMP_CWORD=1; _vroot vroot sto vroot; echo \"\${COMPREPLY[*]}\"") || true
[ "$offered" = "stop storage" ] || fail "bash completes 'vroot sto' to '$offered', not 'stop storage'"
if command -v zsh >/dev/null 2>&1; then
    zsh -n "$completions/_vroot" || fail "the zsh completion does not parse"
else
    echo "(zsh not installed: its completion is not checked)"
fi
if command -v fish >/dev/null 2>&1; then
    fish --no-execute "$completions/vroot.fish" || fail "the fish completion does not parse"
else
    echo "(fish not installed: its completion is not checked)"
fi

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "man pages and completions: $pages command pages, vroot.toml(5), bash/zsh/fish completions OK"
