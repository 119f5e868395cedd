// Per-thread state in C++: thread_local objects with destructors run at
// each thread's exit, an exception rethrown after a wait is the thread's
// own, std::future/promise, C++20 atomic::wait and counting_semaphore
// (libstdc++ waits on futexes without FUTEX_PRIVATE_FLAG), and
// std::call_once whose callable throws is retried, and pthread_cancel of a
// thread blocked in read unwinds its stack (destructors run). Prints "ok",
// exits 0.
#include <pthread.h>
#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

static std::atomic<int> destroyed{0};
static std::atomic<int> failures{0};

static void check(bool cond, const char *what)
{
	if (!cond) {
		std::printf("%s\n", what);
		failures++;
	}
}

struct PerThread {
	std::string name = "fresh";
	~PerThread() { destroyed++; }
};
thread_local PerThread mine;

static bool rethrown_is_own(int id)
{
	try {
		throw std::runtime_error("thread " + std::to_string(id));
	} catch (...) {
		usleep(2000); // the other threads throw and catch meanwhile
		std::exception_ptr e = std::current_exception();
		try {
			throw;
		} catch (const std::runtime_error &err) {
			return err.what() == "thread " + std::to_string(id) && e != nullptr;
		}
	}
	return false;
}

struct Guard {
	~Guard() { destroyed_by_unwind++; }
	static std::atomic<int> destroyed_by_unwind;
};
std::atomic<int> Guard::destroyed_by_unwind{0};
static int cancel_pipe[2];

static void *blocked_in_read(void *)
{
	Guard g;
	char b;

	if (read(cancel_pipe[0], &b, 1) < 0)
		return nullptr;
	return nullptr;
}

int main()
{
	std::vector<std::thread> threads;
	for (int i = 0; i < 8; i++)
		threads.emplace_back([i] {
			check(mine.name == "fresh", "thread_local not fresh in a new thread");
			mine.name = "t" + std::to_string(i);
			check(rethrown_is_own(i), "rethrow gave another thread's exception");
			check(mine.name == "t" + std::to_string(i), "thread_local changed by another thread");
		});
	for (auto &t : threads)
		t.join();
	check(destroyed == 8, "thread_local destructors did not run at each thread's exit");

	std::promise<int> promise;
	std::future<int> future = promise.get_future();
	std::thread setter([&] { usleep(1000); promise.set_value(42); });
	check(future.get() == 42, "future.get");
	setter.join();

	std::atomic<int> flag{0};
	std::thread notifier([&] { usleep(1000); flag = 1; flag.notify_one(); });
	flag.wait(0);
	notifier.join();

	std::counting_semaphore<4> sem(0);
	std::thread poster([&] { usleep(1000); sem.release(2); });
	sem.acquire();
	sem.acquire();
	poster.join();

	std::once_flag once;
	int calls = 0;
	for (int i = 0; i < 2; i++) {
		try {
			std::call_once(once, [&] {
				if (++calls == 1)
					throw 1;
			});
		} catch (int) {
		}
	}
	check(calls == 2, "call_once not retried after its callable threw");

	pthread_t reader;
	void *result = nullptr;
	check(pipe(cancel_pipe) == 0, "pipe");
	pthread_create(&reader, nullptr, blocked_in_read, nullptr);
	usleep(5000);
	pthread_cancel(reader);
	pthread_join(reader, &result);
	check(result == PTHREAD_CANCELED, "a cancelled thread's join did not give PTHREAD_CANCELED");
	check(Guard::destroyed_by_unwind == 1, "cancellation ran no destructor");
	if (failures == 0)
		std::printf("ok\n");
	return failures != 0;
}
