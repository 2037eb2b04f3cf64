#!/usr/bin/env bats
load helpers

@test "cutover.yml supplies the target and options; flags win" {
	cutover init "$ROOT"
	cat > cutover.yml <<YML
to: $ROOT
keep: 2
label: fromconfig
YML
	for i in 1 2 3; do cutover deploy "$SRC"; done
	[ "$(release_count)" -eq 2 ]
	[[ "$(current_id)" == *-fromconfig ]]
	cutover deploy "$SRC" --label fromflag
	[[ "$(current_id)" == *-fromflag ]]
}

@test "--config names another file" {
	cutover init "$ROOT"
	echo "to: $ROOT" > "$T/other.yml"
	run cutover deploy "$SRC" --config "$T/other.yml"
	[ "$status" -eq 0 ]
	run cutover deploy "$SRC" --config "$T/missing.yml"
	[ "$status" -eq 2 ]
}

@test "a malformed cutover.yml is reported with line and column (exit 2)" {
	cutover init "$ROOT"
	printf 'to: %s\nkeep: [1, 2\nlabel: x\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cutover.yml"*":"[0-9]*":"[0-9]* ]]
	[ ! -e "$ROOT/current" ]
}

@test "a wrong type or an unknown key in cutover.yml is named with its place" {
	cutover init "$ROOT"
	printf 'to: %s\nkeep: many\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":2:"*"keep"* ]]
	printf 'to: %s\nsahred: [a]\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"sahred"*"shared"* ]]
	printf 'to: %s\nlink_mode: teleport\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"hardlink, reflink or copy"* ]]
}

@test "link_mode copy makes independent files" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --link-mode copy
	[ "$(stat -c %h "$ROOT/current/index.html")" -eq 1 ]
	cutover verify --to "$ROOT"
}

@test "a store on another file system falls back to copies (directory and archive)" {
	cutover init "$ROOT"
	mount -t tmpfs tmpfs "$ROOT/.cutover/objects" || skip "cannot mount a tmpfs here"
	run cutover deploy "$SRC" --to "$ROOT"
	st=$status
	tar -C "$SRC" -cf "$T/a.tar" .
	st2=0; run2=$(cutover deploy "$T/a.tar" --to "$ROOT" 2>&1) || st2=$?
	v=0; cutover verify --to "$ROOT" || v=$?
	nl=$(stat -c %h "$ROOT/current/index.html")
	umount "$ROOT/.cutover/objects"
	[ "$st" -eq 0 ]
	[[ "$output" == *"different file systems; copying"* ]]
	[ "$st2" -eq 0 ] || { echo "$run2"; false; }
	[ "$v" -eq 0 ]
	[ "$nl" -eq 1 ]
}

@test "reflink works where the file system can, and is refused clearly where it cannot" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --link-mode reflink
	if [ "$status" -eq 0 ]; then
		cutover verify --to "$ROOT"
		[ "$(stat -c %h "$ROOT/current/index.html")" -eq 1 ]
	else
		[ "$status" -eq 1 ]
		[[ "$output" == *"does not support it; use --link-mode hardlink or copy"* ]]
		[ ! -e "$ROOT/current" ]
	fi
}

@test "a ./cutover.yml read without being named is said once (a note, quiet with -q)" {
	cutover init "$ROOT"
	echo "to: $ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'reading ./cutover.yml' <<< "$output")" -eq 1 ]
	[[ "$output" == *"cutover: reading ./cutover.yml"* ]]
	for c in releases status log prune verify; do
		run cutover "$c"
		[ "$status" -eq 0 ] || { echo "$c: $output"; false; }
		[ "$(grep -c 'reading ./cutover.yml' <<< "$output")" -eq 1 ] || { echo "$c: $output"; false; }
	done
	run cutover releases -q
	[[ "$output" != *"reading"* ]]
	run cutover -q deploy "$SRC"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	# named with --config: nothing to say
	run cutover releases --config cutover.yml
	[[ "$output" != *"reading"* ]]
	rm cutover.yml
	run cutover releases --to "$ROOT"
	[[ "$output" != *"reading"* ]]
}
