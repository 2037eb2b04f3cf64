#!/usr/bin/env bats
load helpers

@test "init creates the layout and names the document root" {
	run cutover init "$ROOT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$ROOT/current"* ]]
	for d in releases shared .cutover/objects .cutover/manifests .cutover/staging; do
		[ -d "$ROOT/$d" ]
	done
}

@test "init is idempotent" {
	cutover init "$ROOT"
	run cutover init "$ROOT"
	[ "$status" -eq 0 ]
}

@test "init refuses a path that is a file" {
	touch "$T/file"
	run cutover init "$T/file"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a directory"* ]]
}

@test "init --write-config writes a commented cutover.yml and never overwrites it" {
	run cutover init "$ROOT" --write-config
	[ "$status" -eq 0 ]
	grep -q "^to: $ROOT" cutover.yml
	grep -q "before_switch" cutover.yml
	run cutover init "$ROOT" --write-config
	[ "$status" -ne 0 ]
	[[ "$output" == *"exists already"* ]]
}

@test "init --adopt turns a live directory into the first release" {
	mkdir -p "$ROOT"
	cp -a "$SRC" "$ROOT/current"
	run cutover init --adopt "$ROOT"
	[ "$status" -eq 0 ]
	[ -L "$ROOT/current" ]
	[[ "$(readlink "$ROOT/current")" == releases/*-adopted ]]
	[ "$(cat "$ROOT/current/index.html")" = "<html>v1</html>" ]
	run cutover verify --to "$ROOT"
	[ "$status" -eq 0 ]
}

@test "init --adopt serves the path without a gap" {
	mkdir -p "$ROOT"
	cp -a "$SRC" "$ROOT/current"
	# a reader hammering the path must never see it missing
	( end=$((SECONDS + 3)); while [ $SECONDS -lt $end ]; do
		cat "$ROOT/current/index.html" > /dev/null 2>&1 || { echo MISSING >> "$T/miss"; }
	done ) &
	reader=$!
	sleep 0.3
	cutover init --adopt "$ROOT"
	wait $reader
	[ ! -e "$T/miss" ]
}

@test "init --adopt without a live directory says so" {
	run cutover init --adopt "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"nothing to adopt"* ]]
}

@test "init --write-config writes ./cutover.yml, where cutover reads it, and says where with its full path" {
	mkdir "$T/proj" && cd "$T/proj"
	run cutover init "$ROOT" --write-config
	[ "$status" -eq 0 ]
	[[ "$output" == *"wrote an example configuration to $T/proj/cutover.yml: cutover reads it when run from $T/proj (elsewhere, give --config $T/proj/cutover.yml)"* ]]
	[ -f "$T/proj/cutover.yml" ]
	[ ! -e "$ROOT/cutover.yml" ] && [ ! -e "$T/cutover.yml" ]
	[ -z "$(ls "$T/proj" | grep -v '^cutover.yml$')" ] # no temporary file left
	# it is what a deploy from there reads
	run cutover deploy "$SRC"
	[ "$status" -eq 0 ]
	[ -L "$ROOT/current" ]
	# refused before anything is made when one exists
	run cutover init "$T/site2" --write-config
	[ "$status" -eq 1 ]
	[[ "$output" == *"'$T/proj/cutover.yml' exists already; not overwriting it (nothing was done)"* ]]
	[ ! -e "$T/site2" ]
	cd "$T"
	run cutover init -q "$T/site3" --write-config
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -f "$T/cutover.yml" ]
}
