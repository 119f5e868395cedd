/*
 * The process's own mappings, read from /proc/self/maps: which mapping
 * holds an address, with its bounds, permissions and the last part of its
 * path. For the preemption tick, which learns code it did not know at
 * start (preempt.c, late code), and for the futex wrapper, which asks
 * whether a futex word is in shared memory (preload/futex.c).
 *
 * Raw system calls through libc's "syscall; ret" (sys.h): the program's
 * file descriptors stay its own, no wrapper runs, and a signal handler may
 * call it. The file is parsed a character at a time through a 512-byte
 * buffer, with nothing allocated and no lock taken; the mappings come in
 * address order, so the search ends at the first one past the address.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#include "runtime.h"
#include "sys.h"

/* A hexadecimal digit's value, or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int maps_find(uintptr_t addr, struct maps_entry *e)
{
	char buf[512];
	uintptr_t lo = 0, hi = 0;
	int field = 0, len = 0, np = 0, rc = -1;
	bool spaces = false, done = false;
	long fd = arch_syscall6(SYS_openat, AT_FDCWD, (long)"/proc/self/maps",
				O_RDONLY | O_CLOEXEC, 0, 0, 0);

	if (fd < 0)
		return -1;
	while (!done) {
		long got = arch_syscall3(SYS_read, fd, (long)buf, sizeof buf);

		if (got <= 0)
			break;
		for (long i = 0; i < got && !done; i++) {
			char c = buf[i];

			if (c == '\n') {
				/* range, perms, offset, device, inode, path */
				if (addr >= lo && addr < hi) {
					e->lo = lo;
					e->hi = hi;
					e->perms[np] = '\0';
					e->name[len] = '\0';
					rc = 0;
				}
				done = rc == 0 || lo > addr;
				lo = hi = 0;
				field = len = np = 0;
				spaces = false;
			} else if (field == 0 && c == '-') {
				field = 1;
			} else if (field <= 1 && hexval(c) >= 0) {
				if (field == 0)
					lo = lo << 4 | (uintptr_t)hexval(c);
				else
					hi = hi << 4 | (uintptr_t)hexval(c);
			} else if (field < 6) {
				/* The path comes after the spaces that align it. */
				if (c == ' ' && !spaces)
					field++;
				else if (field == 2 && np < (int)sizeof e->perms - 1)
					e->perms[np++] = c;
				spaces = c == ' ';
			} else if (c == '/') {
				len = 0;
			} else if (!(len == 0 && c == ' ')) {
				if (len == MAPS_NAME_MAX - 1) {
					memmove(e->name, e->name + 1, MAPS_NAME_MAX - 2);
					len--;
				}
				e->name[len++] = c;
			}
		}
	}
	arch_syscall3(SYS_close, fd, 0, 0);
	return rc;
}
