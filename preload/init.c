/*
 * The shared object's start: configuration is read and checked before the
 * program's main() runs, so that a bad GREENSHIM_* value stops it at once
 * (docs/CONFIG.md). The libc interposition families live beside this file.
 */
#include "../src/runtime.h"

__attribute__((constructor)) static void preload_init(void)
{
	config_load();
}
