/*
 * greenshim.h: the runtime's public API, for programs that want green
 * threads directly instead of (or besides) through LD_PRELOAD.
 *
 * Link with -lgreenshim (build/libgreenshim.so). Each OS thread that calls
 * in gets its own hub (scheduler) on first use; the calling code becomes
 * that hub's root green thread. Green threads never move between OS
 * threads. Scheduling is cooperative: a green thread runs until it waits
 * (gs_join, gs_sleep_ns, an intercepted blocking call), yields or exits.
 *
 * Errors: every function that can fail returns 0 on success or a negative
 * errno value (-EAGAIN, -EINVAL...); none of them sets errno.
 */
#ifndef GREENSHIM_H
#define GREENSHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GREENSHIM_VERSION_MAJOR 0
#define GREENSHIM_VERSION_MINOR 1
#define GREENSHIM_VERSION_PATCH 0

/* A green thread. Opaque; valid from gs_spawn until joined or, if
 * detached, until it ends. */
struct gs_thread;

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *gs_version(void);

/* Starts fn(arg) in a new green thread on the calling OS thread's hub. It
 * runs once the caller waits or yields. stack_size 0 takes the default
 * (GREENSHIM_STACK_SIZE, else the native thread default); others are
 * rounded up to whole pages. -EAGAIN when out of memory. */
int gs_spawn(struct gs_thread **thread, void *(*fn)(void *), void *arg, size_t stack_size);

/* Waits for thread to end and stores its result in *retval (if not NULL),
 * then frees it. -EDEADLK for the caller itself, -EINVAL if detached or
 * already being joined. */
int gs_join(struct gs_thread *thread, void **retval);

/* Frees thread as soon as it ends; it cannot be joined any more. */
int gs_detach(struct gs_thread *thread);

/* Ends the calling green thread with retval, as returning from fn does. */
void gs_exit(void *retval) __attribute__((noreturn));

/* The calling green thread (the root's handle for code not spawned). */
struct gs_thread *gs_self(void);

/* A number that names the thread in greenshim's reports and tools. */
uint64_t gs_thread_id(const struct gs_thread *thread);

/* Lets every other ready green thread run, then returns. */
void gs_yield(void);

/* Waits ns nanoseconds while the other green threads run. */
int gs_sleep_ns(uint64_t ns);

#ifdef __cplusplus
}
#endif

#endif
