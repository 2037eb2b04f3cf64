#!/usr/bin/env bats
load helpers

# What the commands say: a reason with every refusal, "error:" only when the
# command fails (helpers.bash checks that on every call), -q after any
# command name, and advice that the command can follow.

# hold_lock: a deploy that holds the lock for a while, in the background
hold_lock() {
	"$CUTOVER" deploy "$SRC" --to "$ROOT" --before-switch 'sleep 3' > /dev/null 2>&1 &
	HOLDER=$!
	for i in $(seq 100); do [ -s "$ROOT/.cutover/lock" ] && break; sleep 0.05; done
	[ -s "$ROOT/.cutover/lock" ]
}

@test "--shared . and --writable . are refused with the reason, not silently" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --shared .
	[ "$status" -eq 2 ]
	[[ "$output" == *"shared path '.' names the whole release"* ]]
	run cutover deploy "$SRC" --to "$ROOT" --writable ./
	[ "$status" -eq 2 ]
	[[ "$output" == *"writable path './' names the whole release"*"--link-mode copy"* ]]
	[ ! -e "$ROOT/current" ]
}

@test "-q after the command name works for every command, as before it" {
	run cutover init -q "$ROOT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run cutover deploy -q "$SRC" --to "$ROOT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	for c in $("$CUTOVER" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/ {print $1}'); do
		[ "$c" = agent ] && continue # not for people; takes no options
		run cutover "$c" -q --help
		[ "$status" -eq 0 ] || { echo "'$c -q --help': $output"; false; }
		[[ "$output" == *"--quiet"* ]] || { echo "'$c --help' does not list --quiet"; false; }
	done
	run cutover proxy -q --help
	[ "$status" -eq 0 ]
}

@test "-q quiets prune, pin, unpin and rollback; listings still print" {
	cutover init -q "$ROOT"
	for i in 1 2 3; do echo "$i" > "$SRC/n.txt"; cutover deploy -q "$SRC" --to "$ROOT"; done
	first=$(ls "$ROOT/releases" | head -1)
	run cutover pin -q "$first" --to "$ROOT"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run cutover unpin "$first" --to "$ROOT" --quiet
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run cutover prune -q --keep 1 --to "$ROOT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(release_count)" -eq 2 ]
	run cutover rollback -q --to "$ROOT"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run cutover verify -q --to "$ROOT"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run cutover releases -q --to "$ROOT"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^2' <<< "$output")" -eq 2 ]
}

@test "status while a deploy holds the lock names the holder with no error (exit 0)" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	hold_lock
	run cutover status --to "$ROOT"
	wait $HOLDER
	[ "$status" -eq 0 ]
	[[ "$output" == *"lock:"*"pid $HOLDER"* ]]
	[[ "$output" != *"error:"* ]]
}

@test "a refusal by the lock advises what the command can do" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	hold_lock
	run cutover prune --to "$ROOT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"locked by"*"wait for it with --wait, e.g. --wait 60s"* ]]
	run cutover pin "$(current_id)" --to "$ROOT" --wait 100ms
	[ "$status" -eq 3 ]
	[[ "$output" == *"gave up waiting"* ]]
	# init has no --wait: it is told to run again, not to use a flag it refuses
	rm "$ROOT/current"
	cp -a "$SRC" "$ROOT/current"
	run cutover init --adopt "$ROOT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"locked by"*"run 'cutover init --adopt' again once it has finished"* ]]
	[[ "$output" != *"--wait"* ]]
	wait $HOLDER || true
}

@test "a FIFO, a directory or a device as the configuration is refused at once (exit 2)" {
	cutover init "$ROOT"
	mkfifo "$T/fifo.yml"
	start=$SECONDS
	run timeout 10 "$CUTOVER" deploy "$SRC" --to "$ROOT" --config "$T/fifo.yml"
	[ "$status" -eq 2 ]
	[[ "$output" == *"'$T/fifo.yml' is a FIFO, not a regular file"* ]]
	run timeout 10 "$CUTOVER" releases --config "$T/fifo.yml"
	[ "$status" -eq 2 ]
	[ "$(grep -c 'error:' <<< "$output")" -eq 1 ]
	run cutover deploy "$SRC" --to "$ROOT" --config "$T"
	[ "$status" -eq 2 ]
	[[ "$output" == *"is a directory, not a regular file"* ]]
	run cutover deploy "$SRC" --to "$ROOT" --config /dev/zero
	[ "$status" -eq 2 ]
	[[ "$output" == *"'/dev/zero' is a device, not a regular file"* ]]
	# ./cutover.yml, read without being named, the same
	mkfifo cutover.yml
	run timeout 10 "$CUTOVER" deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 2 ]
	[ $((SECONDS - start)) -lt 8 ]
	[ ! -e "$ROOT/current" ]
	# /dev/null is an empty configuration (a remote root's agent runs commands with it)
	run cutover releases --to "$ROOT" --config /dev/null
	[ "$status" -eq 0 ]
}

@test "a prune after a deploy that fails is a warning: the deploy went live (exit 0)" {
	cutover init "$ROOT"
	for i in 1 2 3; do echo "$i" > "$SRC/n.txt"; cutover deploy -q "$SRC" --to "$ROOT"; done
	oldest=$(ls "$ROOT/releases" | head -1)
	chattr +i "$ROOT/releases/$oldest/css"
	echo 4 > "$SRC/n.txt"
	run cutover deploy "$SRC" --to "$ROOT" --keep 1
	chattr -i "$ROOT/.cutover/staging/$oldest.removing/css" "$ROOT/releases/$oldest/css" 2> /dev/null || true
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: "*"the deploy succeeded but pruning old releases failed"* ]]
	[[ "$output" != *"error:"* ]]
	[ "$(cat "$ROOT/current/n.txt")" = 4 ]
}

@test "a stat cache that cannot be written is a warning: the deploy goes live (exit 0)" {
	cutover init "$ROOT"
	chattr +i "$ROOT/.cutover/cache"
	run cutover deploy "$SRC" --to "$ROOT"
	chattr -i "$ROOT/.cutover/cache"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: cannot "*"/.cutover/cache/"* ]]
	[[ "$output" != *"error:"* ]]
	[ -L "$ROOT/current" ]
}
