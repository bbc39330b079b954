// SPDX-License-Identifier: GPL-2.0-only
/*
 * args.c - number parsing for the command line
 *
 * Stricter than strtoull(): no sign, no leading blanks, no other base,
 * nothing after the number but one optional suffix.
 */
#include <errno.h>
#include <stdint.h>

#include "args.h"

/**
 * args_digits() - parse a run of decimal digits
 * @s:		string
 * @v:		value
 * @end:	out: first character after the digits
 *
 * Return: 0, -EINVAL if there is no digit, -ERANGE above 2^64 - 1
 */
static int args_digits(const char *s, uint64_t *v, const char **end)
{
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*end = s;
	return 0;
}

/**
 * args_parse_u64() - parse a plain decimal number
 * @s:		string
 * @v:		value
 *
 * Return: 0, -EINVAL if it is not a number, -ERANGE if too large
 */
int args_parse_u64(const char *s, uint64_t *v)
{
	const char *end;
	int ret = args_digits(s, v, &end);

	if (ret)
		return ret;
	return *end ? -EINVAL : 0;
}

/**
 * args_parse_size() - parse a byte count with an optional K/M/G/T suffix
 * @s:		string, e.g. "512", "64M", "1g" (powers of 1024)
 * @v:		value in bytes
 *
 * Return: 0, -EINVAL if malformed, -ERANGE if above 2^64 - 1
 */
int args_parse_size(const char *s, uint64_t *v)
{
	const char *end;
	unsigned int shift;
	int ret = args_digits(s, v, &end);

	if (ret)
		return ret;
	switch (*end) {
	case '\0':
		return 0;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (end[1])
		return -EINVAL;
	if (*v > (UINT64_MAX >> shift))
		return -ERANGE;
	*v <<= shift;
	return 0;
}
