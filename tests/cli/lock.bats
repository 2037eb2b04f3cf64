#!/usr/bin/env bats
load helpers

@test "a second deploy is refused while one holds the lock, naming the holder (exit 3)" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	"$CUTOVER" deploy "$SRC" --to "$ROOT" --before-switch 'sleep 3' > /dev/null 2>&1 &
	holder=$!
	for i in $(seq 50); do [ -s "$ROOT/.cutover/lock" ] && break; sleep 0.05; done
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"is locked by root@"*"pid $holder"*"cutover deploy"*"--wait"* ]]
	run cutover status --to "$ROOT"
	[[ "$output" == *"lock:"*"pid $holder"* ]]
	wait $holder
}

@test "--wait takes the lock once it is free" {
	cutover init "$ROOT"
	"$CUTOVER" deploy "$SRC" --to "$ROOT" --before-switch 'sleep 2' > /dev/null 2>&1 &
	holder=$!
	for i in $(seq 50); do [ -s "$ROOT/.cutover/lock" ] && break; sleep 0.05; done
	run cutover deploy "$SRC" --to "$ROOT" --wait 20s
	[ "$status" -eq 0 ]
	wait $holder
	[ "$(release_count)" -eq 2 ]
}

@test "--wait gives up after its time" {
	cutover init "$ROOT"
	"$CUTOVER" deploy "$SRC" --to "$ROOT" --before-switch 'sleep 4' > /dev/null 2>&1 &
	holder=$!
	for i in $(seq 50); do [ -s "$ROOT/.cutover/lock" ] && break; sleep 0.05; done
	run cutover rollback --to "$ROOT" --wait 500ms
	[ "$status" -eq 3 ]
	[[ "$output" == *"gave up waiting"* ]]
	wait $holder
}

@test "two deploys racing: exactly one wins, the other exits 3, the site is whole" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	for x in a b; do
		( rc=0; "$CUTOVER" deploy "$SRC" --to "$ROOT" --before-switch 'sleep 1' > "$T/$x.out" 2>&1 || rc=$?; echo $rc > "$T/$x.rc" ) &
	done
	wait
	codes=$(cat "$T/a.rc" "$T/b.rc" | sort | tr '\n' ' ')
	[ "$codes" = "0 3 " ]
	[ "$(release_count)" -eq 2 ]
	cutover verify --to "$ROOT"
}

@test "a killed deploy never leaves a stale lock" {
	cutover init "$ROOT"
	"$CUTOVER" deploy "$SRC" --to "$ROOT" --before-switch "echo \$\$ > '$T/hook.pid'; exec sleep 30" > /dev/null 2>&1 &
	holder=$!
	for i in $(seq 50); do [ -s "$ROOT/.cutover/lock" ] && break; sleep 0.05; done
	sleep 0.2
	kill -9 $holder
	# the hook outlives its killed deploy: stop it by the pid it wrote
	for i in $(seq 50); do [ -s "$T/hook.pid" ] && break; sleep 0.05; done
	kill "$(cat "$T/hook.pid")" 2> /dev/null || true
	wait $holder || true
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 0 ]
	[ "$(release_count)" -eq 1 ]
}
