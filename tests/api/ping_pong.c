/* The public API through the shared library: two green threads take turns,
 * one sleeps while the other runs, and errors come back as -errno. Prints
 * what happened; tests/api/run.sh compares it with the expected output. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <greenshim.h>

static void *player(void *arg)
{
	const char *name = arg;

	for (int i = 0; i < 3; i++) {
		printf("%s %d\n", name, i);
		gs_yield();
	}
	return (void *)(intptr_t)strlen(name);
}

static void *sleeper(void *arg)
{
	gs_sleep_ns(20 * 1000000);
	printf("sleeper woke\n");
	return arg;
}

int main(void)
{
	struct gs_thread *a, *b, *s;
	void *ra, *rb, *rs;

	printf("version %s\n", gs_version());
	if (gs_spawn(&s, sleeper, (void *)7, 0) || gs_spawn(&a, player, "ping", 0) ||
	    gs_spawn(&b, player, "pong", 64 * 1024))
		return 1;
	if (gs_join(a, &ra) || gs_join(b, &rb) || gs_join(s, &rs))
		return 1;
	printf("results %d %d %d\n", (int)(intptr_t)ra, (int)(intptr_t)rb, (int)(intptr_t)rs);
	printf("join self: %s\n", gs_join(gs_self(), NULL) == -EDEADLK ? "-EDEADLK" : "wrong");
	printf("ids differ: %s\n", gs_thread_id(gs_self()) != 0 ? "yes" : "no");
	return 0;
}
