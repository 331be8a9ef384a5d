#!/bin/bash
# timeout: 200
# Bad input: each mistake gives one line naming the cause and the fix, a
# non-zero exit status, and leaves no device and no daemon behind.
# kernels: first
. "$(dirname "$0")/lib.bash"
need setpriv

MiB=$((1 << 20))
truncate -s 32M "$W/ok.img"
: >"$W/empty.img"
head -c 100 /dev/zero >"$W/tiny.img"
truncate -s $((32 * MiB + 256)) "$W/odd.img"

add() { ublk add -t loop "$@"; }
expect_refusal "no -f" 'target loop needs -f/--file PATH: add it \(in a config file: file = ...;\)' add
expect_refusal "missing file" "$W/nope.img does not exist: create it first" add -f "$W/nope.img"
expect_refusal "directory" "$W is a directory: -f needs a regular file or a block device" add -f "$W"
expect_refusal "character device" '/dev/null is not a regular file or a block device' add -f /dev/null
expect_refusal "empty file" "$W/empty.img is empty: give it a size first" add -f "$W/empty.img"
expect_refusal "100-byte file" "$W/tiny.img has only 100 bytes: a backing needs at least 512" \
	add -f "$W/tiny.img"
expect_refusal "offset past the end" "--offset 33554432 is at or past the end of $W/ok.img \\(33554432 bytes\\): give an offset below" \
	add -f "$W/ok.img" --offset 32M
expect_refusal "offset leaves < 512 bytes" "has only 256 bytes after --offset" \
	add -f "$W/odd.img" --offset 32M
expect_refusal "offset not a multiple of 512" "invalid value '1000' for (-o/)?--offset: expected .*multiple of 512" \
	add -f "$W/ok.img" --offset 1000
expect_refusal "offset not a number" "invalid value '12Q' for -o/--offset" add -f "$W/ok.img" --offset 12Q
expect_refusal "-s larger than the file" "-s 67108864 is larger than $W/ok.img .*give -s at most 33554432" \
	add -f "$W/ok.img" -s 64M
expect_refusal "-s larger than the window after --offset" "-s 33554432 is larger than .*after --offset.*at most 32505856" \
	add -f "$W/ok.img" --offset 1M -s 32M

# A read-only file without --read-only: on a read-only mount (root ignores
# file modes, not read-only mounts).
mkdir -p "$W/ro"
{ mount --bind "$W" "$W/ro" && mount -o remount,bind,ro "$W/ro"; } || fail "cannot make a read-only bind mount"
on_exit "umount -l '$W/ro'"
expect_refusal "read-only file" "$W/ro/ok.img is read-only \\(Read-only file system\\): add --read-only" \
	add -f "$W/ro/ok.img"

# Permissions: root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, as any
# user, meets file modes.  (It still opens /dev/ublk-control, owned by root,
# so the target's own open is what fails.)
noperm() { setpriv --bounding-set -dac_override,-dac_read_search ublk add -t loop "$@"; }
cp "$W/ok.img" "$W/secret.img" && chown 65534:65534 "$W/secret.img" && chmod 600 "$W/secret.img"
expect_refusal "no permission" "cannot open $W/secret.img: permission denied: run as a user who may read and write it" \
	noperm -f "$W/secret.img"
expect_refusal "no permission, --read-only" "permission denied: run as a user who may read it" \
	noperm -f "$W/secret.img" --read-only
chmod 444 "$W/secret.img"
expect_refusal "file not writable by the user" "$W/secret.img is read-only \\(Permission denied\\): add --read-only" \
	noperm -f "$W/secret.img"

# And the good case still works after all that.
add_dev -f "$W/ok.img"
del_dev
pgrep -x ublkd >/dev/null && fail "a ublkd is still running: $(pgrep -a -x ublkd)"
log "pass"
