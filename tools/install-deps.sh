#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages a target needs (build, test, demo); as root it runs
# apt-get update once and apt-get install -y; otherwise it prints the exact command and fails.
set -u
target=${1:-build}
build_pkgs="gcc make libc6-dev uthash-dev libelf-dev libcap-dev libjson-c-dev"
test_pkgs="$build_pkgs libcriterion-dev strace curl python3 nginx-light lighttpd apache2 vsftpd wrk socat netcat-openbsd libcap2-bin valgrind prometheus"
demo_pkgs="$build_pkgs curl nginx-light gnuplot-nox"
case $target in
build) want=$build_pkgs ;;
test) want=$test_pkgs ;;
demo) want=$demo_pkgs ;;
*) echo "usage: $0 build|test|demo" >&2; exit 2 ;;
esac
missing=()
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "zcshim: missing packages: ${missing[*]}" >&2
	echo "zcshim: run as root: apt-get update && $cmd" >&2
	exit 1
fi
echo "zcshim: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { echo "zcshim: apt-get update failed" >&2; exit 1; }
$cmd >&2 || { echo "zcshim: $cmd failed" >&2; exit 1; }
# the packaged services are not wanted running: tests start their own servers, and of prometheus
# they need only promtool (`promtool check metrics` on `zcshim stat --prometheus`)
for s in nginx lighttpd apache2 vsftpd prometheus; do systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true; done
exit 0
