#!/bin/bash
# A bad config file: one line naming the file, the line and the key, exit 78
# (EX_CONFIG, which ublkd@.service does not restart),
# and no device left behind.
# timeout: 400
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"

bad() { # LINE-REGEX CONF-TEXT: `ublkd --config FILE` refuses it
	local f
	f=$(conf bad <<<"$2")
	expect_fail 78 "^ublkd: $f$1" ublkd --config "$f"
}

bad ":2: key 'queues': invalid value '65'; expected a queue count from 1 to 64\$" \
	$'target = "null";\nqueues = 65;'
bad ":3: key 'depth': invalid value '0'; expected a queue depth from 1 to 4096\$" \
	$'target = "null";\n\ndepth = 0;'
bad ":2: key 'size': invalid value '1000'; expected a multiple of 512 bytes\$" \
	$'target = "null";\nsize = 1000;'
bad ":2: key 'size': 3000000000 does not fit in a plain \(32-bit\) integer" \
	$'target = "null";\nsize = 3000000000;'
bad ":2: key 'max_io': invalid value '64M'; expected 4K to 32M" \
	$'target = "null";\nmax_io = "64M";'
bad ":2: key 'queues': expected an integer, got a string; write queues = 2;\$" \
	$'target = "null";\nqueues = "2";'
bad ":2: key 'zero_copy': expected true or false, got an integer" \
	$'target = "null";\nzero_copy = 1;'
bad ":2: key 'recovery': invalid value 'sometimes'; expected reissue, " \
	$'target = "null";\nrecovery = "sometimes";'
bad ":2: key 'owner': invalid value 'no-such-user'" \
	$'target = "null";\nowner = "no-such-user";'
bad ":2: key 'qeueus': unknown; the keys are those of ublkd.conf\(5\) \(target null has no options of its own\)\$" \
	$'target = "null";\nqeueus = 2;'
bad ":3: key 'fiel': unknown; the keys are those of ublkd.conf\(5\) and target loop's: file, offset, buffered, buffered_io, shared, metadata\$" \
	$'target = "loop";\nfile = "/x";\nfiel = "/y";'
bad ":2: key 'buffered': expected true or false, got a string; write buffered = true;\$" \
	$'target = "loop";\nbuffered = "yes";'
bad ": key 'target' is missing; add a line like target = \"loop\";" \
	$'queues = 2;'
bad ":1: key 'target': expected a string, got an integer" \
	$'target = 1;'
bad ":3: syntax error; see ublkd.conf\(5\) for the syntax" \
	$'target = "null";\n\nqueues == 2;'
bad ":3: duplicate setting name" \
	$'target = "null";\nqueues = 2;\nqueues = 3;'
bad ":3: key 'user_copy': conflicts with zero_copy = true on line 2; choose one data mode\$" \
	$'target = "null";\nzero_copy = true;\nuser_copy = true;'
bad ":2: cannot open include file" \
	$'target = "null";\n@include "nothere.conf"'

# `ublkd NAME` reads $UBLKD_CONFDIR/NAME.conf the same way.
conf bad <<<$'target = "null";\n\nqueues = 0;' >/dev/null
expect_fail 78 "^ublkd: $CONFDIR/bad.conf:3: key 'queues': invalid value '0'" ublkd bad
expect_fail 78 "^ublkd: $CONFDIR/bad.conf:3: key 'queues'" ublkd bad -v

# The target plugin does not exist: plugin loading says so.
f=$(conf bad <<<$'target = "nosuch";')
expect_fail 78 "unknown target 'nosuch'" ublkd --config "$f"
# No such file; not a file.
expect_fail 78 "^ublkd: $CONFDIR/nothere.conf: cannot open: No such file or directory; create it" ublkd nothere
expect_fail 78 "^ublkd: /tmp/none.conf: cannot open: No such file or directory" ublkd --config /tmp/none.conf
expect_fail 78 "^ublkd: $CONFDIR: not a regular file" ublkd --config "$CONFDIR"
# -t and a config file: which target?
f=$(conf bad <<<$'target = "null";')
expect_fail 78 "-t given with config file .*: set the target in the file" ublkd --config "$f" -t null
# A target option's value: checked by its type (a size), or by the target
# itself (a multiple of 512): either way the message names the file and line.
f=$(conf bad <<<$'target = "loop";\nfile = "/nonexistent/disk.img";\noffset = "abc";')
expect_fail 78 "^ublkd: $f:3: key 'offset': invalid value 'abc'; expected a size" ublkd --config "$f"
f=$(conf bad <<<$'target = "loop";\nfile = "/nonexistent/disk.img";\n\noffset = "7";')
expect_fail 78 "^ublkd: $f:4: key 'offset': invalid value '7' for --offset: expected a byte count that is a multiple of 512" \
	ublkd --config "$f"

[ -z "$(ublk list)" ] || fail "devices left behind: $(ublk list)"
[ -z "$(ls /run/ublkd 2>/dev/null)" ] || fail "state files left: $(ls /run/ublkd)"
