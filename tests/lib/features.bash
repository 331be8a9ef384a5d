# shellcheck shell=bash
# tests/lib/features.bash - has_feature and data_modes, sourced by tests/lib/common.sh and
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

# data_modes: every data mode this kernel has, as ublk add options, one per
# line (copy, user copy, then each zero-copy mechanism but the fused one):
#   mapfile -t modes <<<"$(data_modes)"   (the test VM has no /dev/fd for <(...))
data_modes() {
	echo "--copy"
	echo "--user-copy"
	if has_feature AUTO_BUF_REG; then echo "--zero-copy --zc-mechanism auto"; fi
	if has_feature SUPPORT_ZERO_COPY; then echo "--zero-copy --zc-mechanism register"; fi
}
