# Remote test hosts on this machine, for the deploy-over-SSH tests
# (`load hosts` in tests/e2e/*.bats). See docs/testing.md.
#
#   hosts_setup N       host1..hostN: each a network namespace with its own
#                       address on a veth pair and its own sshd (the
#                       machine's /usr/sbin/sshd, the machine's file system)
#   bare_host_setup     "bare": the minimal Debian 12 root of
#                       scripts/bare-host.sh, chrooted, behind its own sshd in
#                       its own network and mount namespace, with a per-run
#                       writable overlay
#   hssh NAME CMD...    ssh to a host with the generated client config
#   hosts_teardown      stops everything the setup started, by pid; deletes
#                       the namespaces; removes $HOSTS_DIR; safe to call twice
#                       and after a failed or half-done setup
#
# After setup: HOSTS_DIR (the run's directory), HOSTS_SSH_CONFIG (for ssh -F),
# HOSTS_BIN (ssh/scp/sftp wrappers using that config: PATH=$HOSTS_BIN:$PATH),
# HOST_ADDR_1.. and BARE_ADDR (each host's address), HOSTS_NAMES (array).
#
# Names. A run has a random 6-hex-digit id. Its namespaces are cuth-ID-1..N
# and cuth-ID-bare; its veth pairs cuIDrK (machine side) and cuIDnK (host
# side), K = 1..N or b. /run/cutover-tests/ID.owner records the process that
# owns the run (pid and start time): hosts_sweep_stale, run by every setup,
# deletes what a killed run left behind.
#
# Addresses. Each host gets a /30 from 10.213.0.0/16 (HOSTS_NET=10.213):
# .1 on the machine side, .2 on the host side; the first free /30 on the
# machine is taken under a lock, so parallel runs never collide. Hosts have
# no default route: they reach the machine and nothing else.
#
# Processes. Everything a host runs (its sshd, every connection, every
# command run over ssh) is inside its network namespace; teardown kills what
# `ip netns pids` lists there, so nothing survives a test, not even a command
# left running on a host.

PATH=$PATH:/usr/sbin:/sbin
HOSTS_REPO=${HOSTS_REPO:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
HOSTS_NET=${HOSTS_NET:-10.213}
HOSTS_STATE=/run/cutover-tests
HOSTS_PREFIX=cuth
# bats >= 1.7 fails a test that runs longer than this; teardown still runs.
# The first build of the bare root takes longer: do it in setup_file
# (bare_host_build), which this limit does not cover.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}

_hosts_err() { echo "hosts: $*" >&2; }

# bats runs all of this under set -e: a command that may fail on purpose
# (kill of a process that just exited, delete of what is already gone) ends
# in "|| true", so a teardown never stops half way.

# Start time of PID (field 22 of /proc/PID/stat), to tell a pid from a later
# process that reused it. Prints nothing when there is no such process.
_hosts_starttime() {
	local stat fields
	stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 0
	stat=${stat##*) } # the command name may hold spaces and parentheses
	read -ra fields <<< "$stat"
	echo "${fields[19]}"
}

# True while PID is a running (not zombie) process.
_hosts_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Kill PIDS... with TERM, then KILL what is left after a second; returns when
# all are gone (at most about 3 s). Pids only, never names.
_hosts_kill_pids() {
	local pid left i
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2> /dev/null || true
	for ((i = 0; i < 60; i++)); do
		left=()
		for pid in "$@"; do
			_hosts_alive "$pid" && left+=("$pid")
		done
		[ ${#left[@]} -eq 0 ] && break
		if [ "$i" = 20 ]; then kill -KILL "${left[@]}" 2> /dev/null || true; fi
		sleep 0.05
	done
	return 0
}

_hosts_ns_exists() { # NS
	ip netns list | awk '{ print $1 }' | grep -qxF "$1"
}

# Kill every process in network namespace NS (sshd, its connections, the
# commands they run, the bare host's mount holder).
_hosts_kill_ns() {
	local ns=$1 pids
	_hosts_ns_exists "$ns" || return 0
	pids=$(ip netns pids "$ns" 2> /dev/null) || true
	# shellcheck disable=SC2086 # a list of pids
	_hosts_kill_pids $pids
	pids=$(ip netns pids "$ns" 2> /dev/null) || true
	[ -z "$pids" ] || _hosts_err "processes $pids in namespace '$ns' did not die"
}

# Delete namespace NS and the veth pairs whose machine side matches the
# glob VETHS (cuIDrK, or cuID* for all of a run). The veth is deleted first
# and explicitly: the kernel destroys a deleted namespace's devices later, in
# the background, and a test that checks right after teardown must find them
# gone.
_hosts_del_net() { # NS VETHS
	local ns=$1 veths=$2 link
	_hosts_kill_ns "$ns"
	# Only names of ours: an empty or odd pattern must never match eth0.
	[[ $veths =~ ^cu[0-9a-f]{6}(r[0-9b]+|\*)$ ]] || veths=
	for link in $(ip -o link show 2> /dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		# shellcheck disable=SC2053 # a glob on purpose
		if [ -n "$veths" ] && [[ $link == $veths ]]; then ip link del "$link" 2> /dev/null || true; fi
	done
	if _hosts_ns_exists "$ns"; then
		ip netns del "$ns" || _hosts_err "cannot delete namespace '$ns'; delete it with: ip netns del $ns"
	fi
	return 0
}

# Remove what runs killed before their teardown left: for every owner file
# in /run/cutover-tests whose process is gone, its namespaces (and what runs
# in them), veth pairs and directory; then namespaces with our prefix that no
# owner file claims (a run killed between the two).
hosts_sweep_stale() {
	local f id pid start dir ns
	mkdir -p "$HOSTS_STATE"
	for f in "$HOSTS_STATE"/*.owner; do
		[ -e "$f" ] || continue
		id=${f##*/}
		id=${id%.owner}
		[[ $id =~ ^[0-9a-f]{6}$ ]] || continue
		pid='' start='' dir=''
		read -r pid start dir < "$f" || true
		if [ -n "$pid" ] && [ "$(_hosts_starttime "$pid")" = "$start" ]; then
			continue # its owner is alive: a parallel run
		fi
		echo "# hosts: removing run $id left by process $pid" >&2
		for ns in $(ip netns list | awk '{ print $1 }'); do
			[[ $ns == "$HOSTS_PREFIX-$id-"* ]] && _hosts_del_net "$ns" "cu$id*"
		done
		if [[ $dir == /tmp/cutover-hosts.* ]]; then rm -rf --one-file-system "$dir" || true; fi
		rm -f "$f"
	done
	for ns in $(ip netns list | awk '{ print $1 }'); do
		[[ $ns == "$HOSTS_PREFIX"-*-* ]] || continue
		id=${ns#"$HOSTS_PREFIX"-}
		id=${id%%-*}
		[[ $id =~ ^[0-9a-f]{6}$ ]] || continue
		[ -e "$HOSTS_STATE/$id.owner" ] && continue
		echo "# hosts: removing namespace $ns, no run owns it" >&2
		_hosts_del_net "$ns" "cu$id*"
	done
	return 0
}

# The run's directory, id, owner file, client key and ssh wrappers; once per
# run (hosts_setup and bare_host_setup both call it).
_hosts_init() {
	[ -n "${HOSTS_DIR:-}" ] && [ -d "$HOSTS_DIR" ] && return 0
	local f
	for f in ip ssh ssh-keygen /usr/sbin/sshd flock nsenter unshare; do
		command -v "$f" > /dev/null ||
			{ _hosts_err "'$f' is not installed; run: scripts/deps.sh test"; return 1; }
	done
	[ "$(id -u)" = 0 ] || { _hosts_err "the remote hosts need root (namespaces, veth, sshd)"; return 1; }
	hosts_sweep_stale
	umask 022
	# A fresh id: its owner file is created exclusively (noclobber).
	while :; do
		HOSTS_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
		(set -C; echo "$$ $(_hosts_starttime $$) -" > "$HOSTS_STATE/$HOSTS_ID.owner") 2> /dev/null && break
	done
	HOSTS_DIR=$(mktemp -d /tmp/cutover-hosts.XXXXXX) ||
		{ rm -f "$HOSTS_STATE/$HOSTS_ID.owner"; _hosts_err "cannot make a directory in /tmp"; return 1; }
	echo "$$ $(_hosts_starttime $$) $HOSTS_DIR" > "$HOSTS_STATE/$HOSTS_ID.owner"
	echo "$HOSTS_ID" > "$HOSTS_DIR/id"
	HOSTS_SSH_CONFIG=$HOSTS_DIR/ssh_config
	HOSTS_BIN=$HOSTS_DIR/bin
	HOSTS_NAMES=()
	export HOSTS_ID HOSTS_DIR HOSTS_SSH_CONFIG HOSTS_BIN
	mkdir -p "$HOSTS_DIR/hosts" "$HOSTS_DIR/client" "$HOSTS_BIN"
	: > "$HOSTS_DIR/known_hosts"
	ssh-keygen -q -t ed25519 -N '' -C "cutover-tests-client-$HOSTS_ID" -f "$HOSTS_DIR/client/id_ed25519" ||
		{ _hosts_err "ssh-keygen failed for the client key"; return 1; }
	cp "$HOSTS_DIR/client/id_ed25519.pub" "$HOSTS_DIR/client/authorized_keys"
	# For programs that run plain ssh/scp/sftp (scp and sftp run
	# /usr/bin/ssh, not the one on PATH, so they get their own wrapper).
	for f in ssh scp sftp; do
		printf '#!/bin/sh\nexec /usr/bin/%s -F %s "$@"\n' "$f" "$HOSTS_SSH_CONFIG" > "$HOSTS_BIN/$f"
		chmod 755 "$HOSTS_BIN/$f"
	done
	_hosts_write_ssh_config
	# sshd's privilege separation directory (normally made by systemd).
	[ -d /run/sshd ] || mkdir -m 755 /run/sshd
}

# (Re)writes the client config from the hosts made so far; atomically, so a
# client running meanwhile reads the old one or the new one.
_hosts_write_ssh_config() {
	local d name
	{
		echo "# cutover test hosts, run $HOSTS_ID"
		for d in "$HOSTS_DIR"/hosts/*/; do
			[ -s "$d/addr" ] || continue
			name=$(basename "$d")
			printf 'Host %s\n\tHostName %s\n' "$name" "$(cat "$d/addr")"
		done
		echo 'Host *'
		printf '\t%s\n' \
			'User root' \
			"IdentityFile $HOSTS_DIR/client/id_ed25519" \
			'IdentitiesOnly yes' \
			"UserKnownHostsFile $HOSTS_DIR/known_hosts" \
			'GlobalKnownHostsFile /dev/null' \
			'StrictHostKeyChecking yes' \
			'CheckHostIP no' \
			'BatchMode yes' \
			'ConnectTimeout 5' \
			'# a cut link ends an open session within about 6 s' \
			'ServerAliveInterval 2' \
			'ServerAliveCountMax 3' \
			'LogLevel ERROR'
	} > "$HOSTS_SSH_CONFIG.tmp" && mv -f "$HOSTS_SSH_CONFIG.tmp" "$HOSTS_SSH_CONFIG"
}

# The first /30 of $HOSTS_NET.0.0/16 that no address on the machine uses,
# as the number of the /30 (0..16383). Call with the allocation lock held.
_hosts_free_slot() {
	local used slot
	used=" $(ip -4 -o addr show | awk -v net="$HOSTS_NET." '
		index($4, net) == 1 { split($4, a, "[./]"); printf "%d ", a[3] * 64 + int(a[4] / 4) }')"
	for ((slot = 0; slot < 16384; slot++)); do
		[[ $used == *" $slot "* ]] || { echo "$slot"; return 0; }
	done
	return 1
}

# The network of host NAME (K = its veth suffix): a namespace, lo up, a veth
# pair with a free /30. Every name is written to the host's directory before
# it is created, so teardown finds it after any failure.
_hosts_net_add() { # NAME K
	local name=$1 k=$2 d=$HOSTS_DIR/hosts/$1 ns vr vn
	ns=$HOSTS_PREFIX-$HOSTS_ID-${k/b/bare}
	vr=cu${HOSTS_ID}r$k vn=cu${HOSTS_ID}n$k
	mkdir -p "$d"
	echo "$ns" > "$d/ns"
	echo "$vr" > "$d/veth"
	echo "$vn" > "$d/peer"
	ip netns add "$ns" || { _hosts_err "cannot create network namespace '$ns'"; return 1; }
	ip -n "$ns" link set lo up || { _hosts_err "cannot bring up lo in '$ns'"; return 1; }
	# A route elsewhere that covers our range would mean the range is in use.
	if ip -4 route show match "$HOSTS_NET.0.0/16" | grep -qv '^default'; then
		_hosts_err "$HOSTS_NET.0.0/16 is routed on this machine ($(ip -4 route show match "$HOSTS_NET.0.0/16" | grep -v '^default' | head -1)); choose another range with HOSTS_NET=10.X"
		return 1
	fi
	(
		flock 8
		slot=$(_hosts_free_slot) || { _hosts_err "no free /30 left in $HOSTS_NET.0.0/16"; exit 1; }
		base=$HOSTS_NET.$((slot / 64)).$((slot % 64 * 4))
		IFS=. read -r a b c o <<< "$base"
		ip link add "$vr" type veth peer name "$vn" netns "$ns" ||
			{ _hosts_err "cannot create veth pair '$vr'/'$vn'"; exit 1; }
		ip addr add "$a.$b.$c.$((o + 1))/30" dev "$vr" ||
			{ _hosts_err "cannot add $a.$b.$c.$((o + 1))/30 to '$vr'"; exit 1; }
		echo "$a.$b.$c.$((o + 1))" > "$d/gateway"
		echo "$a.$b.$c.$((o + 2))" > "$d/addr"
	) 8> "$HOSTS_STATE/addr.lock" || return 1
	# No IPv6 on the pair: no link-local chatter, no DAD delay.
	sysctl -qw "net.ipv6.conf.$vr.disable_ipv6=1" 2> /dev/null || true
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$vn.disable_ipv6=1" 2> /dev/null || true
	if ! { ip link set "$vr" up &&
		ip -n "$ns" addr add "$(cat "$d/addr")/30" dev "$vn" &&
		ip -n "$ns" link set "$vn" up; }; then
		_hosts_err "cannot configure the veth pair of '$name'"
		return 1
	fi
}

# A per-run ed25519 host key for NAME in FILE, added to known_hosts.
_hosts_host_key() { # NAME FILE
	ssh-keygen -q -t ed25519 -N '' -C "cutover-tests-$1-$HOSTS_ID" -f "$2" ||
		{ _hosts_err "ssh-keygen failed for the host key of '$1'"; return 1; }
	echo "$(cat "$HOSTS_DIR/hosts/$1/addr") $(cut -d' ' -f1,2 "$2.pub")" >> "$HOSTS_DIR/known_hosts"
}

# sshd options shared by every host. KEYDIR and AUTHKEYS are paths as sshd
# sees them (inside the chroot for the bare host).
_hosts_sshd_config() { # ADDR KEYDIR AUTHKEYS PIDFILE
	cat <<-EOF
	# cutover test host, run $HOSTS_ID
	ListenAddress $1:22
	# each namespace has its own loopback: this is this host's 127.0.0.1
	ListenAddress 127.0.0.1:22
	HostKey $2/ssh_host_ed25519_key
	PidFile $4
	PermitRootLogin prohibit-password
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	AuthorizedKeysFile $3
	# the test directory is under /tmp (world-writable): skip the owner checks
	StrictModes no
	UsePAM no
	UseDNS no
	PrintMotd no
	PrintLastLog no
	MaxStartups 100:30:200
	MaxSessions 100
	Subsystem sftp internal-sftp
	EOF
}

# Starts host NAME's sshd (in the background, output to its sshd.log) with
# the command line in its sshd.cmd, records the pid, and waits until it
# accepts connections on its address.
host_start_sshd() { # NAME
	local name=$1 d=$HOSTS_DIR/hosts/$1 pid i
	[ -s "$d/sshd.cmd" ] || { _hosts_err "no host '$name'"; return 1; }
	local -a cmd
	mapfile -t cmd < "$d/sshd.cmd"
	# 3>&-: bats waits for fd 3 to close; a server must not hold it.
	"${cmd[@]}" >> "$d/sshd.log" 2>&1 < /dev/null 3>&- &
	pid=$!
	disown "$pid" # no "Killed" notice from bash when a test kills it
	echo "$pid" > "$d/sshd.pid"
	for ((i = 0; i < 100; i++)); do
		_hosts_alive "$pid" ||
			{ _hosts_err "sshd of '$name' exited; its log:"; tail -n 20 "$d/sshd.log" >&2; return 1; }
		(exec 9<> "/dev/tcp/$(cat "$d/addr")/22") 2> /dev/null && return 0
		sleep 0.05
	done
	_hosts_err "sshd of '$name' (pid $pid) does not accept connections on $(cat "$d/addr"):22 after 5 s; its log:"
	tail -n 20 "$d/sshd.log" >&2
	return 1
}

# hosts_setup N: host1..hostN (added to the hosts of this run, if any).
hosts_setup() {
	local n=${1:?usage: hosts_setup N} i name d
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 99 ]; then
		_hosts_err "hosts_setup: N must be 1..99, not '$n'"
		return 1
	fi
	_hosts_init || return 1
	for ((i = 1; i <= n; i++)); do
		name=host$i d=$HOSTS_DIR/hosts/host$i
		[ -e "$d" ] && continue
		_hosts_net_add "$name" "$i" || return 1
		_hosts_host_key "$name" "$d/ssh_host_ed25519_key" || return 1
		_hosts_sshd_config "$(cat "$d/addr")" "$d" "$HOSTS_DIR/client/authorized_keys" "$d/sshd.pidfile" > "$d/sshd_config"
		# ip netns exec and sshd -D exec in place: the pid is sshd's.
		printf '%s\n' ip netns exec "$(cat "$d/ns")" /usr/sbin/sshd -D -e -f "$d/sshd_config" > "$d/sshd.cmd"
		host_start_sshd "$name" || return 1
		HOSTS_NAMES+=("$name")
		export "HOST_ADDR_$i=$(cat "$d/addr")"
	done
	_hosts_write_ssh_config
}

# bare_host_build: builds the bare root if it is not cached (about 40-60 s
# the first time); call it from setup_file, which BATS_TEST_TIMEOUT does not
# limit.
bare_host_build() {
	"$HOSTS_REPO/scripts/bare-host.sh" build >&2
}

# bare_host_setup: host "bare", the bare root served by its own sshd. In a
# private mount namespace (which only the host's processes share, so it
# vanishes with them), a holder process mounts:
#   $HOSTS_DIR/hosts/bare/rw    tmpfs with the overlay's upper and work dirs
#   $HOSTS_DIR/hosts/bare/root  overlay: the cached root, read-only, below
#                               this run's writable layer
#   root/proc, root/sys, root/dev (tmpfs with null, zero, full, random,
#   urandom, tty bound from the machine, a private devpts, a tmpfs on
#   dev/shm), root/run (tmpfs, with sshd's privilege separation dir)
# and sshd runs chrooted into root/ (nsenter into the holder's namespaces).
# The cached root is never written to; what a test writes on the bare host
# is gone at teardown. From the machine, the host's files are under
# $BARE_ROOT_VIEW (the overlay, seen through the holder's /proc/PID/root)
# while it runs.
bare_host_setup() {
	local d lower holder i
	lower=$("$HOSTS_REPO/scripts/bare-host.sh" path) ||
		{ _hosts_err "the bare root is not built; call bare_host_build in setup_file (or run scripts/bare-host.sh build)"; return 1; }
	_hosts_init || return 1
	d=$HOSTS_DIR/hosts/bare
	[ -e "$d" ] && return 0
	_hosts_net_add bare b || return 1
	mkdir -p "$d/rw" "$d/root" "$d/etc"
	# What goes into the root's /etc/ssh/cutover and /root/.ssh.
	_hosts_host_key bare "$d/etc/ssh_host_ed25519_key" || return 1
	_hosts_sshd_config "$(cat "$d/addr")" /etc/ssh/cutover /root/.ssh/authorized_keys /run/sshd.pid > "$d/etc/sshd_config"
	cat > "$d/mount.sh" <<-EOF
	# Runs in the bare host's private mount namespace; then holds it.
	set -e
	m=$d/root
	mount -t tmpfs -o mode=755,size=2g cutover-bare-rw $d/rw
	mkdir $d/rw/upper $d/rw/work
	mount -t overlay -o lowerdir=$lower,upperdir=$d/rw/upper,workdir=$d/rw/work cutover-bare \$m
	mount -t proc -o nosuid,nodev,noexec proc \$m/proc
	mount -t sysfs -o nosuid,nodev,noexec,ro sysfs \$m/sys
	mount -t tmpfs -o mode=755,size=1m,nosuid cutover-bare-dev \$m/dev
	for f in null zero full random urandom tty; do
		touch \$m/dev/\$f
		mount --bind /dev/\$f \$m/dev/\$f
	done
	mkdir \$m/dev/pts \$m/dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts \$m/dev/pts
	mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev cutover-bare-shm \$m/dev/shm
	ln -s pts/ptmx \$m/dev/ptmx
	ln -s /proc/self/fd \$m/dev/fd
	ln -s /proc/self/fd/0 \$m/dev/stdin
	ln -s /proc/self/fd/1 \$m/dev/stdout
	ln -s /proc/self/fd/2 \$m/dev/stderr
	mount -t tmpfs -o mode=755,size=64m,nosuid,nodev cutover-bare-run \$m/run
	mkdir -m 755 \$m/run/sshd
	mkdir -p -m 755 \$m/etc/ssh/cutover
	cp $d/etc/* \$m/etc/ssh/cutover/
	chmod 600 \$m/etc/ssh/cutover/ssh_host_ed25519_key
	mkdir -p -m 700 \$m/root/.ssh
	install -m 600 $HOSTS_DIR/client/authorized_keys \$m/root/.ssh/authorized_keys
	touch $d/mounted
	exec sleep infinity
	EOF
	# ip netns exec already gives its command a mount namespace of its own
	# (to mount the namespace's /sys) with / a slave of the machine's, so
	# mounts do not travel back; unshare makes that explicit and private,
	# whatever ip does.
	ip netns exec "$(cat "$d/ns")" unshare --mount --propagation private \
		/bin/sh "$d/mount.sh" > "$d/mount.log" 2>&1 < /dev/null 3>&- &
	holder=$!
	disown "$holder"
	echo "$holder" > "$d/holder.pid"
	for ((i = 0; i < 100; i++)); do
		[ -e "$d/mounted" ] && break
		_hosts_alive "$holder" ||
			{ _hosts_err "mounting the bare root failed:"; cat "$d/mount.log" >&2; return 1; }
		sleep 0.05
	done
	[ -e "$d/mounted" ] || { _hosts_err "mounting the bare root took more than 5 s:"; cat "$d/mount.log" >&2; return 1; }
	# nsenter and chroot exec in place: the pid is the bare root's sshd's.
	printf '%s\n' nsenter --target "$holder" --mount --net -- \
		chroot "$d/root" /usr/sbin/sshd -D -e -f /etc/ssh/cutover/sshd_config > "$d/sshd.cmd"
	host_start_sshd bare || return 1
	HOSTS_NAMES+=(bare)
	export BARE_ADDR BARE_ROOT_VIEW
	BARE_ADDR=$(cat "$d/addr")
	# the holder is not chrooted: its view of the overlay, which outlives
	# an sshd restart
	BARE_ROOT_VIEW=/proc/$holder/root$d/root
	_hosts_write_ssh_config
}

hssh() { # NAME CMD...
	/usr/bin/ssh -F "$HOSTS_SSH_CONFIG" "$@"
}

# The address, namespace or sshd pid of host NAME.
host_addr() { cat "$HOSTS_DIR/hosts/$1/addr"; }
host_ns() { cat "$HOSTS_DIR/hosts/$1/ns"; }
host_sshd_pid() { cat "$HOSTS_DIR/hosts/$1/sshd.pid"; }

# Cut host NAME off the network and restore it. The host's side of the veth
# goes down: packets to the host and from it are dropped, as with a pulled
# cable (new connections time out after ConnectTimeout, open sessions after
# ServerAliveInterval * ServerAliveCountMax). The machine's side stays up,
# on purpose: with it down, its route would go and packets for the host would
# follow the default route off the machine.
host_link_down() { # NAME
	ip -n "$(host_ns "$1")" link set "$(cat "$HOSTS_DIR/hosts/$1/peer")" down ||
		{ _hosts_err "cannot take the link of '$1' down"; return 1; }
}

# Returns once both sides report the link up (the kernel applies a carrier
# change up to a second later) and forgets the neighbour entries that failed
# while it was down, so the next connection goes through at once.
host_link_up() { # NAME
	local d=$HOSTS_DIR/hosts/$1 ns i
	ns=$(host_ns "$1") || return 1
	# The address stayed; the kernel puts its route back with the link.
	ip -n "$ns" link set "$(cat "$d/peer")" up ||
		{ _hosts_err "cannot bring the link of '$1' up"; return 1; }
	for ((i = 0; i < 60; i++)); do
		[ "$(cat "/sys/class/net/$(cat "$d/veth")/operstate")" = up ] &&
			ip -n "$ns" -o link show "$(cat "$d/peer")" | grep -q 'state UP' && break
		sleep 0.05
	done
	ip neigh flush dev "$(cat "$d/veth")" 2> /dev/null || true
	ip -n "$ns" neigh flush dev "$(cat "$d/peer")" 2> /dev/null || true
	[ "$i" -lt 60 ] || { _hosts_err "the link of '$1' is not up after 3 s"; return 1; }
}

# The pids of PID's descendants (from /proc, by parent pid), deepest last.
_hosts_descendants() { # PID
	local -A parent=()
	local -a todo=("$1") fields
	local f stat p cur
	for f in /proc/[0-9]*/stat; do
		stat=$(cat "$f" 2> /dev/null) || continue
		p=${f#/proc/}
		stat=${stat##*) }
		read -ra fields <<< "$stat"
		parent[${p%/stat}]=${fields[1]}
	done
	while [ ${#todo[@]} -gt 0 ]; do
		cur=${todo[0]}
		todo=("${todo[@]:1}")
		for p in "${!parent[@]}"; do
			if [ "${parent[$p]}" = "$cur" ]; then
				echo "$p"
				todo+=("$p")
			fi
		done
	done
	return 0
}

# host_kill_sshd NAME [SIGNAL]: kill host NAME's sshd, every connection it
# holds and every command run through them (SIGNAL, default KILL): ssh
# clients see their connections end. host_start_sshd NAME starts it again.
host_kill_sshd() { # NAME [SIGNAL]
	local pid sig=${2:-KILL} all
	pid=$(host_sshd_pid "$1") || return 1
	_hosts_alive "$pid" || return 0
	mapfile -t all < <(echo "$pid"; _hosts_descendants "$pid")
	kill "-$sig" "${all[@]}" 2> /dev/null || true
	_hosts_kill_pids "${all[@]}"
}

# hosts_teardown: stops every process of the run (by pid and namespace),
# deletes its namespaces and veth pairs, removes $HOSTS_DIR and the owner
# file. Works after any failure, and twice.
hosts_teardown() {
	[ -n "${HOSTS_DIR:-}" ] || return 0
	local d id
	if [ -d "$HOSTS_DIR" ]; then
		id=$(cat "$HOSTS_DIR/id" 2> /dev/null) || true
		for d in "$HOSTS_DIR"/hosts/*/; do
			[ -d "$d" ] || continue
			if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -s "$d/sshd.log" ]; then
				echo "--- sshd log of $(basename "$d") (last lines)"
				tail -n 15 "$d/sshd.log" || true
			fi
			# the recorded pids first (they may have left the namespace
			# setup half done), then everything in the namespace
			if [ -s "$d/sshd.pid" ]; then _hosts_kill_pids "$(cat "$d/sshd.pid")"; fi
			if [ -s "$d/holder.pid" ]; then _hosts_kill_pids "$(cat "$d/holder.pid")"; fi
			if [ -s "$d/ns" ]; then _hosts_del_net "$(cat "$d/ns")" "$(cat "$d/veth" 2> /dev/null)"; fi
		done
		if [ -n "${HOSTS_KEEP:-}" ]; then
			echo "# HOSTS_KEEP: left $HOSTS_DIR" >&2
		else
			rm -rf --one-file-system "$HOSTS_DIR" || true
		fi
	fi
	id=${id:-${HOSTS_ID:-}}
	if [ -n "$id" ]; then rm -f "$HOSTS_STATE/$id.owner"; fi
	unset HOSTS_DIR HOSTS_ID HOSTS_SSH_CONFIG HOSTS_BIN BARE_ADDR BARE_ROOT_VIEW
	HOSTS_NAMES=()
	local v
	for v in ${!HOST_ADDR_*}; do unset "$v"; done
	return 0
}
