#!/usr/bin/env bash
# shellcheck disable=SC2031 # keys such as "rsync -a, first" are not the variable a of hosts.bash
# remote-bench.sh: how fast cutover deploys to a host over ssh, how many
# bytes it sends and how much memory it takes, compared with rsync over ssh,
# Capistrano 3 and the floor that no tool can beat here (one ssh connection
# plus a cp -al of the tree on the host).
#
# usage: bench/remote-bench.sh        (from `make bench-remote`, which builds ./cutover)
#
# Needs root: the host is a network namespace with its own sshd, made by
# tests/e2e/hosts.bash (docs/testing.md), and removed on every exit.
#
# Environment (defaults in brackets):
#   CUTOVER      binary to test [./cutover of this repository]
#   BENCH_TMP    parent of the scratch directory [/var/tmp]; the source tree,
#                the git repository and every destination on the host live on
#                this one file system (the host shares the machine's)
#   BENCH_RUNS   runs of each measurement; the median is reported [3]
#   BENCH_FILES, BENCH_MIB, BENCH_DIRS, BENCH_SEED
#                the generated tree [20000 files, 200 MiB, 2000 directories, seed 42]
#   BENCH_LOG    append every measured command's output to this file [none]
#
# Method
#   * One host, host1: a network namespace joined to the machine by a veth
#     pair, with its own sshd (hosts_setup 1). Every tool reaches it with
#     OpenSSH and the generated client config (PATH=$HOSTS_BIN:$PATH), except
#     Capistrano, whose net-ssh reads the same config file (ssh_options
#     config:). Only the network is separate: the host writes to the same
#     file system, so the figures have no disk or network latency of a real
#     second machine in them; what they compare is the work each tool does.
#   * The tree is bench/gentree.py's, with the seed of release-bench.sh.
#   * Cases, each run round-robin (round 1 of every case, then round 2, ...):
#       - ssh host1 true: one connection, the first part of the floor.
#       - cp -al on the host, the second part: `ssh host1 cp -al OLD NEW` of
#         a copy of the tree, timed on the host ($EPOCHREALTIME around cp), so
#         that the connection is not counted twice. The floor is the sum of
#         the two medians; the table also shows the wall time of the whole
#         `ssh host1 cp -al` as seen by the client.
#       - first deploy: `cutover deploy TREE --to host1:ROOT` into a root made
#         with `cutover init ROOT` (as an admin would on the host: the host
#         has no agent yet, so the deploy installs the 6 MB binary too) with an
#         empty client stat cache, against `rsync -a TREE/ host1:DEST/`.
#       - one file changed: the first file (in sorted order) of 8-16 KiB gets
#         a new first line of the same length each round (same size, new
#         bytes, new mtime) and a new git commit. Then, in this order:
#           cutover deploy TREE --to host1:ROOT --keep 5 (the root holds the
#             previous deploys; the client's stat cache is warm);
#           rsync -a --link-dest=PREV TREE/ host1:NEW/ (NEW a new directory,
#             PREV the tree as it was before the change: as a release-based
#             rsync deploy does);
#           cap production deploy: Capistrano 3 with its default git strategy
#             (a mirror of the repository on the host, `git remote update`,
#             then `git archive | tar -x` into a new release), keep_releases 5.
#             The bare repository is on this machine, reached by the host by
#             its path on the shared file system, packed once at setup.
#         Setup deploys each tool once before the rounds, so with
#         BENCH_RUNS <= 4 neither cutover (--keep 5) nor Capistrano
#         (keep_releases 5) removes a release during a timed run.
#   * Before every timed run: `sync`, then the source tree is read into the
#     page cache (every file) and the previous trees on the host are walked
#     (every inode): every run starts warm and with nothing to write back.
#     Destinations are always fresh directories; nothing is deleted until the
#     end.
#   * Wall time from bash's `time`. Bytes: the machine side of the veth pair
#     counts every byte of every packet (IP and TCP headers, ssh framing)
#     exactly; "sent" is its tx_bytes (machine to host), "received" its
#     rx_bytes, read before and after each run. No other traffic uses it.
#   * Memory: the client runs under GNU time (`/usr/bin/time -f %M`): the
#     peak RSS of the largest single process of the command (cutover or its
#     ssh; rsync or its ssh; ruby for cap). The agent: cutover runs ssh as
#     $CUTOVER_SSH, here a wrapper that passes the remote command through
#     `/usr/bin/time -o FILE -f %M sh -c CMD` on the host; the bootstrap
#     execs the agent in that sh, so the figure is the agent's peak RSS (or
#     of the bootstrap's sha256sum/head, which are smaller). FILE is on the
#     shared file system.
#
# The verdict compares medians with the targets and prints MISSED for each one
# missed. The script still exits 0: a benchmark reports, it does not fail. It
# exits non-zero only when a command it measures fails.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
CUTOVER=${CUTOVER:-$repo/cutover}
RUNS=${BENCH_RUNS:-3}
FILES=${BENCH_FILES:-20000}
MIB=${BENCH_MIB:-200}
DIRS=${BENCH_DIRS:-2000}
SEED=${BENCH_SEED:-42}
TMPBASE=${BENCH_TMP:-/var/tmp}

die() { echo "remote-bench: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (the host is a network namespace with its own sshd)"
[ -x "$CUTOVER" ] || die "no cutover binary at $CUTOVER (run 'make bench-remote')"
for t in python3 rsync git cap ruby ssh /usr/sbin/sshd /usr/bin/time cp sync awk; do
	command -v "$t" >/dev/null || die "'$t' is needed (scripts/deps.sh bench installs it)"
done

# the test hosts' functions, written for bats, sourced here (HOSTS_REPO
# instead of bats' BATS_TEST_DIRNAME)
# shellcheck disable=SC2034 # read by hosts.bash
HOSTS_REPO=$repo
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/hosts.bash
. "$repo/tests/e2e/hosts.bash"

work=$(mktemp -d "$TMPBASE/cutover-remote-bench.XXXXXX")
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# quiet teardown (no sshd log) unless something failed
	# shellcheck disable=SC2034 # read by hosts_teardown
	[ "$rc" != 0 ] || BATS_TEST_COMPLETED=1
	hosts_teardown
	if [ -n "${work:-}" ] && [ -d "$work" ]; then
		log "removing $work"
		rm -rf "$work" 2>/dev/null || { chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"; }
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

src=$work/src
floor_prev=$work/floor-prev   # the host's "previous release" that cp -al links
rsync_prev=$work/rsync-prev   # the rsync deploy's previous release
root_one=$work/root-one       # the cutover root of the one-file deploys
cap_root=$work/cap            # Capistrano's deploy_to
git_repo=$work/repo.git
git_src=(git --git-dir="$git_repo" --work-tree="$src" -c core.bare=false
	-c user.name=bench -c user.email=bench@localhost -c gc.auto=0)
export XDG_CACHE_HOME=$work/cache # cutover's client stat caches
export BENCH_AGENT_RSS=$work/agent-rss
declare -A WALL SENT RECV RSS ARSS

# settle: flush everything dirty, read the source into the page cache and
# walk the host's previous trees (the inodes that linking them reads)
settle() {
	sync
	find "$src" -type f -print0 | xargs -0 cat >/dev/null
	find "$floor_prev" "$rsync_prev" "$root_one" "$cap_root" -printf '%s\n' >/dev/null 2>&1 || true
	if [ -d "$cap_root/repo" ]; then find "$cap_root/repo" -type f -print0 | xargs -0 cat >/dev/null; fi
}

veth_bytes() { # tx rx of the machine side of host1's veth
	echo "$(cat "/sys/class/net/$veth/statistics/tx_bytes") $(cat "/sys/class/net/$veth/statistics/rx_bytes")"
}

# timed NAME CMD...: run CMD once under GNU time; append its wall seconds,
# bytes sent and received on the veth, and its peak RSS to NAME's samples.
# The command's own output goes to $work/out (shown if it fails).
timed() {
	local name=$1
	shift
	local TIMEFORMAT='%R' wall tx0 rx0 tx1 rx1
	read -r tx0 rx0 <<<"$(veth_bytes)"
	if ! { time /usr/bin/time -o "$work/rss" -f %M "$@" >"$work/out" 2>&1; } 2>"$work/time"; then
		cat "$work/out" >&2
		die "'$*' failed"
	fi
	read -r tx1 rx1 <<<"$(veth_bytes)"
	read -r wall <"$work/time"
	if [ -n "${BENCH_LOG:-}" ]; then
		{ echo "## $name: $wall s"; cat "$work/out"; } >>"$BENCH_LOG"
	fi
	WALL[$name]+="$wall "
	SENT[$name]+="$((tx1 - tx0)) "
	RECV[$name]+="$((rx1 - rx0)) "
	RSS[$name]+="$(tail -n 1 "$work/rss") "
}

# cutover_timed NAME ARGS...: timed cutover ARGS, and the agent's peak RSS
cutover_timed() {
	local name=$1
	shift
	rm -f "$BENCH_AGENT_RSS"
	timed "$name" "$CUTOVER" "$@"
	[ -s "$BENCH_AGENT_RSS" ] || die "$name: the agent's peak RSS was not recorded"
	ARSS[$name]+="$(tail -n 1 "$BENCH_AGENT_RSS") "
}

add_to() { WALL[$1]+="$2 "; } # for a number timed outside `timed`

now() { local t=$EPOCHREALTIME; echo "${t/,/.}"; }

# "ext4 with a journal (/dev/vda)": what the results depend on
fs_desc() {
	local type dev
	type=$(df -T "$work" | awk 'NR == 2 { print $2 }')
	dev=$(df "$work" | awk 'NR == 2 { print $1 }')
	if [ "$type" = ext4 ] && [ -r "/sys/fs/ext4/${dev##*/}/journal_task" ]; then
		if grep -q none "/sys/fs/ext4/${dev##*/}/journal_task"; then
			type="ext4 without a journal"
		else
			type="ext4 with a journal"
		fi
	fi
	echo "$type ($dev)"
}

# stats "x y z": median min max
stats() {
	# shellcheck disable=SC2086 # a list of numbers
	printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
median() { stats "$1" | cut -d' ' -f1; }
bytes_median() { median "$1" | awk '{ printf "%.0f", $1 }'; }

change_file() { # change_file TAG: same size, new first 32 bytes, new mtime; committed
	printf '%-31.31s\n' "bench change $1 $$" | dd of="$changed" conv=notrunc status=none
	"${git_src[@]}" commit -q -m "$1" -- "$changed"
}

expect() { # expect NAME PATTERN: the last command's output must match
	grep -Eq "$2" "$work/out" || { cat "$work/out" >&2; die "$1: output does not match /$2/"; }
}

same_as_src() { # same_as_src NAME DIR: the changed file arrived in DIR
	cmp -s "$changed" "$2/${changed#"$src"/}" || die "$1: '$2' does not hold the changed file"
}

# ---------------------------------------------------------------- setup
log "cutover $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'), $(nproc) CPUs, kernel $(uname -r)"
log "$(rsync --version | head -n 1); Capistrano $(cap --version 2>/dev/null | awk '{ print $3 }'); $(ssh -V 2>&1)"
log "scratch directory $work on $(fs_desc)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average at start: $load_start"
bench_start=$(now)

log "starting host1 (a network namespace with its own sshd)"
hosts_setup 1
export PATH=$HOSTS_BIN:$PATH
veth=$(cat "$HOSTS_DIR/hosts/host1/veth")

log "generating the tree (seed $SEED)"
tree_info=$(python3 "$here/gentree.py" "$src" --files "$FILES" --mib "$MIB" --dirs "$DIRS" --seed "$SEED")
log "tree: $tree_info"
changed=$(find "$src" -type f -size +8k -size -17k | sort | awk 'NR == 1')
[ -n "$changed" ] || die "the generated tree has no file of 8-16 KiB to change"
changed_size=$(stat -c %s "$changed")
log "the one changed file: ${changed#"$src"/} ($changed_size bytes)"
cp -a "$src" "$floor_prev"

# ssh for cutover: the remote command runs under GNU time (see Method)
cat >"$work/agent-ssh" <<'EOF'
#!/usr/bin/env bash
cmd=${!#}
exec "$HOSTS_BIN/ssh" "${@:1:$#-1}" "/usr/bin/time -o $(printf %q "$BENCH_AGENT_RSS") -f %M sh -c $(printf %q "$cmd")"
EOF
chmod 755 "$work/agent-ssh"
export CUTOVER_SSH=$work/agent-ssh

log "the git repository (one commit of the tree, packed)"
git init -q --bare -b main "$git_repo"
"${git_src[@]}" add -A
"${git_src[@]}" commit -q -m "the tree"
git --git-dir="$git_repo" gc -q # a real repository is packed; loose objects would make every fetch start a gc

# the Capistrano project: the defaults, the git strategy, one server
mkdir -p "$work/cap-project/config/deploy" "$work/cap-tmp"
cat >"$work/cap-project/Capfile" <<'EOF'
require "capistrano/setup"
require "capistrano/deploy"
require "capistrano/scm/git"
install_plugin Capistrano::SCM::Git
EOF
cat >"$work/cap-project/config/deploy.rb" <<EOF
lock "~> 3.17"
set :application, "bench"
set :repo_url, "$git_repo"
set :branch, "main"
set :deploy_to, "$cap_root"
set :tmp_dir, "$work/cap-tmp"
set :keep_releases, 5
EOF
cat >"$work/cap-project/config/deploy/production.rb" <<EOF
server "host1", user: "root", roles: %w[app]
set :ssh_options, { config: "$HOSTS_SSH_CONFIG" }
EOF

log "setup deploys: cutover, rsync, Capistrano (each once)"
"$CUTOVER" --quiet init "$root_one" >/dev/null
"$CUTOVER" deploy "$src" --to "host1:$root_one" >"$work/out" 2>&1 || { cat "$work/out" >&2; die "cutover deploy failed"; }
rsync -a "$src/" "host1:$rsync_prev/"
t0=$(now)
(cd "$work/cap-project" && cap production deploy) >"$work/out" 2>&1 || { cat "$work/out" >&2; die "cap deploy failed"; }
cap_first=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
log "Capistrano's first deploy (setup, the mirror clone included): $cap_first s"
change_file setup-last
sleep 2.1 # older than cutover's stat cache margin, or nothing would be cached

# ---------------------------------------------------------------- rounds
for r in $(seq 1 "$RUNS"); do
	log "round $r/$RUNS"

	# the floor: one connection ...
	settle
	timed "ssh host1 true" ssh host1 true
	# ... and a tree of hard links on the host, timed there
	settle
	timed "ssh host1 cp -al" ssh host1 \
		"t0=\$EPOCHREALTIME; cp -al '$floor_prev' '$work/floor-$r' && echo \"cp-al \$t0 \$EPOCHREALTIME\""
	add_to "cp -al on the host" "$(awk '$1 == "cp-al" { printf "%.3f", $3 - $2 }' "$work/out")"

	# first deploy: cutover into a fresh root (installs the agent), rsync into a fresh directory
	"$CUTOVER" --quiet init "$work/root-first-$r" >/dev/null
	settle
	cutover_timed "cutover deploy, first" deploy "$src" --to "host1:$work/root-first-$r"
	expect "first deploy" '^deployed [^ ]+: '"$FILES"' files'
	settle
	timed "rsync -a, first" rsync -a "$src/" "host1:$work/rsync-first-$r/"

	# one file changed
	change_file "round-$r"
	settle
	cutover_timed "cutover deploy, 1 file changed" deploy "$src" --to "host1:$root_one" --keep 5
	expect "one-file deploy" ', 1 new \('
	same_as_src "cutover" "$root_one/current"
	settle
	timed "rsync -a --link-dest, 1 file changed" \
		rsync -a --link-dest="$rsync_prev" "$src/" "host1:$work/rsync-one-$r/"
	same_as_src "rsync" "$work/rsync-one-$r"
	settle
	timed "cap production deploy, 1 file changed" env -C "$work/cap-project" cap production deploy
	same_as_src "capistrano" "$cap_root/current"
done

# ---------------------------------------------------------------- report
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
size() { # bytes as B, KiB or MiB
	awk -v b="$1" 'BEGIN { if (b < 10240) printf "%d B", b; else if (b < 1048576) printf "%.1f KiB", b / 1024; else printf "%.2f MiB", b / 1048576 }'
}
rss() { # median of KiB samples as MiB, or -
	if [ -n "${1// /}" ]; then awk -v k="$(median "$1")" 'BEGIN { printf "%.1f MiB", k / 1024 }'; else echo -; fi
}
rows=(
	"ssh host1 true"
	"cp -al on the host"
	"ssh host1 cp -al"
	"cutover deploy, first"
	"rsync -a, first"
	"cutover deploy, 1 file changed"
	"rsync -a --link-dest, 1 file changed"
	"cap production deploy, 1 file changed"
)
declare -A MED MSENT
echo
echo "cutover remote deploy benchmark: $tree_info"
echo "over ssh to one host (a network namespace on this machine, veth pair, same file system);"
echo "$RUNS runs each, round-robin, source warm in the page cache, sync before each run;"
echo "$(fs_desc) under $TMPBASE, $(nproc) CPUs, load average $load_start at start"
echo
printf '%-40s %9s %8s %8s %11s %11s %11s %11s\n' "what" "median s" "min s" "max s" "sent" "received" "client RSS" "agent RSS"
printf '%-40s %9s %8s %8s %11s %11s %11s %11s\n' "----" "--------" "-----" "-----" "----" "--------" "----------" "---------"
for name in "${rows[@]}"; do
	read -r med min max <<<"$(stats "${WALL[$name]}")"
	MED[$name]=$med
	sent=- recv=-
	if [ -n "${SENT[$name]:-}" ]; then
		MSENT[$name]=$(bytes_median "${SENT[$name]}")
		sent=$(size "${MSENT[$name]}")
		recv=$(size "$(bytes_median "${RECV[$name]}")")
	fi
	printf '%-40s %9s %8s %8s %11s %11s %11s %11s\n' "$name" "$med" "$min" "$max" "$sent" "$recv" \
		"$(rss "${RSS[$name]:-}")" "$(rss "${ARSS[$name]:-}")"
done

ssh_t=${MED["ssh host1 true"]}
cpal_t=${MED["cp -al on the host"]}
floor=$(awk -v a="$ssh_t" -v b="$cpal_t" 'BEGIN { printf "%.3f", a + b }')
first=${MED["cutover deploy, first"]}
rsync_first=${MED["rsync -a, first"]}
one=${MED["cutover deploy, 1 file changed"]}
rsync_one=${MED["rsync -a --link-dest, 1 file changed"]}
cap_one=${MED["cap production deploy, 1 file changed"]}
one_sent=${MSENT["cutover deploy, 1 file changed"]}
rsync_sent=${MSENT["rsync -a --link-dest, 1 file changed"]}
cap_sent=${MSENT["cap production deploy, 1 file changed"]}
ssh_sent=${MSENT["ssh host1 true"]}
limit_bytes=$((changed_size + 65536))
x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f x", a / b }'; }

echo
echo "by case (medians; ratio: cutover against the target's reference)"
printf '%-28s %12s %12s %12s %12s   %s\n' "case" "cutover" "rsync" "capistrano" "floor" "ratio"
printf '%-28s %12s %12s %12s %12s   %s\n' "----" "-------" "-----" "----------" "-----" "-----"
printf '%-28s %12s %12s %12s %12s   %s\n' "first deploy, s" "$first" "$rsync_first" "($cap_first)" - \
	"$(x "$first" "$rsync_first") rsync (target <= 1.0 x)"
printf '%-28s %12s %12s %12s %12s   %s\n' "one file changed, s" "$one" "$rsync_one" "$cap_one" "$floor" \
	"$(x "$one" "$floor") floor (target <= 1.3 x)"
printf '%-28s %12s %12s %12s %12s   %s\n' "one file changed, sent" "$(size "$one_sent")" "$(size "$rsync_sent")" \
	"$(size "$cap_sent")" "$(size "$ssh_sent")" "changed file $changed_size B (target <= $(kib "$limit_bytes"))"
echo
echo "floor = ssh host1 true ($ssh_t s) + cp -al on the host ($cpal_t s); its sent column is"
echo "one ssh connection's bytes. Capistrano's first deploy is the setup's single run (it"
echo "includes the mirror clone). Capistrano fetches from the repository over the shared file"
echo "system, not over the wire: its sent bytes are its ssh commands only. Sent bytes less one"
echo "connection: cutover $(size $((one_sent - ssh_sent))), rsync $(size $((rsync_sent - ssh_sent)))."
echo "Client RSS: the largest process of the command (cutover or its ssh, rsync or its ssh,"
echo "ruby); agent RSS: cutover agent on the host, under GNU time."

verdict() { # verdict OK TEXT
	if [ "$1" = 1 ]; then printf '  MET     %s\n' "$2"; else printf '  MISSED  %s\n' "$2"; fi
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
echo
echo "verdict (medians):"
verdict "$(le "$one" "$(awk -v f="$floor" 'BEGIN { print 1.3 * f }')")" \
	"one-file-change deploy <= 1.3 x floor: $one s, limit $(awk -v f="$floor" 'BEGIN { printf "%.3f", 1.3 * f }') s ($(x "$one" "$floor") floor)"
verdict "$(le "$first" "$rsync_first")" \
	"first deploy <= 1.0 x rsync -a: $first s vs $rsync_first s ($(x "$first" "$rsync_first") rsync -a)"
verdict "$(le "$one_sent" "$limit_bytes")" \
	"one-file-change bytes sent <= changed file + 64 KiB: $one_sent B, limit $limit_bytes B ($(x "$one_sent" "$limit_bytes") the limit)"
echo
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); bench took $(awk -v a="$bench_start" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s before cleanup"
exit 0
