#!/usr/bin/env bash
# `cmake --install` of a built tree into a temporary prefix: vmd, vmd-engine
# and vmctl land executable in PREFIX/bin, the engine runs from there, and
# the installed systemd unit starts the installed vmd.
#   install_test.sh CMAKE BUILD_DIR
set -euo pipefail
cmake=$1
build=$2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "install_test: $*" >&2; exit 1; }

"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "cmake --install failed"; }

for program in vmd vmd-engine vmctl; do
  [ -f "$prefix/bin/$program" ] && [ -x "$prefix/bin/$program" ] ||
    fail "$prefix/bin/$program is not an executable file"
done
[ -f "$prefix/share/doc/vmd/README.md" ] || fail "no share/doc/vmd/README.md"

# The installed engine needs nothing from the build tree. Its host probe is
# a JSON object with the backends; cmake (always here) checks that.
"$prefix/bin/vmd-engine" --probe-host >"$work/probe.json" ||
  fail "vmd-engine --probe-host failed from $prefix/bin"
cat >"$work/check_json.cmake" <<'CMAKE'
file(READ "${JSON_FILE}" json)
string(JSON backends ERROR_VARIABLE error LENGTH "${json}" backends)
if(error)
  message(FATAL_ERROR "not the host probe's JSON (${error}):\n${json}")
endif()
CMAKE
"$cmake" -DJSON_FILE="$work/probe.json" -P "$work/check_json.cmake" ||
  fail "vmd-engine --probe-host did not print the host probe's JSON"

unit=$prefix/lib/systemd/system/vmd.service
[ -f "$unit" ] || fail "no lib/systemd/system/vmd.service"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
case "$exec_start" in
  "$prefix/bin/vmd "*) ;;
  *) fail "the unit's ExecStart is '$exec_start', not $prefix/bin/vmd" ;;
esac
if grep -n '@[A-Z_]*@' "$unit"; then fail "unsubstituted variables in $unit"; fi
echo "install_test: ok"
