#!/bin/sh
# Install the Debian packages a make target needs, only those missing.
# usage: scripts/deps.sh build|demo|test|bench
set -eu
profile=${1:-build}
build="gcc make pkg-config scdoc libarchive-dev libzstd-dev libssl-dev libyaml-dev libhttp-parser-dev git zstd"
# test: debootstrap (with the archive keyring and gpgv it checks the Release
# file with) builds the bare test host (scripts/bare-host.sh); libc6-dev for
# gcc -static; kmod so the kernel can load the overlay module it mounts.
# chromium, nodejs and npm: the real-browser test (tests/e2e/proxy_browser.bats,
# whose setup installs its npm packages). sudo: the remote --sudo test; time:
# peak memory (GNU time -f %M) in the remote tests and the benchmarks.
test="$build libcmocka-dev bats curl nginx apache2 php-fpm haproxy wrk openssh-server openssh-client iproute2 procps psmisc python3 zip xz-utils util-linux systemd strace debootstrap debian-archive-keyring gpgv libc6-dev kmod chromium nodejs sudo time"
# bench: rsync and capistrano (with its ruby) are what the benchmarks compare
# with (bench/release-bench.sh, bench/remote-bench.sh).
bench="$test rsync hyperfine ruby capistrano"
case $profile in
build) want=$build ;;
demo) want="$build curl" ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: scripts/deps.sh build|demo|test|bench" >&2; exit 2 ;;
esac
missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# npm: Debian's package when there is no npm command (a nodejs package built
# elsewhere may bring its own npm and conflict with Debian's)
case " $want " in
*" nodejs "*) command -v npm > /dev/null || missing="$missing npm" ;;
esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run as root or install them with apt-get" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Services that the packages would start at install time are not wanted:
# tests start their own servers on their own ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends $missing >/dev/null
