#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# net_dgram.sh with --no-ring on both ends: every frame through the dgram
# sockets, sent in batches (one sendmmsg() for a run of transmit chains).
NET_NO_RING=1 exec "$(dirname "$0")/net_dgram.sh"
