#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A bad completion handed over with UVIRTIO_URING_COMMIT kills the device
# exactly as one signalled through the call eventfd (bad_completion, every
# mode), and the COMMIT itself fails with EIO.
exec "$(dirname "$0")/bad_completion" --uring "$@"
