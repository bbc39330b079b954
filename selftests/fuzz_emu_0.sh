#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Hostile-emulator fuzzer, shard 0 of 8: seeds 1..25 (see fuzz_emu.c).
# On a KASAN kernel fuzz_emu runs every 4th seed (it says so).
exec "$(dirname "$0")/fuzz_emu" -s 1 -n 25 "$@"
