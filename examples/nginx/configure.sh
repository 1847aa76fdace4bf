#!/bin/sh
# examples/nginx/configure.sh PREFIX PORT [MODEL] [WORKERS]
# Writes PREFIX/nginx.conf from nginx.conf.in for this checkout; then
#   nginx -p PREFIX -c PREFIX/nginx.conf            (start)
#   kill -QUIT $(cat PREFIX/nginx.pid)               (stop)
# The LuaJIT module must be built first: make -C bindings/lua luajit.
# nginx's workers run as `nobody` unless told otherwise; they must be able
# to read the module, the gateway and the model (a private home directory
# fails with a misleading "module 'kefu' not found").  When run as root
# this writes `user root;` so the example works from any checkout.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=${1:?usage: configure.sh PREFIX PORT [MODEL] [WORKERS]}
port=${2:?usage: configure.sh PREFIX PORT [MODEL] [WORKERS]}
model=${3:-$root/examples/default-model.yaml}
workers=${4:-auto}
modules=${NGINX_MODULES:-/usr/lib/nginx/modules}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
case "$model" in /*) ;; *) model=$(pwd)/$model ;; esac
user=""
[ "$(id -u)" = 0 ] && user="user root;"
sed -e "s|@USER@|$user|" -e "s|@WORKERS@|$workers|" -e "s|@PREFIX@|$prefix|g" \
    -e "s|@MODULES@|$modules|g" -e "s|@LUA_CPATH@|$root/build/luajit/?.so|" \
    -e "s|@ROOT@|$root|g" -e "s|@MODEL@|$model|" -e "s|@PORT@|$port|" \
    "$here/nginx.conf.in" > "$prefix/nginx.conf"
echo "$prefix/nginx.conf"
