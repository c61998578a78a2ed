#!/bin/sh
# Loads the binding into a plain Lua 5.4 interpreter from the build's lua/
# folder (build/lua/aapmt.so) and runs scripts/plain_lua.lua there.
# usage: lua_module.sh LUA MODULE_DIR SANITIZE   (exit 77 = skipped)
set -u
lua=$1
module_dir=$2
sanitize=$3
here=$(cd "$(dirname "$0")" && pwd)
case "$sanitize" in
ON|on|1|TRUE|true|YES|yes)
    echo "skipped: sanitizer build (AAPMT_SANITIZE); the lua5.4 binary is not instrumented"
    exit 77 ;;
esac
if [ -z "$lua" ] || ! command -v "$lua" >/dev/null 2>&1; then
    echo "skipped: no lua5.4 interpreter found at configure time"
    exit 77
fi
exec "$lua" -e "package.cpath = '$module_dir/?.so;' .. package.cpath" "$here/scripts/plain_lua.lua"
