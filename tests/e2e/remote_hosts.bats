#!/usr/bin/env bats
# The remote test hosts themselves (tests/e2e/hosts.bash): before any
# deploy-over-SSH test relies on them, prove that they are separate hosts
# reachable by ssh without prompts, that their network can be cut, that the
# bare host is bare, and that nothing of a run survives its teardown.

bats_require_minimum_version 1.5.0
load hosts

setup_file() {
	# The first build of the bare root takes about a minute; it is cached
	# in /var/cache/cutover-tests after that.
	bare_host_build
}

setup() {
	T=$BATS_TEST_TMPDIR
}

teardown() {
	hosts_teardown
	# The run that the sweep test kills, should the sweep have failed.
	if [ -s "$T/orphan" ]; then
		local pid ns dir
		read -r pid ns dir < "$T/orphan"
		kill -KILL "$pid" 2> /dev/null
		ip netns list | awk '{ print $1 }' | grep -qxF "$ns" && ip netns del "$ns"
		[[ $dir == /tmp/cutover-hosts.* ]] && rm -rf "$dir"
	fi
	return 0
}

# The public host key of NAME, as "type base64".
host_key() { cut -d' ' -f1,2 "$HOSTS_DIR/hosts/$1/ssh_host_ed25519_key.pub"; }

# True when PID does not run. A zombie does not: a process orphaned on a
# host (its parent, the session's shell, exited) is reaped by init, which
# may take its time. (A plain "! cmd" line cannot fail a bats test: set -e
# ignores it; a function returning false does.)
gone() { # PID
	! _hosts_alive "$1"
}

ns_exists() { # NS
	ip netns list | awk '{ print $1 }' | grep -qxF "$1"
}

@test "two hosts answer over ssh with the generated config, each on its own address, never prompting" {
	hosts_setup 2
	[ "$HOST_ADDR_1" != "$HOST_ADDR_2" ]
	# SSH_CONNECTION's third field is the address the host was reached on
	run hssh host1 'echo $SSH_CONNECTION' < /dev/null
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | cut -d' ' -f3)" = "$HOST_ADDR_1" ]
	run hssh host2 'echo $SSH_CONNECTION' < /dev/null
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | cut -d' ' -f3)" = "$HOST_ADDR_2" ]
	# each has its own address and not the other's
	run hssh host1 'ip -4 -o addr show' < /dev/null
	[[ $output == *" $HOST_ADDR_1/30 "* ]]
	[[ $output != *" $HOST_ADDR_2/"* ]]
	run hssh host2 'ip -4 -o addr show' < /dev/null
	[[ $output == *" $HOST_ADDR_2/30 "* ]]
	[[ $output != *" $HOST_ADDR_1/"* ]]
	# a program running plain ssh or scp gets the config from the wrappers
	echo payload > "$T/f"
	PATH=$HOSTS_BIN:$PATH run scp -q "$T/f" "host2:/tmp/cutover-hosts-scp-$HOSTS_ID"
	[ "$status" -eq 0 ]
	PATH=$HOSTS_BIN:$PATH run ssh host2 "cat /tmp/cutover-hosts-scp-$HOSTS_ID && rm /tmp/cutover-hosts-scp-$HOSTS_ID"
	[ "$output" = payload ]
	# host keys are checked, not accepted: a host whose key is not known
	# fails at once instead of asking (BatchMode, StrictHostKeyChecking)
	run timeout 10 ssh -F "$HOSTS_SSH_CONFIG" -o UserKnownHostsFile=/dev/null host1 true < /dev/null
	[ "$status" -eq 255 ]
	[[ $output == *"Host key verification failed"* ]]
}

@test "each host is its own network namespace: its 127.0.0.1 is its own sshd, the other host is out of reach" {
	hosts_setup 2
	# Both sshds listen on 127.0.0.1:22, which only works in two namespaces;
	# from inside each host, that port answers with that host's key.
	run hssh host1 'ssh-keyscan -t ed25519 127.0.0.1 2> /dev/null' < /dev/null
	[ "$status" -eq 0 ]
	[ "${output#127.0.0.1 }" = "$(host_key host1)" ]
	run hssh host2 'ssh-keyscan -t ed25519 127.0.0.1 2> /dev/null' < /dev/null
	[ "${output#127.0.0.1 }" = "$(host_key host2)" ]
	[ "$(host_key host1)" != "$(host_key host2)" ]
	# host1 has no route to host2 (nor anywhere but the machine)
	run hssh host1 "timeout 3 bash -c 'exec 3<> /dev/tcp/$HOST_ADDR_2/22' 2>&1" < /dev/null
	[ "$status" -ne 0 ]
	[[ $output == *"unreachable"* ]]
	run hssh host1 'ip route show default' < /dev/null
	[ -z "$output" ]
}

@test "cutting a host's link makes ssh to it fail fast and leaves the others alone; restoring it brings ssh back" {
	hosts_setup 2
	hssh host1 true < /dev/null
	host_link_down host1
	# packets for the cut host still go to its veth, where they are
	# dropped, and never out by the default route
	run ip -o route get "$HOST_ADDR_1"
	[[ $output == *" dev $(cat "$HOSTS_DIR/hosts/host1/veth") "* ]]
	local start=$SECONDS
	run hssh host1 true < /dev/null
	[ "$status" -eq 255 ]
	# ConnectTimeout is 5 s (the margin is for a loaded machine; without
	# it, TCP would try for two minutes)
	[ $((SECONDS - start)) -le 12 ]
	run hssh host2 true < /dev/null
	[ "$status" -eq 0 ]
	# an open session notices within ServerAliveInterval * CountMax (6 s)
	host_link_up host1
	hssh host1 'echo open; sleep 60' > "$T/session" 2>&1 < /dev/null 3>&- &
	local client=$!
	for ((i = 0; i < 50; i++)); do grep -q open "$T/session" && break; sleep 0.1; done
	grep -q open "$T/session"
	start=$SECONDS
	host_link_down host1
	local rc=0
	wait "$client" || rc=$?
	[ "$rc" -eq 255 ]
	[ $((SECONDS - start)) -le 15 ]
	host_link_up host1
	run hssh host1 'echo back' < /dev/null
	[ "$status" -eq 0 ]
	[ "$output" = back ]
}

@test "killing a host's sshd ends its open sessions and what they run; it starts again" {
	hosts_setup 1
	# the remote shell prints its pid, then execs sleep under that pid
	hssh host1 'echo $$; exec sleep 60' > "$T/session" 2> /dev/null < /dev/null 3>&- &
	local client=$!
	for ((i = 0; i < 50; i++)); do [ -s "$T/session" ] && break; sleep 0.1; done
	local remote
	remote=$(cat "$T/session")
	[ -n "$remote" ]
	kill -0 "$remote"
	host_kill_sshd host1
	local rc=0
	wait "$client" || rc=$?
	[ "$rc" -eq 255 ]
	gone "$remote"
	gone "$(host_sshd_pid host1)"
	run hssh host1 true < /dev/null
	[ "$status" -eq 255 ]
	host_start_sshd host1
	run hssh host1 'echo again' < /dev/null
	[ "$output" = again ]
}

@test "the bare host is a bare Debian 12 and runs a static binary piped over ssh" {
	bare_host_setup
	run hssh bare cat /etc/debian_version < /dev/null
	[ "$status" -eq 0 ]
	[[ $output == 12.* ]]
	# none of cutover's libraries, no compiler, no -dev package
	run hssh bare 'ls /usr/lib/x86_64-linux-gnu/ | grep -c -e libyaml -e libhttp_parser -e libarchive' < /dev/null
	[ "$output" = 0 ]
	run hssh bare "dpkg-query -W -f '\${Package}\n' | grep -c -e '-dev\$' -e '^gcc\$' -e '^libyaml' -e '^libarchive' -e '^libhttp-parser'" < /dev/null
	[ "$output" = 0 ]
	run hssh bare 'command -v gcc cc make' < /dev/null
	[ -z "$output" ]
	# it is not the machine: the machine has libyaml (cutover's build needs it)
	compgen -G '/usr/lib/x86_64-linux-gnu/libyaml*' > /dev/null
	# a static binary, piped over ssh stdin, runs there
	printf '#include <stdio.h>\nint main(void) { puts("static ok"); return 0; }\n' > "$T/t.c"
	gcc -static -O2 -o "$T/t" "$T/t.c"
	run hssh bare 'cat > /root/t && chmod +x /root/t && /root/t' < "$T/t"
	[ "$status" -eq 0 ]
	[ "$output" = "static ok" ]
	# one that needs libyaml does not (so the bare host can catch that)
	printf '#include <yaml.h>\n#include <stdio.h>\nint main(void) { puts(yaml_get_version_string()); return 0; }\n' > "$T/y.c"
	gcc -O2 -o "$T/y" "$T/y.c" -lyaml
	"$T/y"
	# (127: the loader cannot find a library)
	run -127 hssh bare 'cat > /root/y && chmod +x /root/y && /root/y' < "$T/y"
	[[ $output == *"libyaml"*"No such file"* ]]
	# scp works (over the SFTP subsystem, the default of scp)
	scp -q -F "$HOSTS_SSH_CONFIG" "$T/t" bare:/tmp/t2
	run hssh bare 'sha256sum < /tmp/t2' < /dev/null
	[ "${output%% *}" = "$(sha256sum < "$T/t" | cut -d' ' -f1)" ]
	# what the test wrote is in this run's layer, not in the cached root
	[ -x "$BARE_ROOT_VIEW/root/t" ]
	[ ! -e "$(scripts/bare-host.sh path)/root/t" ]
	[ ! -e "$(scripts/bare-host.sh path)/tmp/t2" ]
}

@test "teardown leaves no sshd, command, namespace, veth, mount or directory of the run, and can run twice" {
	hosts_setup 2
	bare_host_setup
	local pids=() names=() veths=() dir=$HOSTS_DIR id=$HOSTS_ID h stray bare_mnt
	for h in host1 host2 bare; do
		pids+=("$(host_sshd_pid "$h")")
		names+=("$(host_ns "$h")")
		veths+=("$(cat "$HOSTS_DIR/hosts/$h/veth")")
	done
	pids+=("$(cat "$HOSTS_DIR/hosts/bare/holder.pid")")
	bare_mnt=$(readlink "/proc/$(host_sshd_pid bare)/ns/mnt")
	# a command left running on a host, detached from its session
	stray=$(hssh host1 'sleep 300 > /dev/null 2>&1 < /dev/null & echo $!' < /dev/null)
	pids+=("$stray")
	for h in "${pids[@]}"; do kill -0 "$h"; done
	# the bare root's mounts are in its own namespace, never on the machine
	run grep -c cutover-bare /proc/self/mounts
	[ "$output" = 0 ]

	hosts_teardown

	for h in "${pids[@]}"; do
		gone "$h" || { echo "process $h is still running" >&2; false; }
	done
	for h in "${names[@]}"; do
		! ns_exists "$h" || { echo "namespace $h is still there" >&2; false; }
	done
	run ip -o link show
	for h in "${veths[@]}"; do
		[[ $output != *"$h"* ]] || { echo "veth $h is still there" >&2; false; }
	done
	# no process is left in the bare host's mount namespace, so it is gone
	for h in /proc/[0-9]*; do
		[ "$(readlink "$h/ns/mnt" 2> /dev/null)" != "$bare_mnt" ] ||
			{ echo "process ${h#/proc/} is in the bare host's mount namespace" >&2; false; }
	done
	[ ! -e "$dir" ]
	[ ! -e "/run/cutover-tests/$id.owner" ]
	[ -z "${HOSTS_DIR:-}" ]
	run hosts_teardown
	[ "$status" -eq 0 ]
}

@test "what a killed run left behind is removed by the next setup" {
	# A run that dies without its teardown (kill -9), leaving its sshd
	# running in its namespace.
	bash -c '
		BATS_TEST_DIRNAME=$1
		source "$1/hosts.bash"
		hosts_setup 1 || exit 1
		echo "$(host_sshd_pid host1) $(host_ns host1) $HOSTS_DIR" > "$2"
		kill -KILL $$
	' - "$BATS_TEST_DIRNAME" "$T/orphan" 3>&- || true
	local pid ns dir
	read -r pid ns dir < "$T/orphan"
	kill -0 "$pid"
	ns_exists "$ns"
	[ -d "$dir" ]

	hosts_setup 1

	gone "$pid"
	run ns_exists "$ns"
	[ "$status" -eq 1 ]
	[ ! -e "$dir" ]
	# and the new run works
	run hssh host1 true < /dev/null
	[ "$status" -eq 0 ]
}
