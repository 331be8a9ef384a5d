#!/bin/bash
# kill -9 of the daemon (no recovery asked): the block device goes away,
# `ublk list` says the device has no daemon, and `ublk del` removes it.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

dev=$(ublk add -t null -s 1G --recovery off) || fail "add failed"
id=${dev#/dev/ublkb}
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
kill -9 "$pid"
for _ in $(seq 100); do [ -e "$dev" ] || break; sleep 0.1; done
[ ! -e "$dev" ] || fail "$dev still present 10 s after the daemon died"
json=$(ublk list -n "$id" --json)
[ "$(jq -r '.[0].daemon_running' <<<"$json")" = false ] || fail "list claims a daemon: $json"
[ "$(jq -r '.[0].state' <<<"$json")" = dead ] || fail "state not dead: $json"
ublk list | grep -q "/dev/ublkb$id: .*daemon none" && ublk list | grep -q "daemon pid -1 .*state DEAD" ||
	fail "text list not truthful: $(ublk list)"
ublk del -n "$id" || fail "del of a dead device failed"
[ -z "$(ublk list)" ] || fail "device left: $(ublk list)"
[ ! -e /run/ublkd/$id.state ] || fail "state file left"
