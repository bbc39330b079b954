/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm.h - access to memory shared with the kernel's virtio driver
 *
 * The rings are written by another CPU behind the compiler's back. Every
 * load or store of a field that the other side also touches goes through
 * one of these helpers, so the compiler neither tears, merges nor repeats
 * it, and the ordering each one needs is spelt out at the call site.
 */
#ifndef UVIRTIO_SHM_H
#define UVIRTIO_SHM_H

#include <stdatomic.h>
#include <stdint.h>

/**
 * shm_load16() - read a 16-bit shared field once
 * @p:		field, naturally aligned
 * @mo:		memory order (relaxed or acquire)
 *
 * Return: the value
 */
static inline uint16_t shm_load16(const uint16_t *p, memory_order mo)
{
	return atomic_load_explicit((const _Atomic uint16_t *)p, mo);
}

/**
 * shm_store16() - write a 16-bit shared field once
 * @p:		field, naturally aligned
 * @v:		value
 * @mo:		memory order (relaxed or release)
 */
static inline void shm_store16(uint16_t *p, uint16_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint16_t *)p, v, mo);
}

/**
 * shm_load32() - read a 32-bit shared field once
 * @p:		field, naturally aligned
 * @mo:		memory order (relaxed or acquire)
 *
 * Return: the value
 */
static inline uint32_t shm_load32(const uint32_t *p, memory_order mo)
{
	return atomic_load_explicit((const _Atomic uint32_t *)p, mo);
}

/**
 * shm_store32() - write a 32-bit shared field once
 * @p:		field, naturally aligned
 * @v:		value
 * @mo:		memory order (relaxed or release)
 */
static inline void shm_store32(uint32_t *p, uint32_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint32_t *)p, v, mo);
}

#endif /* UVIRTIO_SHM_H */
