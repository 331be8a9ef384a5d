#!/bin/bash
# Device names (--name, name = "..."; ublkd NAME's default): a bad name is
# refused with one line (command line, config file); `ublk list` (text and
# --json) and `ublk udev-name` show a device's name; a second device with a
# taken name is refused, naming the holder, by `ublk add`, `ublkd` (exit 78)
# and `--check`; of two adds of one name started at once exactly one gets it;
# a device waiting for recovery keeps its name (a new one is refused), and
# recovers with it; deleting a device frees its name; `ublkd NAME` names its
# device NAME, and warns (no name) where NAME cannot be one; no lock file of
# a name is left in /run/ublkd once the devices are gone.
# timeout: 240
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
require_cmd jq

kill_daemon() { # ID: kill -9 its ublkd, wait until it is gone
	local pid
	pid=$(json_field "$1" pid)
	kill -9 "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
name_of() { json_field "$1" name; }

# ---- bad names: one line, the cause and the rule, non-zero exit
bad='invalid value .* for --name: expected a name of 1 to 64 characters A-Z a-z 0-9'
expect_fail 1 "$bad.*\\(it has a character other than" ublk add -t null -s 16M --name 'a/b'
expect_fail 1 "$bad.*\\(it is empty\\)" ublk add -t null -s 16M --name ''
expect_fail 1 "$bad.*\\('\\.' and '\\.\\.' name directories\\)" ublk add -t null -s 16M --name ..
expect_fail 1 "$bad.*\\(it starts with '-'\\)" ublk add -t null -s 16M --name=-x
expect_fail 1 "$bad.*\\(it is longer than 64 characters\\)" \
	ublk add -t null -s 16M --name "$(printf 'n%.0s' {1..65})"
f=$(conf badname <<'EOF'
target = "null";
size = "16M";
name = "two words";
EOF
)
expect_fail 78 "badname.conf:3: key 'name': invalid value 'two words'; expected a name" \
	ublkd --config "$f"
[ "$(ublk list --json | jq length)" = 0 ] || fail "a refused name left a device: $(ublk list)"

# ---- a named device: list, list --json, udev-name
dev=$(ublk add -t null -s 16M --name alpha.1) || fail "ublk add --name alpha.1 failed"
id=${dev#/dev/ublkb}
[ "$(name_of "$id")" = alpha.1 ] || fail "list --json name: $(ublk list -n "$id" --json)"
ublk list -n "$id" | grep -q "^	$dev: size 16 MiB, target null, copy_mode copy, daemon running, name alpha.1\$" ||
	fail "ublk list does not show the name: $(ublk list -n "$id")"
[ "$(ublk udev-name "ublkb$id")" = "UBLK_ID=$id
UBLK_NAME=alpha.1" ] || fail "udev-name: $(ublk udev-name "ublkb$id")"
grep -q 'name = "alpha.1"' "/run/ublkd/$id.conf" || fail "the recovery record has no name: $(cat "/run/ublkd/$id.conf")"
other=$(ublk add -t null -s 16M) || fail "ublk add without a name failed"
oid=${other#/dev/ublkb}
[ "$(name_of "$oid")" = null ] || fail "an unnamed device's name is $(name_of "$oid"), want null"
[ "$(ublk udev-name "ublkb$oid")" = "UBLK_ID=$oid" ] || fail "udev-name of an unnamed device: $(ublk udev-name "ublkb$oid")"
echo "ok: list, list --json, udev-name show the name (null and no UBLK_NAME without one)"

# ---- taken: ublk add, ublkd, --check
taken="the name 'alpha.1' is taken by $dev \\(ublkd pid [0-9]+\\): pick another name, or delete that device first \\('ublk del -n $id'\\)"
expect_fail 1 "$taken" ublk add -t null -s 16M --name alpha.1
expect_fail 78 "$taken" ublkd -t null -s 16M --name alpha.1
expect_fail 78 "$taken" ublkd -t null -s 16M --name alpha.1 --check
[ "$(ublk list --json | jq length)" = 2 ] || fail "a refused add left a device: $(ublk list)"

# ---- two adds of one name at once: exactly one gets it
for round in 1 2 3; do
	ublk add -t null -s 16M --name race >"$TMPDIR/r1" 2>"$TMPDIR/e1" & p1=$!
	ublk add -t null -s 16M --name race >"$TMPDIR/r2" 2>"$TMPDIR/e2" & p2=$!
	r1=0 r2=0
	wait $p1 || r1=$?
	wait $p2 || r2=$?
	[ $((r1 == 0)) != $((r2 == 0)) ] ||
		fail "round $round: both or neither got the name (exit $r1, $r2): $(cat "$TMPDIR/e1" "$TMPDIR/e2")"
	won=$(cat "$TMPDIR/r1" "$TMPDIR/r2")
	grep -q "the name 'race' is taken by" "$TMPDIR/e1" "$TMPDIR/e2" ||
		fail "round $round: the loser said: $(cat "$TMPDIR/e1" "$TMPDIR/e2")"
	ublk del -n "${won#/dev/ublkb}" || fail "round $round: del $won"
done
echo "ok: 3 rounds of two simultaneous adds of one name: one device each time"

# ---- a device waiting for recovery keeps its name; recovered, it has it
kill_daemon "$id"
kept="the name 'alpha.1' is kept by $dev, which waits for recovery after its daemon died: recover it \\('ublk recover -n $id'\\), delete it \\('ublk del -n $id'\\), or pick another name"
expect_fail 1 "$kept" ublk add -t null -s 16M --name alpha.1
ublk list -n "$id" | grep -q "daemon none, name alpha.1\$" || fail "list of the waiting device: $(ublk list -n "$id")"
ublk recover -n "$id" >/dev/null || fail "ublk recover -n $id failed"
[ "$(name_of "$id")" = alpha.1 ] && [ "$(json_field "$id" daemon_running)" = true ] ||
	fail "after recovery: $(ublk list -n "$id" --json)"
expect_fail 1 "$taken" ublk add -t null -s 16M --name alpha.1
echo "ok: the waiting device keeps its name; the recovered one has it and holds it"

# ---- deleting frees the name; a dead device with --recovery=off holds none
ublk del -n "$id" || fail "del $id"
dev=$(ublk add -t null -s 16M --name alpha.1 --recovery off) || fail "alpha.1 not free after del"
id=${dev#/dev/ublkb}
kill -9 "$(json_field "$id" pid)"
for _ in $(seq 100); do [ -e "$dev" ] || break; sleep 0.1; done
[ ! -e "$dev" ] || fail "$dev still present 10 s after its --recovery=off daemon died"
dev2=$(ublk add -t null -s 16M --name alpha.1) || fail "alpha.1 not free after its --recovery=off device died"
ublk del -n "${dev2#/dev/ublkb}" -n "$id" -n "$oid" || fail "del"
echo "ok: del frees the name; so does the end of a --recovery=off device"

# ---- ublkd NAME: the name is NAME, unless the file says otherwise
conf disk-7 <<'EOF' >/dev/null
target = "null";
size = "16M";
EOF
ublkd_start disk-7
[ "$(name_of "$ID")" = disk-7 ] || fail "ublkd disk-7 named its device $(name_of "$ID")"
ublkd_stop
printf 'target = "null";\nsize = "16M";\nname = "other";\n' >"$CONFDIR/renamed.conf"
ublkd_start renamed
[ "$(name_of "$ID")" = other ] || fail "name = \"other\" in renamed.conf gave $(name_of "$ID")"
ublkd_stop
printf 'target = "null";\nsize = "16M";\n' >"$CONFDIR/a@b.conf"
ublkd_start a@b
[ "$(name_of "$ID")" = null ] || fail "ublkd a@b named its device $(name_of "$ID")"
grep -q "'a@b' is not a device name (it has a character other than A-Z a-z 0-9 . _ -): the device of .*a@b.conf has none" \
	"$TMPDIR/ublkd.$_ublkd_n.err" || fail "no warning for a@b: $(cat "$TMPDIR/ublkd.$_ublkd_n.err")"
ublkd_stop
echo "ok: ublkd NAME names the device NAME; name = in the file wins; a@b: a warning, no name"
[ -z "$(ublk list)" ] || fail "devices left: $(ublk list)"
[ ! -e /run/ublkd/names ] || fail "name locks left: $(ls -la /run/ublkd/names)"
echo "ok: no name lock left in /run/ublkd"
