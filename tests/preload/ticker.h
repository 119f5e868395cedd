/* A thread that counts 2 ms sleeps until told to stop: the case programs'
 * proof that other threads run while one of them waits (a blocked OS
 * thread counts nothing meanwhile). Include after case.h. */
#ifndef GS_TEST_TICKER_H
#define GS_TEST_TICKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

static atomic_int ticks;
static atomic_bool stop_ticking;

static inline void *ticker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_ticking)) {
		usleep(2000);
		atomic_fetch_add(&ticks, 1);
	}
	return NULL;
}

/* Starts the ticker and lets it run once first. */
static inline pthread_t start_ticker(void)
{
	pthread_t t;

	atomic_store(&stop_ticking, false);
	CHECK(pthread_create(&t, NULL, ticker, NULL) == 0, "ticker");
	usleep(5000);
	return t;
}

static inline void stop_ticker(pthread_t t)
{
	atomic_store(&stop_ticking, true);
	pthread_join(t, NULL);
}

#endif
