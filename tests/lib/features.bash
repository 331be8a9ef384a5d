# shellcheck shell=bash
# tests/lib/features.bash - has_feature, sourced by tests/lib/common.sh and
# tests/loop/lib.bash.
#
# has_feature NAME: does `ublk features` say "NAME yes" (a kernel feature
# the daemon detected)?  `ublk features` runs once per test (a program start
# costs 0.2-0.5 s in the test VM) and is matched with bash, never piped into
# grep -q (SIGPIPE under pipefail).
_FEATURES=
has_feature() {
	[ -n "$_FEATURES" ] || _FEATURES=$(ublk features 2>/dev/null) || _FEATURES=
	[[ $'\n'$_FEATURES =~ $'\n'[[:space:]]*$1[[:space:]]+yes ]]
}
