#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# net_dgram.sh at the largest MTU uvirtio-net offers (65520).
NET_MTU=65520 exec "$(dirname "$0")/net_dgram.sh"
