#!/usr/bin/env bash
# The man pages keep up with the code.  Fails, listing what is missing, unless:
#   ublkd(8) OPTIONS names every option of ublkd's option table
#     (ublkd/option-table.c, as `ublkd --list-options` prints it), long and
#     short, and its tags name no other;
#   ublkd.conf(5) GENERIC KEYS names every config key of the table, each
#     tag with the key's type and range or choices, and no other key;
#   ublk(8) has a subsection per command of `ublk help` ("ublk add", ...), each
#     naming the command's options (from the help text and from the command's
#     option table in ublkd/cli.c); "ublk add" names every ublkd option it
#     passes on (all but --ready-fd, from the table too);
#   ublk(8) names the fields of `list --json` (ublk list), of `features --json`
#     (ublk features) and of the state file (FILES), and every ublk feature of
#     lib/ublk-features.c with its first kernel ("NAME (Linux X.Y)");
#   ublkd-target(3), outside its code listings, names every function, macro,
#     enum constant and struct member of include/ublkd/target.h;
#   each target plugin with options has its page man/ublkd-TARGET.8 naming them;
#   every environment variable the programs read is in some page;
#   ublk(8), ublkd(8) and ublkd-target(3) lint clean (mandoc -T lint -W warning,
#     else groff -ww), the other pages of man/ without errors.
# timeout: 120
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_cmd perl

src=$UBLKD_SRCDIR
build=$UBLKD_BUILDDIR
man=$src/man
ublkd=$build/ublkd/ublkd
ublk=$build/ublkd/ublk
plugins=$build/plugins
for f in "$ublkd" "$ublk"; do
	[ -x "$f" ] || fail "$f is not built (run make first)"
done
for p in ublk.8 ublkd.8 ublkd-target.3; do
	[ -f "$man/$p" ] || fail "$man/$p is missing"
done

missing=0 checked=0
miss() {
	echo "MISSING: $*"
	missing=$((missing + 1))
}

# plain FILE: the page's roff source with escapes resolved (\- -> -, fonts
# dropped, ...), macro lines kept as they are.
plain() {
	perl -pe '
		s/\\f(\[[^]]*\]|\(..|.)//g;
		s/\\\((aq)/\x27/g; s/\\\((ga)/`/g; s/\\\((lq|rq|dq)/"/g;
		s/\\\((ti)/~/g; s/\\\((ha)/^/g; s/\\\((mu)/x/g; s/\\\(\w\w//g;
		s/\\-/-/g; s/\\[&|%:c]//g; s/\\e/\\/g;
	' "$1"
}

# section FILE MACRO TITLE: the plain lines of the section or subsection
# (MACRO SH or SS) whose title starts with TITLE, up to the next one;
# macro names and quotes stripped.  With TITLE "", the whole page.
section() {
	plain "$1" | awk -v mac="$2" -v title="$3" '
		function strip(l) {
			if (l ~ /^\.[A-Za-z]+/) { sub(/^\.[A-Za-z]+[ \t]*/, "", l); gsub(/"/, "", l) }
			return l
		}
		title == "" { print strip($0); next }
		/^\.(SH|SS)[ \t]/ {
			t = $0; sub(/^\.(SH|SS)[ \t]+/, "", t); gsub(/"/, "", t)
			if (on && ($1 == ".SH" || mac == "SS")) on = 0
			if ($1 == "." mac && index(t, title) == 1) on = 1
		}
		on { print strip($0) }'
}

# without_code: drop .EX/.EE blocks (code listings) from a plain page.
without_code() {
	awk '/^\.EX/ { code = 1; next } /^\.EE/ { code = 0; next } !code'
}

# has TEXT WORD: does WORD occur in TEXT as a whole word (options: "--x",
# "-x"; names: "ublkd_complete")?
has() {
	local re
	re=$(printf '%s' "$2" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
	grep -Eq -- "(^|[^A-Za-z0-9_-])$re(\$|[^A-Za-z0-9_])" <<<"$1"
}

# need TEXT WHERE WORD...: each WORD (without blanks) must be in TEXT.
need() {
	local text=$1 where=$2 w
	shift 2
	for w in $(printf '%s\n' "$@" | sort -u); do
		checked=$((checked + 1))
		has "$text" "$w" || miss "$w in $where"
	done
}

# ---------------------------------------------------------------- the option table
# ublkd's own options come from one table (ublkd/option-table.c), which
# `ublkd --list-options` prints: "cli SPELLING [add]" per command-line
# spelling, "key NAME TYPE [MIN MAX | CHOICE...]" per config-file key.
list=$("$ublkd" --list-options) || fail "ublkd --list-options failed"
mapfile -t table_cli < <(awk '$1 == "cli" { print $2 }' <<<"$list")
mapfile -t table_add < <(awk '$1 == "cli" && $3 == "add" { print $2 }' <<<"$list")
mapfile -t keys < <(awk '$1 == "key" { print $2 }' <<<"$list")
if [ ${#table_cli[@]} -lt 20 ] || [ ${#keys[@]} -lt 10 ]; then
	fail "cannot read 'ublkd --list-options': $list"
fi

# tags FILE SECTION: the tag lines (the line after each .TP) of a section,
# plain, macro names and quotes stripped.
tags() {
	plain "$1" | awk -v title="$2" '
		/^\.SH[ \t]/ { t = $0; sub(/^\.SH[ \t]+/, "", t); gsub(/"/, "", t); on = index(t, title) == 1; next }
		on && /^\.TP/ { tag = 1; next }
		on && tag { sub(/^\.[A-Za-z]+[ \t]*/, ""); gsub(/"/, ""); print; tag = 0 }'
}
# in_list WORD LIST...: is WORD one of LIST?
in_list() {
	local w=$1 x
	shift
	for x in "$@"; do [ "$x" = "$w" ] && return 0; done
	return 1
}

# ---------------------------------------------------------------- ublkd.conf(5)
# Each key of the table in GENERIC KEYS, its tag giving its type (and its
# range or its choices); and no key there that the table does not have.
conf_tags=$(tags "$man/ublkd.conf.5" "GENERIC KEYS")
[ -n "$conf_tags" ] || fail "ublkd.conf.5 has no GENERIC KEYS section"
need "$(section "$man/ublkd.conf.5" SH "GENERIC KEYS")" "ublkd.conf(5) GENERIC KEYS" "${keys[@]}"
while read -r _ key type rest; do
	tag=$(awk -v k="$key" '$1 == k' <<<"$conf_tags")
	[ -n "$tag" ] || continue	# reported by need above
	# the type and the range as written; the choices as words
	texts=("$type") words=()
	case $type in
	integer) read -r min max <<<"$rest" && texts+=("$min to $max") ;;
	*) read -ra words <<<"$rest" ;;
	esac
	for w in "${texts[@]}"; do
		checked=$((checked + 1))
		[[ $tag == *"$w"* ]] || miss "'$w' in the tag of key $key in ublkd.conf(5) GENERIC KEYS ($tag)"
	done
	for w in "${words[@]}"; do
		checked=$((checked + 1))
		has "$tag" "$w" || miss "'$w' in the tag of key $key in ublkd.conf(5) GENERIC KEYS ($tag)"
	done
done < <(grep '^key ' <<<"$list")
while read -r key _; do
	checked=$((checked + 1))
	in_list "$key" "${keys[@]}" || miss "key '$key' of ublkd.conf(5) GENERIC KEYS in the option table (ublkd/option-table.c)"
done <<<"$conf_tags"

# ---------------------------------------------------------------- ublkd(8)
# Every spelling of the table in OPTIONS; and no option in its tags that
# the table does not have.
opts=$(section "$man/ublkd.8" SH OPTIONS)
[ -n "$opts" ] || fail "ublkd.8 has no OPTIONS section"
need "$opts" "ublkd(8) OPTIONS" "${table_cli[@]}"
while read -r o; do
	checked=$((checked + 1))
	in_list "$o" "${table_cli[@]}" || miss "option $o of ublkd(8) OPTIONS in the option table (ublkd/option-table.c)"
done < <(tags "$man/ublkd.8" OPTIONS | grep -oE '(^|[ ,|])--?[A-Za-z][A-Za-z0-9_-]*' | sed 's/^[ ,|]//' | sort -u)

# ---------------------------------------------------------------- ublk(8)
uhelp=$("$ublk" help)
# Commands: "  add -t TYPE ..." (continued on lines indented deeper),
# "  --version"; each command's options from its synopsis.
declare -A cmd_opts=()
cmds=()
while IFS= read -r line; do
	if [[ $line =~ ^\ \ ([a-z]+|--[a-z]+)(\ |$) ]]; then
		cmd=${BASH_REMATCH[1]}
		cmds+=("$cmd")
		rest=${line#  "$cmd"}
	elif [[ $line =~ ^\ {4,} ]] && [ ${#cmds[@]} -gt 0 ]; then
		rest=$line
	else
		continue
	fi
	while read -r o; do
		cmd_opts[$cmd]+=" $o"
	done < <(grep -oE '(^|[][ |])--?[A-Za-z][A-Za-z0-9_-]*' <<<"$rest" | sed 's/^[][ |]//')
done <<<"$uhelp"
[ ${#cmds[@]} -ge 5 ] || fail "cannot read the commands of 'ublk help': $uhelp"
# The option tables and getopt strings of cli.c, per cmd_NAME function.
while read -r cmd o; do
	cmd_opts[$cmd]+=" $o"
done < <(awk '
	/^(static )?int cmd_[a-z]+\(/ { c = $0; sub(/^.*int cmd_/, "", c); sub(/\(.*/, "", c) }
	/^}/ { c = "" }
	c != "" && match($0, /\{ *"[a-z0-9_-]+", *(no|required|optional)_argument/) {
		s = substr($0, RSTART, RLENGTH); sub(/^\{ *"/, "", s); sub(/".*/, "", s)
		print c, "--" s
	}
	c != "" && match($0, /getopt(_long)?\(argc, argv, "[^"]+"/) {
		s = substr($0, RSTART, RLENGTH); sub(/.*argv, "/, "", s); sub(/"$/, "", s)
		gsub(/[+:]/, "", s)
		for (i = 1; i <= length(s); i++) print c, "-" substr(s, i, 1)
	}' "$src/ublkd/cli.c" "$src/ublkd/cli-stat.c")
# `ublk add` passes every ublkd option on but --ready-fd, which it sets
# (the table's "add" mark).
for o in "${table_add[@]}"; do
	cmd_opts[add]+=" $o"
done

for cmd in "${cmds[@]}"; do
	text=$(section "$man/ublk.8" SS "ublk $cmd")
	checked=$((checked + 1))
	if [ -z "$text" ]; then
		miss "subsection 'ublk $cmd' in ublk(8) COMMANDS"
		continue
	fi
	# shellcheck disable=SC2046 # a list of words
	need "$text" "ublk(8) 'ublk $cmd'" $(tr ' ' '\n' <<<"${cmd_opts[$cmd]:-}" | sort -u)
	has "$(section "$man/ublk.8" SH SYNOPSIS)" "$cmd" ||
		miss "ublk $cmd in ublk(8) SYNOPSIS"
done
for f in "${!cmd_opts[@]}"; do
	[[ " ${cmds[*]} " == *" $f "* ]] || miss "command '$f' (cli.c) in 'ublk help'"
done

# JSON fields: of list_json() and cmd_features() in cli.c; and the settings
# of the state file (device_write_runstate() in device.c, libconfig).
json_keys() { # FILE FUNCTION
	awk -v fn="$2" '
		$0 ~ "^[a-z].*[ *]" fn "\\(" { on = 1 }
		on && /^}/ { on = 0 }
		on { print }' "$1" |
		grep -oE '(json_[a-z_]+\(&?j|runstate_add_[a-z]+\(r), "[a-z_]+"|^[[:space:]]*"[a-z_]+",( "[a-z_]+",)*' |
		grep -oE '"[a-z_]+"' | tr -d '"' | sort -u
}
mapfile -t k < <(json_keys "$src/ublkd/cli.c" list_json)
[ ${#k[@]} -ge 15 ] || fail "cannot read the fields of list_json() in ublkd/cli.c"
need "$(section "$man/ublk.8" SS "ublk list")" "ublk(8) 'ublk list'" "${k[@]}"
k=()
for fn in json_report json_rates json_totals; do
	mapfile -t -O ${#k[@]} k < <(json_keys "$src/ublkd/cli-stat.c" $fn)
done
[ ${#k[@]} -ge 25 ] || fail "cannot read the fields of ublk stat --json in ublkd/cli-stat.c"
need "$(section "$man/ublk.8" SS "ublk stat")" "ublk(8) 'ublk stat'" "${k[@]}"
mapfile -t k < <(grep -oE '"ublkd_[a-z_]+' "$src/lib/metrics.c" | tr -d '"' | sort -u)
[ ${#k[@]} -ge 10 ] || fail "cannot read the metric names of lib/metrics.c"
need "$(section "$man/ublk.8" SS "ublk stat")" "ublk(8) 'ublk stat' (metrics)" "${k[@]}"
mapfile -t k < <(json_keys "$src/ublkd/cli.c" cmd_features)
[ ${#k[@]} -ge 3 ] || fail "cannot read the fields of cmd_features() in ublkd/cli.c"
need "$(section "$man/ublk.8" SS "ublk features")" "ublk(8) 'ublk features'" "${k[@]}"
mapfile -t k < <(json_keys "$src/ublkd/device.c" device_write_runstate)
[ ${#k[@]} -ge 10 ] || fail "cannot read the fields of device_write_runstate() in ublkd/device.c"
need "$(section "$man/ublk.8" SH FILES)" "ublk(8) FILES (the state file)" "${k[@]}"

# Features with their first kernel, as in lib/ublk-features.c.
feat=$(section "$man/ublk.8" SS "ublk features")
n=0
while read -r name since; do
	n=$((n + 1))
	checked=$((checked + 1))
	grep -Eq "(^|[^A-Z_])${name}[^A-Z_].*Linux $since\\b" <<<"$feat" ||
		miss "feature $name (Linux $since) in ublk(8) 'ublk features'"
done < <(sed -nE 's/^[[:space:]]*\{ *[0-9]+, *"([A-Z0-9_]+)", *"([0-9.]+)".*/\1 \2/p' \
	"$src/lib/ublk-features.c")
[ $n -ge 10 ] || fail "cannot read lib/ublk-features.c"

# ---------------------------------------------------------------- ublkd-target(3)
hdr=$src/include/ublkd/target.h
api=$(section "$man/ublkd-target.3" SH "" | without_code)
mapfile -t names < <(
	{
		sed -nE 's/^#define (UBLKD_[A-Z0-9_]+).*/\1/p' "$hdr"
		sed -nE 's/^[[:space:]]+(UBLKD_[A-Z0-9_]+)[[:space:]]*=.*/\1/p' "$hdr"
		grep -v '^[[:space:]]*/\?\*' "$hdr" | grep -oE '\bublkd_[a-z_]+\(' | tr -d '('
		# members of the structs, function pointers included
		awk '/^struct ublkd_[a-z_]+ \{/ { on = 1; next } on && /^\};/ { on = 0 }
			on { sub(/\/\*.*/, ""); if ($0 ~ /;/) print }' "$hdr" |
			sed -nE 's/.*\(\*([a-z_]+)\)\(.*/\1/p; t; s/.*[ *]([a-z_]+);.*/\1/p'
	} | grep -vx 'UBLKD_TARGET_H' | sort -u)
[ ${#names[@]} -ge 60 ] || fail "cannot read the names of $hdr (${#names[@]})"
need "$api" "ublkd-target(3) (outside code listings)" "${names[@]}"

# ---------------------------------------------------------------- targets
for so in "$plugins"/*.so; do
	[ -e "$so" ] || fail "no plugins in $plugins (run make first)"
	t=$(basename "$so" .so)
	th=$(UBLKD_PLUGIN_DIR=$plugins "$ublkd" -t "$t" --help) || fail "ublkd -t $t --help failed"
	mapfile -t topts < <(sed -n "/^Target $t:/,/^Zero copy/p" <<<"$th" |
		sed -nE 's/^ +(-[A-Za-z], )?(--[a-z0-9_-]+).*/\2/p')
	[ ${#topts[@]} -gt 0 ] || continue
	page=$man/ublkd-$t.8
	if [ ! -f "$page" ]; then
		miss "man/ublkd-$t.8 (target $t has options: ${topts[*]})"
		continue
	fi
	need "$(section "$page" SH "")" "ublkd-$t(8)" "${topts[@]}"
done

# ---------------------------------------------------------------- environment
all=$(for p in "$man"/*.[0-9]; do section "$p" SH ""; done)
mapfile -t envs < <(grep -ohE 'getenv\("[A-Z_]+"\)' "$src"/ublkd/*.c "$src"/lib/*.c |
	sed -E 's/getenv\("(.*)"\)/\1/' | sort -u)
need "$all" "a man page" "${envs[@]}"

# ---------------------------------------------------------------- lint
# ublk(8), ublkd(8) and ublkd-target(3) must lint without warnings; the
# other pages at least without errors.
lint=""
for p in "$man"/*.[0-9]; do
	level=error
	case ${p##*/} in ublk.8 | ublkd.8 | ublkd-target.3) level=warning ;; esac
	if command -v mandoc >/dev/null; then
		out=$(mandoc -T lint -W "$level" "$p" 2>&1) || true
	elif command -v groff >/dev/null; then
		if [ $level = warning ]; then
			out=$(groff -man -ww -z "$p" 2>&1) || true
		else
			out=$(groff -man -z "$p" 2>&1) || true
		fi
	else
		echo "note: neither mandoc nor groff is installed: pages not linted"
		break
	fi
	checked=$((checked + 1))
	[ -z "$out" ] || { miss "a clean lint of $p:"; echo "$out"; }
	lint=yes
done
[ -z "$lint" ] || echo "linted with $(command -v mandoc || command -v groff)"

echo "$checked items checked, $missing missing"
[ $missing = 0 ] || fail "the man pages lag behind the code (see MISSING above)"
echo "ok: the man pages cover the code"
