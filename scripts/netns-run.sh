#!/usr/bin/env bash
# Run a command inside a private network namespace that reaches nothing outside.
# libnice gathers no ICE candidates on loopback-flagged interfaces, so the namespace gets a
# veth pair whose two ends both stay inside it, with addresses and a default route of its own.
set -euo pipefail
exec unshare --net -- bash -euc '
  ip link set lo up
  ip link add aeth0 type veth peer name aeth1
  ip addr add 10.213.0.1/24 dev aeth0
  ip addr add 10.213.0.2/24 dev aeth1
  ip link set aeth0 up
  ip link set aeth1 up
  ip route add default via 10.213.0.2 dev aeth0
  # IPv6 link-local addresses stay "tentative" (duplicate address detection) for a second
  # or two: libnice would gather on them only from then on, and a test that counts an ICE
  # agent'"'"'s sockets would see the count change under it. Wait until they are usable.
  for _ in $(seq 50); do
    ip -6 addr show tentative | grep -q . || break
    sleep 0.1
  done
  exec "$@"
' netns-run "$@"
