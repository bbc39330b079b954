#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vhost_net.sh with 2 queue pairs on both testpmd ports and both front ends.
VHOST_NET_QUEUES=2 exec "$(dirname "$0")/vhost_net.sh"
