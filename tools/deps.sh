#!/bin/sh
# The dependency step shared by the README's two commands.  Installs what is
# missing on Debian when run as root; otherwise prints the command to run.
# Does nothing when everything is present.
#   sh tools/deps.sh          build + test dependencies
#   sh tools/deps.sh --hosts  also the real hosts used by the binding tests
pkgs="gcc make pkg-config libpcre2-dev libutf8proc-dev libyaml-dev libcmocka-dev
      clang valgrind python3 python3-pytest lua5.1 liblua5.1-0-dev lua5.4
      liblua5.4-dev luajit2 libluajit2-5.1-dev"
if [ "${1:-}" = "--hosts" ]; then
  pkgs="$pkgs nginx libnginx-mod-http-lua kamailio kamailio-lua-modules sip-tester curl lua-cjson wrk"
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: not a Debian system; install the equivalents of: $pkgs" >&2
  exit 0
fi
missing=""
for p in $pkgs; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
  case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null \
  || { echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
