#!/usr/bin/env bats
# Deploys over ssh to real hosts (network namespaces with their own sshd,
# tests/e2e/hosts.bash) and to a bare Debian host: the agent is installed by
# the client, everything a local deploy promises holds, errors name the
# host, and hostile peers on either side get a clear error, never a crash.

bats_require_minimum_version 1.5.0
load hosts

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
export CUTOVER=${CUTOVER:-$REPO/cutover}
PEER=$BATS_TEST_DIRNAME/lib/hostile_peer.py

setup_file() {
	bare_host_build
}

setup() {
	T=$BATS_TEST_TMPDIR
	SRC=$T/src
	mkdir -p "$SRC/css"
	echo v1 > "$SRC/index.html"
	echo 'body{}' > "$SRC/css/site.css"
	hosts_setup 1
	export PATH=$HOSTS_BIN:$PATH
	# the hosts share this machine's file system: one root per test
	R=$T/site
	"$CUTOVER" init "$R" > /dev/null
}

teardown() {
	hosts_teardown
	remove_sudo_users
}

cutover() { "$CUTOVER" "$@"; }
current_id() { basename "$(readlink "$R/current")"; }

@test "a first deploy installs the agent on a host that has no cutover; the next sends only what changed" {
	[ -z "$(ls "$R/.cutover/bin" 2> /dev/null)" ]
	run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"host1: installing cutover"* ]]
	[[ $output == *"2 files (10 B), 2 new (10 B)"* ]]
	[ "$(cat "$R/current/index.html")" = v1 ]
	ls "$R/.cutover/bin/"cutover-*
	echo v2 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "ssh://host1$R"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output != *"installing"* ]]
	[[ $output == *"2 files (10 B), 1 new (3 B)"* ]]
	[ "$(cat "$R/current/index.html")" = v2 ]
	cutover verify --to "$R"
	# the same layout as a local deploy: relative link, manifests, history
	[[ $(readlink "$R/current") == releases/* ]]
	[ "$(cutover log --to "$R" --json | grep -o '"outcome":"ok"' | wc -l)" = 2 ]
}

# Bytes this machine sent to host1 (the machine side of its veth).
sent_to_host1() { cat "/sys/class/net/cu${HOSTS_ID}r1/statistics/tx_bytes"; }

@test "a one-file change to a 20,000-file tree sends the changed file and at most 64 KiB besides" {
	python3 - "$SRC/tree" <<-'PY'
	import os, sys
	root = sys.argv[1]
	for d in range(200):
	    os.makedirs("%s/d%03d" % (root, d))
	    for f in range(100):
	        with open("%s/d%03d/f%03d.txt" % (root, d, f), "w") as fh:
	            fh.write("file %d/%d\n" % (d, f) * 3)
	PY
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	head -c 50000 /dev/urandom > "$SRC/tree/d007/f042.txt"
	local before after
	before=$(sent_to_host1)
	run cutover deploy "$SRC" --to "host1:$R"
	after=$(sent_to_host1)
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"20002 files"*", 1 new (48.8 KiB)"* ]]
	echo "sent to the host: $((after - before)) bytes for a 50000-byte file"
	[ $((after - before)) -le $((50000 + 65536)) ]
	cmp "$SRC/tree/d007/f042.txt" "$R/current/tree/d007/f042.txt"
	# a host without the base (the client's record is lost, or another client deployed): the whole manifest, same result
	rm -rf "$HOME/.cache/cutover" "${XDG_CACHE_HOME:-/nonexistent}/cutover"
	echo x > "$SRC/tree/d001/f001.txt"
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	cutover verify --to "host1:$R"
}

@test "memory stays bounded on both sides with a 2 GiB file in the tree" {
	truncate -s 2G "$SRC/big.img" # sparse: reads as 2 GiB of zeros, costs no disk here
	printf 'end' >> "$SRC/big.img"
	# the agent's peak, read from /proc while it runs (it is a process of host1's namespace)
	( peak=0
	while [ ! -e "$T/stop" ]; do
		for p in $(ip netns pids "$(host_ns host1)"); do
			{ tr '\0' ' ' < "/proc/$p/cmdline"; } 2> /dev/null | grep -q ' agent *$' || continue
			kb=$(awk '/^VmHWM/ { print $2; exit }' "/proc/$p/status" 2> /dev/null) || kb=
			if [[ $kb =~ ^[0-9]+$ ]] && [ "$kb" -gt "$peak" ]; then
				peak=$kb
				echo "$peak" > "$T/agent.kb"
			fi
		done
		sleep 0.05
	done
	exit 0 ) &
	local watcher=$!
	/usr/bin/time -f '%M' -o "$T/client.kb" "$CUTOVER" deploy "$SRC" --to "host1:$R"
	touch "$T/stop"
	wait "$watcher"
	echo "client peak: $(cat "$T/client.kb") KiB, agent peak: $(cat "$T/agent.kb") KiB"
	[ "$(cat "$T/client.kb")" -lt 65536 ]
	[ "$(cat "$T/agent.kb")" -lt 65536 ]
	[ "$(stat -c %s "$R/current/big.img")" = $((2 * 1024 * 1024 * 1024 + 3)) ]
	[ "$(tail -c 3 "$R/current/big.img")" = end ]
}

@test "an agent binary that is not this client's exact one is replaced, never half used" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	local bin
	bin=$(ls "$R/.cutover/bin/"cutover-*)
	# damaged in place (a torn copy, an edit): same name, other bytes
	printf '#!/bin/sh\necho old agent\n' > "$bin"
	echo v2 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"installing"* ]]
	cmp "$bin" "$CUTOVER"
	# another version's binary beside it is left alone and not used
	cp "$CUTOVER" "$R/.cutover/bin/cutover-0.0.1-000000000000"
	echo v3 > "$SRC/index.html"
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	[ "$(cat "$R/current/index.html")" = v3 ]
}

@test "every command works on the remote root with the output and exit status it has on the host" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	echo v2 > "$SRC/index.html"
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	local first
	first=$(ls "$R/releases" | head -1)
	for cmd in "releases" "releases --json" "status" "log" "diff $first" "verify"; do
		# shellcheck disable=SC2086
		[ "$(cutover $cmd --to "host1:$R" 2>&1)" = "$(cutover $cmd --to "$R" 2>&1)" ]
	done
	# drift: verify fails the same way on both sides
	chmod u+w "$R/current/index.html"
	echo changed >> "$R/current/index.html"
	run cutover verify --to "host1:$R"
	[ "$status" -eq 1 ]
	[[ $output == *index.html* ]]
	run cutover pin nosuch --to "host1:$R"
	[ "$status" -eq 1 ]
	[[ $output == *"'nosuch' is not a release id"* ]]
	cutover pin "$first" --to "host1:$R"
	[ -e "$R/.cutover/pins/$first" ]
	run cutover rollback --to "host1:$R"
	[ "$status" -eq 0 ]
	[ "$(current_id)" = "$first" ]
	# to: from cutover.yml
	printf 'to: "host1:%s"\n' "$R" > "$T/cutover.yml"
	(cd "$T" && "$CUTOVER" releases) | grep -q "$first"
}

@test "init makes a root on the host; a missing root is named with the command that makes it" {
	run cutover releases --to "host1:$T/nothing"
	[ "$status" -eq 1 ]
	[[ $output == *"'host1:$T/nothing' is not a cutover root"*"cutover init host1:$T/nothing"* ]]
	run cutover init "host1:$T/new"
	[ "$status" -eq 0 ]
	[ -d "$T/new/.cutover/objects" ] && [ -d "$T/new/releases" ]
	cutover deploy "$SRC" --to "host1:$T/new" > /dev/null
	[ "$(cat "$T/new/current/index.html")" = v1 ]
}

@test "hooks run on the host, their output comes back prefixed with the host; a failing before_switch changes nothing" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	local before
	before=$(current_id)
	echo v2 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "host1:$R" --before-switch 'echo "in $CUTOVER_RELEASE_PATH"; hostname -I; exit 3'
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"host1: before_switch| in $R/releases/"* ]]
	# it ran inside the host's network namespace
	[[ $output == *"$HOST_ADDR_1"* ]]
	[[ $output == *"failed with exit status 3"* ]]
	[[ $output == *"nothing changed"* ]]
	[ "$(current_id)" = "$before" ]
	[ "$(ls "$R/releases" | wc -l)" = 1 ]
	[ -z "$(ls "$R/.cutover/staging")" ]
}

@test "shared paths on the host: seeded by the first release, kept by every deploy, linked into each" {
	mkdir -p "$SRC/storage/uploads"
	echo seed > "$SRC/storage/uploads/a.txt"
	echo 'APP_KEY=1' > "$SRC/.env"
	cutover deploy "$SRC" --to "host1:$R" --shared storage/ --shared .env > /dev/null
	[ "$(cat "$R/shared/storage/uploads/a.txt")" = seed ]
	# the application writes user data; the next release keeps it
	echo user > "$R/current/storage/uploads/b.txt"
	echo 'APP_KEY=2' > "$SRC/.env"
	echo v2 > "$SRC/index.html"
	cutover deploy "$SRC" --to "host1:$R" --shared storage/ --shared .env > /dev/null
	[ "$(cat "$R/current/storage/uploads/b.txt")" = user ]
	[ "$(cat "$R/current/.env")" = 'APP_KEY=1' ]
	[ -L "$R/current/storage" ]
	[ "$(cat "$R/current/index.html")" = v2 ]
}

@test "a failing check switches the host back (exit 4) and runs after_rollback there" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	local before
	before=$(current_id)
	echo v2 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "host1:$R" --check 'test "$(cat index.html)" = v1' --check-retries 0 \
		--after-rollback 'echo rolled back to $CUTOVER_RELEASE'
	echo "$output"
	[ "$status" -eq 4 ]
	[[ $output == *"switched back to '$before'"* ]]
	[[ $output == *"host1: after_rollback| rolled back to $before"* ]]
	[ "$(current_id)" = "$before" ]
	cutover log --to "$R" --json | grep -q '"outcome":"rolled-back","user":"[^"]*","host":"[^"]*","duration_ms":[0-9]*,"files":[0-9]*,"new_bytes":[0-9]*,"message":"health check'
	# the host's history says what failed, without the host's name before it
	[[ $(cutover log --to "$R" --json) != *'"message":"host1:'* ]]
}

@test "a lock held on the host: exit 3 naming the holder; --wait waits for it" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	echo v2 > "$SRC/index.html"
	"$CUTOVER" deploy "$SRC" --to "$R" --before-switch 'sleep 3' > "$T/slow.out" 2>&1 &
	local slow=$!
	for i in $(seq 50); do [ -n "$(ls "$R/.cutover/staging")" ] && break; sleep 0.1; done
	run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ $output == *"host1: "*"locked by"*"pid $slow"* ]]
	run cutover deploy "$SRC" --to "host1:$R" --wait 20s
	[ "$status" -eq 0 ]
	wait "$slow"
}

@test "a noisy login shell is skipped; a shell that prints and exits is named with what it printed" {
	# a fake ssh that runs the real one with a greeting before the remote command
	cat > "$T/noisy-ssh" <<-EOF
	#!/bin/bash
	n=\$#; cmd=\${!n}; set -- "\${@:1:\$((n - 1))}"
	exec ssh "\$@" "echo 'Welcome to host1, last login yesterday'; \$EXTRA \$cmd"
	EOF
	chmod +x "$T/noisy-ssh"
	CUTOVER_SSH=$T/noisy-ssh run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"host1: the remote shell printed 'Welcome to host1, last login yesterday' before cutover started (skipped)"* ]]
	[ "$(cat "$R/current/index.html")" = v1 ]
	EXTRA='exit 1;' CUTOVER_SSH=$T/noisy-ssh run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"'host1': the remote shell printed 'Welcome to host1, last login yesterday"*"cutover did not start"* ]]
}

@test "unreachable, refused and unknown hosts: clear errors naming the host; nothing changes" {
	run cutover deploy "$SRC" --to "nosuchhost.invalid:$R"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot reach 'nosuchhost.invalid'"* ]]
	host_link_down host1
	run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot reach 'host1'"* ]]
	host_link_up host1
	# a key the host does not accept
	run cutover deploy "$SRC" --to "nobody@host1:$R"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot reach 'host1'"*"Permission denied"* ]]
	# the host's key changed (a reinstalled host, or a man in the middle): refused, never accepted
	host_kill_sshd host1
	rm -f "$HOSTS_DIR/hosts/host1/ssh_host_ed25519_key" "$HOSTS_DIR/hosts/host1/ssh_host_ed25519_key.pub"
	ssh-keygen -q -t ed25519 -N '' -f "$HOSTS_DIR/hosts/host1/ssh_host_ed25519_key"
	host_start_sshd host1
	run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot reach 'host1': Host key verification failed."* ]]
	run cutover deploy "$SRC" --to "host1:relative/path"
	[ "$status" -eq 1 ]
	[[ $output == *"must be absolute"* ]]
	run cutover deploy "$SRC" --to "ssh://host1:99999$R"
	[ "$status" -eq 1 ]
	[[ $output == *"port must be a number from 1 to 65535"* ]]
	[ ! -e "$R/current" ]
}

@test "no space left on the host: the error names the host and the cause, nothing is switched" {
	# a small file system in host1's own mount namespace (gone with its sshd)
	local small=$T/small live
	mkdir "$small"
	hssh host1 "mount -t tmpfs -o size=4m cutover-test-small $small"
	# even the agent does not fit: said as such
	run cutover init "host1:$small/site"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"'host1': cutover could not be installed in $small/site/.cutover/bin: "*"No space left on device"* ]]
	hssh host1 "umount $small; mount -t tmpfs -o size=16m cutover-test-small $small"
	cutover init "host1:$small/site" > /dev/null
	cutover deploy "$SRC" --to "host1:$small/site" > /dev/null
	live=$(hssh host1 readlink "$small/site/current")
	head -c 12000000 /dev/urandom > "$SRC/big.bin"
	run cutover deploy "$SRC" --to "host1:$small/site"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"host1: "*"No space left on device"* ]]
	[[ $output == *"nothing changed"* ]]
	[ "$(hssh host1 readlink "$small/site/current")" = "$live" ]
	rm "$SRC/big.bin"
	echo v2 > "$SRC/index.html"
	cutover deploy "$SRC" --to "host1:$small/site" > /dev/null
	[ "$(hssh host1 cat "$small/site/current/index.html")" = v2 ]
	cutover verify --to "host1:$small/site"
}

@test "the connection cut mid-upload leaves the host as it was and unlocked; the next deploy goes through" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	local before
	before=$(current_id)
	head -c 300000000 /dev/urandom > "$SRC/big.bin"
	cutover deploy "$SRC" --to "host1:$R" > "$T/cut.out" 2>&1 &
	local client=$!
	# wait until bytes arrive on the host, then cut the host's network
	for i in $(seq 200); do
		[ -n "$(find "$R/.cutover/staging" -name 'recv-*' -size +1k 2> /dev/null)" ] && break
		sleep 0.05
	done
	host_kill_sshd host1 KILL
	! wait "$client"
	cat "$T/cut.out"
	[[ $(cat "$T/cut.out") == *"host1"* ]]
	host_start_sshd host1
	[ "$(current_id)" = "$before" ]
	run cutover status --to "host1:$R"
	echo "$output"
	[[ $output == *"lock:      free"* ]]
	run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$SRC/big.bin" "$R/current/big.bin"
	cutover verify --to "host1:$R"
}

@test "an upload cut off half way keeps the objects that arrived whole; the retry sends only the rest" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	local before i
	before=$(current_id)
	mkdir "$SRC/media"
	for i in $(seq 40); do head -c 2000000 /dev/urandom > "$SRC/media/$i.bin"; done
	"$CUTOVER" deploy "$SRC" --to "host1:$R" > "$T/cut.out" 2>&1 &
	local client=$! ssh_pid=
	# once about a third of the objects are on the host, kill the client's ssh
	for i in $(seq 400); do
		[ "$(find "$R/.cutover/objects" -type f -size +1000k | wc -l)" -ge 12 ] && break
		sleep 0.05
	done
	ssh_pid=$(cat /proc/"$client"/task/*/children)
	kill -KILL $ssh_pid
	! wait "$client"
	cat "$T/cut.out"
	[ "$(current_id)" = "$before" ]
	# the agent saw its client go, kept what arrived, and let go of the lock
	for i in $(seq 100); do cutover status --to "$R" 2> /dev/null | grep -q 'lock:      free' && break; sleep 0.1; done
	ls "$R/.cutover/partial/"
	run cutover deploy "$SRC" --to "host1:$R"
	echo "$output"
	[ "$status" -eq 0 ]
	local sent
	sent=$(sed -n 's/.*files ([^)]*), \([0-9]*\) new .*/\1/p' <<< "$output")
	echo "objects sent by the retry: $sent of 40"
	[ "$sent" -ge 1 ] && [ "$sent" -le 28 ]
	cutover verify --to "$R"
	# a release went live: nothing is owed to a retry any more
	[ ! -e "$R/.cutover/partial" ]
}

@test "kill -9 of the client at each step leaves the host's site whole and unlocked" {
	cutover deploy "$SRC" --to "host1:$R" > /dev/null
	local step n=1
	for step in read objects synced switched recorded; do
		n=$((n + 1))
		echo "v$n" > "$SRC/index.html"
		CUTOVER_CRASH_AT=$step run cutover deploy "$SRC" --to "host1:$R"
		[ "$status" -eq 137 ]
		# the agent sees its client go, ends, and the lock dies with it
		for i in $(seq 50); do cutover status --to "$R" | grep -q 'lock:      free' && break; sleep 0.1; done
		cutover status --to "$R" | grep -q 'lock:      free'
		[ -f "$R/current/index.html" ]
		cutover verify --to "$R" > /dev/null
		# and the next deploy goes through
		cutover deploy "$SRC" --to "host1:$R" > /dev/null
		[ "$(cat "$R/current/index.html")" = "v$n" ]
	done
}

@test "a hostile client gets a clear error from the agent, which never crashes or writes outside its root" {
	local c out
	for c in garbage oversize badtype wrongversion before-open unknown-op relative-root bad-id escape-path \
		escape-link bad-object short-fields hook-phase; do
		out=$(cd "$T" && python3 "$PEER" client "$c" "$R")
		echo "$c: $out"
		# no crash: an exit status, never a signal
		[[ $out =~ exit\ [0-9]+$ ]]
		[[ ! $out =~ exit\ 1[2-9][0-9]$ ]]
	done
	[[ $(python3 "$PEER" client oversize "$R") == *"frame of 2147483647 bytes"* ]]
	[[ $(python3 "$PEER" client wrongversion "$R") == *"cutover 9.9.9"* ]]
	[[ $(python3 "$PEER" client escape-path "$R") == *"escaped"* ]]
	[[ $(python3 "$PEER" client escape-link "$R") == *"up"* ]]
	[[ $(python3 "$PEER" client bad-object "$R") == *"does not decompress"* ]]
	[[ $(python3 "$PEER" client hook-phase "$R") == *"unknown hook phase"* ]]
	[[ $(python3 "$PEER" client bad-id "$R") == *"invalid release id"* ]]
	# nothing was written outside the root, nothing was made live
	[ ! -e "$T/escaped" ] && [ ! -e "$(dirname "$T")/escaped" ]
	[ ! -e "$R/current" ]
	[ -z "$(ls "$R/releases")" ]
}

@test "a hostile or broken agent gets a clear error from the client, never a crash" {
	local c
	for c in garbage oversize wrong-magic silent-exit; do
		CUTOVER_SSH="python3 $PEER agent $c" run cutover deploy "$SRC" --to "host1:$R"
		echo "$c: $output"
		[ "$status" -eq 1 ]
		[[ $output == *"host1"* ]]
	done
	[ ! -e "$R/current" ]
}

# Two users of the machine (the hosts share its /etc): one may run anything
# with sudo and no password, one may not. Removed by remove_sudo_users.
add_sudo_users() {
	SUDO_OK=cutok$$
	SUDO_NO=cutno$$
	useradd -M -s /bin/sh "$SUDO_OK"
	useradd -M -s /bin/sh "$SUDO_NO"
	# "*": no password, and not locked (sshd refuses a locked account even with a key)
	usermod -p "*" "$SUDO_OK"
	usermod -p "*" "$SUDO_NO"
	echo "$SUDO_OK" > "$T/users"
	echo "$SUDO_NO" >> "$T/users"
	echo "$SUDO_OK ALL=(root) NOPASSWD: ALL" > "/etc/sudoers.d/$SUDO_OK"
	# sshd reads the (public) authorized keys as the user who logs in
	chmod 755 "$HOSTS_DIR" "$HOSTS_DIR/client"
	chmod 644 "$HOSTS_DIR/client/authorized_keys"
	chmod 440 "/etc/sudoers.d/$SUDO_OK"
}

remove_sudo_users() {
	local u d
	if [ -s "$T/cleanup" ]; then
		while read -r d; do [[ $d == /tmp/cutover-sudo.* ]] && rm -rf "$d"; done < "$T/cleanup"
		rm -f "$T/cleanup"
	fi
	[ -s "$T/users" ] || return 0
	while read -r u; do
		rm -f "/etc/sudoers.d/$u"
		userdel "$u" 2> /dev/null || true
	done < "$T/users"
	rm -f "$T/users"
}

@test "--sudo runs the agent as root for a root the login user cannot write; a sudo that would ask for a password fails at once" {
	add_sudo_users
	# a root the users can reach (bats' own directories are private)
	R=$(mktemp -d /tmp/cutover-sudo.XXXXXX)
	echo "$R" >> "$T/cleanup"
	chmod 755 "$R"
	"$CUTOVER" init "$R" > /dev/null
	# without sudo: the login user cannot write under the root
	run cutover deploy "$SRC" --to "$SUDO_OK@host1:$R"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"'host1': cannot create '$R/.cutover/bin'"* ]]
	# with it
	run cutover deploy "$SRC" --to "$SUDO_OK@host1:$R" --sudo
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$R/current/index.html")" = v1 ]
	[ "$(stat -c %U "$R/releases/$(current_id)")" = root ]
	cutover status --to "$SUDO_OK@host1:$R" --sudo | grep -q "current:   $(current_id)"
	printf 'sudo: true\n' > "$T/cutover.yml"
	(cd "$T" && "$CUTOVER" releases --to "$SUDO_OK@host1:$R") | grep -q current
	# a user without a rule: sudo -n refuses at once, never a prompt
	local start=$SECONDS
	run cutover deploy "$SRC" --to "$SUDO_NO@host1:$R" --sudo
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"'host1': sudo would ask for a password"*"NOPASSWD"* ]]
	[ $((SECONDS - start)) -lt 10 ]
	remove_sudo_users
}

@test "the bare host (no cutover, none of its libraries) takes a deploy and answers every command" {
	bare_host_setup
	# nothing of ours there
	run hssh bare 'ls /usr/lib/x86_64-linux-gnu | grep -cE "libyaml|libhttp_parser|libarchive"'
	[ "$output" = 0 ]
	run cutover init "bare:/srv/site"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"bare: installing cutover"* ]]
	run cutover deploy "$SRC" --to "bare:/srv/site" --before-switch 'cat /etc/debian_version'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"bare: before_switch| 12."* ]]
	[ "$(hssh bare cat /srv/site/current/index.html)" = v1 ]
	echo v2 > "$SRC/index.html"
	cutover deploy "$SRC" --to "bare:/srv/site" > /dev/null
	[ "$(hssh bare cat /srv/site/current/index.html)" = v2 ]
	run cutover releases --to "bare:/srv/site"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^2026\|^20[0-9][0-9]')" = 2 ]
	cutover rollback --to "bare:/srv/site" > /dev/null
	[ "$(hssh bare cat /srv/site/current/index.html)" = v1 ]
	cutover verify --to "bare:/srv/site"
}
