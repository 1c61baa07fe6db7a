#!/usr/bin/env bash
# README command 2: install, build, and run the whole test suite with ctest.
# Tests that need /dev/kvm run whenever it is usable; the summary says how
# many ran on real KVM, and ctest lists every skip with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/build.sh
cd build
rm -f Testing/Temporary/LastTest.log junit.xml
status=0
ctest --output-on-failure -j "${VMD_TEST_JOBS:-2}" --timeout 900 --output-junit junit.xml || status=$?

kvm_runs=$(grep -c '^\[kvm\] ran on real KVM' Testing/Temporary/LastTest.log || true)
echo
if [ -c /dev/kvm ] && [ "$kvm_runs" -gt 0 ]; then
  echo "real KVM: $kvm_runs tests ran on /dev/kvm"
else
  echo "real KVM: 0 tests ran on /dev/kvm (skipped tests above say why)"
fi
# One closing line for any reader: totals from ctest's JUnit report.
# The first occurrence of each attribute is the <testsuite> total.
attr() { grep -m1 -o "$1=\"[0-9]*\"" junit.xml | grep -o '[0-9]*'; }
if [ -f junit.xml ]; then
  total=$(attr tests); failed=$(attr failures); skipped=$(attr skipped)
  echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
