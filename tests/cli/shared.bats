#!/usr/bin/env bats
load helpers

@test "a shared directory is seeded by the first release and survives deploys" {
	mkdir -p "$SRC/storage/logs"
	echo seed > "$SRC/storage/logs/app.log"
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --shared storage/
	[ -L "$ROOT/current/storage" ]
	[ "$(readlink "$ROOT/current/storage")" = ../../shared/storage ]
	[ "$(cat "$ROOT/shared/storage/logs/app.log")" = seed ]
	echo "user data" > "$ROOT/current/storage/upload.bin"
	echo changed-by-app >> "$ROOT/current/storage/logs/app.log"
	echo new > "$SRC/storage/logs/app.log"
	cutover deploy "$SRC" --to "$ROOT" --shared storage/
	[ "$(cat "$ROOT/current/storage/upload.bin")" = "user data" ]
	grep -q changed-by-app "$ROOT/current/storage/logs/app.log"
	cutover rollback --to "$ROOT"
	cutover prune --keep 1 --to "$ROOT"
	[ "$(cat "$ROOT/shared/storage/upload.bin")" = "user data" ]
}

@test "a shared directory that nothing seeds starts empty" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --shared public/uploads/
	[ -d "$ROOT/shared/public/uploads" ]
	[ -L "$ROOT/current/public/uploads" ]
	[ "$(readlink "$ROOT/current/public/uploads")" = ../../../shared/public/uploads ]
	touch "$ROOT/current/public/uploads/x"
	[ -e "$ROOT/shared/public/uploads/x" ]
}

@test "a shared file is linked; a missing one names the file to create" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --shared .env
	[ "$status" -eq 1 ]
	[[ "$output" == *"shared file '.env'"*"create '$ROOT/shared/.env'"* ]]
	[ ! -e "$ROOT/current" ]
	echo "SECRET=1" > "$ROOT/shared/.env"
	cutover deploy "$SRC" --to "$ROOT" --shared .env
	[ "$(cat "$ROOT/current/.env")" = "SECRET=1" ]
}

@test "a shared path in the source is replaced by the shared one" {
	echo "from release" > "$SRC/.env"
	echo "from server" > "$T/env"
	cutover init "$ROOT"
	cp "$T/env" "$ROOT/shared/.env"
	cutover deploy "$SRC" --to "$ROOT" --shared .env
	[ "$(cat "$ROOT/current/.env")" = "from server" ]
	cutover verify --to "$ROOT"
}

@test "writable paths get private, writable copies" {
	mkdir -p "$SRC/bootstrap/cache"
	echo cfg > "$SRC/bootstrap/cache/config.php"
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --writable bootstrap/cache/
	f="$ROOT/current/bootstrap/cache/config.php"
	[ "$(stat -c %h "$f")" -eq 1 ]
	[ -w "$f" ]
	[ "$(stat -c %a "$f")" = 644 ]
	echo changed > "$f"
	run cutover verify --to "$ROOT"
	[ "$status" -eq 0 ]
}

@test "nested shared paths are a usage error" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --shared storage/ --shared storage/logs/
	[ "$status" -eq 2 ]
	[[ "$output" == *"is inside shared path"* ]]
}
