/*
 * Profiles: where the CPU goes, where the threads wait, who holds the locks
 * they want. greenctl's "profile" request and GREENSHIM_PROFILE (the whole
 * run) share everything here; both write folded stacks ("a;b;c WEIGHT",
 * Brendan Gregg's format), which greenctl and greenrun draw.
 *
 * Three kinds, asked for one at a time or together (PROF_*):
 *
 *   cpu   a sample of what each hub runs, every millisecond: a signal
 *         (introspect_sample) makes the hub's OS thread unwind itself.
 *         Each sample weighs the time since the one before, so one hub's
 *         weights add up to the time profiled. The hub's own loop is not
 *         sampled: a signal cannot tell it polling from sleeping in
 *         epoll_wait; a hub seen in it is not sent the signal at all.
 *   wait  the stacks of the threads that do not run (parked, or ready and
 *         waiting for the hub), each ending in a frame that says on what:
 *         "[wait fd 7 read]", "[wait mutex 0x... held by thread 3 "w"]",
 *         "[sleep]", "[preempted]"... They are taken on each hub's own
 *         thread (control_call_hub), which stops the hub meanwhile; so a
 *         round comes every PROF_WAIT_MIN_NS at most, and no sooner than
 *         PROF_WAIT_SHARE times what the last one kept the hubs stopped:
 *         with ten thousand threads the rounds thin out instead of taking
 *         the hub over. Each weighs the time since the round before.
 *   lock  every contended acquisition of a green mutex, rwlock or
 *         semaphore: when a thread hands one on (unlock, post) to a
 *         thread that waited for it, wait_complete calls
 *         profile_lock_event, which takes both stacks as pcs, there and
 *         then, and adds the wait to a table. The weight is the time the
 *         waiter waited (its park time: stats are on while a lock profile
 *         runs). The folded stack is the waiter's, then a frame that names
 *         the object and the thread that held it, then that thread's stack
 *         where it let go: who waited where, for whom, doing what.
 *         Acquisitions without contention cost nothing; a wait that ends
 *         by its deadline, a signal or cancellation is not counted.
 *         Two stack walks cost tens of microseconds (libunwind blocks
 *         signals around its lookups: two to four system calls a frame), so a
 *         hub records each hand-over with a chance p, and weighs what it
 *         records by 1/p: the sums stay unbiased. p is 1 at first, then
 *         set every LOCK_WINDOW_NS so that recording costs about
 *         1/LOCK_SHARE of the hub's time at the rate of the last window.
 *
 * greenshim's own frames: the runtime's code (introspect_own_pc) is
 * collapsed unless the profile asks for all frames (prof_fold). The frames
 * that start a green thread (ctx_trampoline, green_main) go; where the
 * program calls into the runtime the first frame stays (the libc call it
 * made: read, pthread_mutex_lock) and the rest go, with what the runtime
 * calls from there: libunwind and libev always, libc's functions but the
 * first (the real read); the program's code that the runtime calls back
 * (a start routine, a signal handler) shows again. A stack that ends
 * inside the runtime ends in a label instead: the wait's for the wait
 * profile, "[greenshim]" for a cpu sample. A frame interrupted by one of
 * the runtime's signal handlers (the tick, a sample) is where the thread
 * was: the handler's frames go (prof_past_own_handler).
 *
 * Names: pcs are named once per profile, through a cache (names of
 * functions do not change while a process runs), on the profiler's own
 * thread: never in a hub's hot path, never in a signal handler.
 *
 * Tables: the folded stacks are keyed by their text ("KIND;THREAD;..."),
 * open addressing; a full table counts what it lost. Lock events go to
 * at most two tables at once (greenctl's and the whole run's), under a
 * spinlock that an event holds only to add a row.
 */
#include "hub_impl.h"
#include "tools.h"
#include "sys.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROF_HUB_TIMEOUT_MS 1000
#define PROF_TICK_NS 1000000LL           /* a cpu sample every millisecond */
#define PROF_IDLE_TICK_NS 20000000LL     /* without cpu samples, for the clock */
#define PROF_WAIT_MIN_NS 20000000LL      /* waiting stacks every 20 ms at most */
#define PROF_WAIT_SHARE 20               /* ...and at most 1/20 of the time */
#define PROF_SLOTS 16384
#define PROF_NAMES 8192
#define LOCK_FRAMES 32
#define LOCK_SLOTS 1024
#define LOCK_WINDOW_NS 100000000LL       /* the sampling chance is set anew every 100 ms */
#define LOCK_SHARE 20                    /* to spend 1/20 of the time recording */
#define LOCK_P_ONE 65536u

/* ---- the tables ---------------------------------------------------------- */

struct lock_rec {
	uint64_t hash;
	uint64_t ns, count;
	const void *obj;
	uint64_t holder_id;
	uint8_t kind, nw, nh;
	char waiter[16], holder[16];
	uintptr_t pcs[2 * LOCK_FRAMES]; /* the waiter's nw, then the holder's nh */
};

struct lock_table {
	struct lock_rec rec[LOCK_SLOTS];
	unsigned long events, lost; /* events: recorded */
	double weighed;             /* the recorded ones, each weighed 1/p */
};

/* Whose code a frame is: the fold keeps or drops it by this (above). */
enum frame_class {
	FRAME_PROGRAM, /* the program's, or a library's it called */
	FRAME_OWN,     /* greenshim's */
	FRAME_HELPER,  /* a library only greenshim calls: libunwind, libev */
	FRAME_LIBC,    /* glibc's */
};

struct name_slot {
	uintptr_t pc; /* the address looked up; 0: free */
	char *name;
	enum frame_class cls;
};

struct prof {
	unsigned kinds;
	bool all_frames;
	int hub_timeout_ms;
	char *key[PROF_SLOTS];
	unsigned long long us[PROF_SLOTS];
	unsigned long cpu_samples, wait_samples, lost;
	unsigned long long cpu_us, wait_us; /* this round's weights */
	int64_t wait_cost_ns;               /* this round's time in the hubs */
	struct lock_table *locks;
	struct name_slot names[PROF_NAMES];
	struct name_slot spare; /* a full cache: valid until the next lookup */
	char spare_name[64];
	struct ctl_buf key_buf, recs;
};

static void prof_add(struct prof *p, const char *key, unsigned long long us)
{
	unsigned h = 5381;

	for (const char *c = key; *c != '\0'; c++)
		h = h * 33 + (unsigned char)*c;
	for (unsigned k = 0; k < PROF_SLOTS; k++) {
		unsigned s = (h + k) % PROF_SLOTS;

		if (p->key[s] == NULL) {
			p->key[s] = gs_strdup(key);
			if (p->key[s] == NULL)
				break;
			p->us[s] = us;
			return;
		}
		if (strcmp(p->key[s], key) == 0) {
			p->us[s] += us;
			return;
		}
	}
	p->lost++;
}

static enum frame_class classify(uintptr_t pc)
{
	Dl_info d;
	const char *base;

	if (introspect_own_pc(pc))
		return FRAME_OWN;
	if (dladdr((void *)pc, &d) == 0 || d.dli_fname == NULL)
		return FRAME_PROGRAM;
	base = strrchr(d.dli_fname, '/');
	base = base != NULL ? base + 1 : d.dli_fname;
	if (strncmp(base, "libunwind", 9) == 0 || strncmp(base, "libev.so", 8) == 0)
		return FRAME_HELPER;
	if (strncmp(base, "libc.so", 7) == 0)
		return FRAME_LIBC;
	return FRAME_PROGRAM;
}

/* The name and class of the code at look (a pc, or a return address - 1),
 * from the cache or found now. */
static const struct name_slot *prof_frame(struct prof *p, uintptr_t look)
{
	unsigned s = (unsigned)((look * 0x9E3779B97F4A7C15ull) >> 51) % PROF_NAMES;
	struct frame f = { .pc = look };
	struct name_slot *slot = &p->spare;
	Dl_info d;

	for (unsigned k = 0; k < PROF_NAMES; k++, s = (s + 1) % PROF_NAMES) {
		if (p->names[s].pc == look)
			return &p->names[s];
		if (p->names[s].pc == 0) {
			slot = &p->names[s];
			break;
		}
	}
	introspect_name_frames(&f, 1);
	/* libunwind knows no symbols of the vDSO's; the loader does. */
	if (f.name[0] == '\0' && dladdr((void *)look, &d) != 0 && d.dli_sname != NULL)
		snprintf(f.name, sizeof f.name, "%s", d.dli_sname);
	if (f.name[0] == '\0')
		snprintf(f.name, sizeof f.name, "??");
	slot->cls = classify(look);
	slot->name = slot != &p->spare ? gs_strdup(f.name) : NULL;
	if (slot->name == NULL) {
		memcpy(p->spare_name, f.name, sizeof p->spare_name);
		p->spare = (struct name_slot){ .pc = look, .name = p->spare_name, .cls = slot->cls };
		return &p->spare;
	}
	slot->pc = look;
	return slot;
}

static void prof_free(struct prof *p)
{
	for (unsigned k = 0; k < PROF_SLOTS; k++)
		gs_free(p->key[k]);
	for (unsigned k = 0; k < PROF_NAMES; k++)
		gs_free(p->names[k].name);
	gs_free(p->key_buf.p);
	gs_free(p->recs.p);
	gs_free(p->locks);
	gs_free(p);
}

/* ---- folding: frames to "a;b;c" ------------------------------------------ */

/* Where the frames worth showing begin, innermost first: at the frame a
 * signal interrupted (sig_at; the one before it is the kernel's
 * trampoline, the one before that the handler) if the handler is
 * greenshim's own, which samples and preempts: that frame is where the
 * thread was. */
static int prof_past_own_handler(const uintptr_t *pcs, int n, int sig_at)
{
	/* A caller's pc is a return address: its call is at pc - 1. */
	if (sig_at < 2 || sig_at >= n ||
	    !introspect_own_pc(sig_at == 2 ? pcs[0] : pcs[sig_at - 2] - 1))
		return 0;
	return sig_at;
}

/* Appends ";frame" for each of pcs[0..n) (innermost first), root first,
 * with the runtime's frames collapsed unless p->all_frames (above).
 * Returns whether the innermost frame is the runtime's (collapsed). */
static bool prof_fold(struct prof *p, struct ctl_buf *b, const uintptr_t *pcs, int n)
{
	/* OUT: in the program's code; ENTERED: in greenshim's, its entry
	 * shown (a libc call it makes is shown too: the real read or write);
	 * DEEP: in a helper greenshim called, where only the program's own
	 * code (called back) is shown again. At the root, a green thread's
	 * start (ctx_trampoline, green_main) is left out: DEEP. */
	enum { OUT, ENTERED, DEEP } state = p->all_frames ? OUT : DEEP;

	for (int k = n - 1; k >= 0; k--) {
		/* A caller's pc is a return address: its call is at pc - 1. */
		const struct name_slot *f = prof_frame(p, k == 0 ? pcs[k] : pcs[k] - 1);
		bool show;

		switch (p->all_frames ? FRAME_PROGRAM : f->cls) {
		case FRAME_OWN:
			show = state == OUT;
			if (state == OUT)
				state = ENTERED;
			break;
		case FRAME_HELPER: /* the program's own use of libunwind shows */
			show = state == OUT;
			if (state != OUT)
				state = DEEP;
			break;
		case FRAME_LIBC:
			show = state != DEEP;
			if (state == ENTERED)
				state = OUT;
			break;
		default:
			show = true;
			state = OUT;
		}
		if (show)
			ctl_printf(b, ";%s", f->name);
	}
	return state != OUT;
}

/* The name a stack is led by: the thread's, or, as the kernel's, the
 * program's for a thread never named. */
static const char *thread_name(const char *name)
{
	return name[0] != '\0' ? name : program_invocation_short_name;
}

/* ---- cpu ----------------------------------------------------------------- */

static void prof_cpu_hub(struct prof *p, struct hub *h)
{
	struct sample_result s;
	uintptr_t pcs[INTROSPECT_FRAMES_MAX];
	struct ctl_buf *b = &p->key_buf;
	int from = 0;

	/* The hub's own loop is not sampled (above): a hub idle in it is not
	 * sent a signal that would only wake it. */
	if (__atomic_load_n(&h->current, __ATOMIC_RELAXED) == h->hub_green)
		return;
	if (introspect_sample_unnamed(h, &s, 20) != 0 || s.hub || s.nframes <= 0)
		return;
	for (int k = 0; k < s.nframes; k++)
		pcs[k] = s.frames[k].pc;
	/* Past greenshim's handlers: a sample may be taken in the tick's
	 * handler, even in one the tick interrupted in turn. */
	for (int k = 2; k < s.nframes && !p->all_frames; k++)
		if (s.frames[k].sig && k - 2 >= from && prof_past_own_handler(pcs, s.nframes, k))
			from = k;
	b->len = 0;
	ctl_printf(b, "cpu;%s", thread_name(s.name));
	if (prof_fold(p, b, pcs + from, s.nframes - from))
		ctl_printf(b, ";[greenshim]");
	if (!b->failed)
		prof_add(p, b->p, p->cpu_us);
	p->cpu_samples++;
}

/* ---- wait ---------------------------------------------------------------- */

/* What a thread that does not run waits for, as a frame: "[wait fd 7
 * read]"... */
static void wait_label_of(const struct green *g, char *buf, size_t len)
{
	struct green_info i;
	char who[48] = "";

	introspect_green(g, &i);
	if (i.state == GREEN_READY) {
		snprintf(buf, len, "%s", (g->flags & GREEN_PREEMPTED) ? "[preempted]" : "[ready]");
		return;
	}
	if (i.owner_id != 0)
		snprintf(who, sizeof who, " thread %llu \"%s\"", (unsigned long long)i.owner_id,
			 i.owner_name);
	switch (i.kind) {
	case WAIT_FD_READ:
	case WAIT_FD_WRITE:
		snprintf(buf, len, "[wait fd %ld %s]", i.num, i.kind == WAIT_FD_READ ? "read" : "write");
		break;
	case WAIT_POLL:
		snprintf(buf, len, "[wait poll %ld fd%s]", i.num, i.num == 1 ? "" : "s");
		break;
	case WAIT_MUTEX:
		snprintf(buf, len, "[wait mutex %p%s%s]", i.obj, who[0] ? " held by" : "", who);
		break;
	case WAIT_JOIN:
		snprintf(buf, len, "[wait join%s]", who[0] ? who : " thread");
		break;
	case WAIT_SLEEP:
		snprintf(buf, len, "[sleep]");
		break;
	case WAIT_CHILD:
		if (i.num < 0)
			snprintf(buf, len, "[wait child]");
		else
			snprintf(buf, len, "[wait child %ld]", i.num);
		break;
	case WAIT_POOL:
		snprintf(buf, len, "[wait pool call]");
		break;
	case WAIT_SIGNAL:
		snprintf(buf, len, "[wait signal]");
		break;
	case WAIT_OTHER:
		snprintf(buf, len, "[wait]");
		break;
	default:
		snprintf(buf, len, "[wait %s %p]", introspect_kind_name(i.kind), i.obj);
	}
}

/* On h's thread, every green suspended: one line per thread that does not
 * run, "NAME\tLABEL\tPC PC ...", into p->recs; named and folded later, on
 * the profiler's thread. */
static void prof_wait_hub(struct hub *h, void *arg)
{
	struct prof *p = arg;
	int64_t start = gs_now_ns();

	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		uintptr_t pcs[INTROSPECT_FRAMES_MAX];
		char label[96];
		int n, sig_at, from = 0;

		/* h->preempted ran when the round came: the tick moved it
		 * aside so that the hub could answer (it is queued after this
		 * poll). It was on a CPU, not waiting. */
		if ((g->state != GREEN_PARKED && g->state != GREEN_READY) || !green_of_program(g) ||
		    (g->flags & GREEN_HUB) || g == h->preempted)
			continue;
		n = introspect_backtrace_pcs(g, pcs, INTROSPECT_FRAMES_MAX, &sig_at);
		if (n <= 0)
			continue;
		wait_label_of(g, label, sizeof label);
		/* Preempted: from where the tick's signal interrupted it. */
		if (!p->all_frames)
			from = prof_past_own_handler(pcs, n, sig_at);
		ctl_printf(&p->recs, "%s\t%s\t", thread_name(g->name), label);
		for (int k = from; k < n; k++)
			ctl_printf(&p->recs, "%lx ", (unsigned long)pcs[k]);
		ctl_printf(&p->recs, "\n");
	}
	p->wait_cost_ns += gs_now_ns() - start;
}

static void prof_wait_fold(struct prof *p)
{
	char *line = p->recs.p, *end = p->recs.p + p->recs.len;
	struct ctl_buf *b = &p->key_buf;

	while (line != NULL && line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char *name = line, *label, *q;
		uintptr_t pcs[INTROSPECT_FRAMES_MAX];
		int n = 0;

		if (nl == NULL)
			break;
		*nl = '\0';
		label = strchr(name, '\t');
		q = label != NULL ? strchr(label + 1, '\t') : NULL;
		line = nl + 1;
		if (q == NULL)
			continue;
		*label++ = '\0';
		*q++ = '\0';
		while (n < INTROSPECT_FRAMES_MAX) {
			char *e;
			unsigned long pc = strtoul(q, &e, 16);

			if (e == q)
				break;
			pcs[n++] = (uintptr_t)pc;
			q = e;
		}
		b->len = 0;
		ctl_printf(b, "wait;%s", name);
		prof_fold(p, b, pcs, n);
		ctl_printf(b, ";%s", label);
		if (!b->failed)
			prof_add(p, b->p, p->wait_us);
		p->wait_samples++;
	}
	p->recs.len = 0;
}

/* ---- lock ---------------------------------------------------------------- */

int gs_prof_locks_on;                          /* read by wait_complete */
static struct lock_table *lock_tables[2];
static atomic_flag lock_spin = ATOMIC_FLAG_INIT;

static void lock_tables_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&lock_spin, memory_order_acquire))
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
}

static void lock_tables_unlock(void)
{
	atomic_flag_clear_explicit(&lock_spin, memory_order_release);
}

static void lock_register(struct lock_table *t)
{
	lock_tables_lock();
	for (int k = 0; k < 2; k++)
		if (lock_tables[k] == NULL) {
			lock_tables[k] = t;
			__atomic_add_fetch(&gs_prof_locks_on, 1, __ATOMIC_RELAXED);
			break;
		}
	lock_tables_unlock();
}

static void lock_unregister(struct lock_table *t)
{
	lock_tables_lock();
	for (int k = 0; k < 2; k++)
		if (lock_tables[k] == t) {
			lock_tables[k] = NULL;
			__atomic_sub_fetch(&gs_prof_locks_on, 1, __ATOMIC_RELAXED);
		}
	lock_tables_unlock();
}

static void lock_add(struct lock_table *t, const struct lock_rec *r, uint32_t p)
{
	unsigned s = (unsigned)(r->hash % LOCK_SLOTS);

	t->events++;
	t->weighed += (double)LOCK_P_ONE / p;
	for (unsigned k = 0; k < LOCK_SLOTS; k++, s = (s + 1) % LOCK_SLOTS) {
		struct lock_rec *x = &t->rec[s];

		if (x->count == 0) {
			*x = *r;
			return;
		}
		if (x->hash == r->hash && x->obj == r->obj && x->holder_id == r->holder_id &&
		    x->nw == r->nw && x->nh == r->nh &&
		    memcmp(x->waiter, r->waiter, sizeof x->waiter) == 0 &&
		    memcmp(x->pcs, r->pcs, (size_t)(r->nw + r->nh) * sizeof r->pcs[0]) == 0) {
			x->ns += r->ns;
			x->count++;
			return;
		}
	}
	t->lost++;
}

/* Whether h records this hand-over, and the chance it had (in
 * 1/LOCK_P_ONE): see the head of the file. */
static uint32_t lock_sample(struct hub *h, int64_t now)
{
	typeof(h->lock_sampling) *ls = &h->lock_sampling;
	uint32_t x;

	if (now - ls->window_start >= LOCK_WINDOW_NS || ls->p == 0) {
		double spend = (double)(now - ls->window_start) / LOCK_SHARE;
		double each = ls->recorded > 0 ? (double)ls->cost_ns / ls->recorded : 0;
		double p = ls->p == 0 || each == 0 || ls->seen == 0
				   ? 1.0
				   : spend / ((double)ls->seen * each);

		ls->p = p >= 1.0 ? LOCK_P_ONE : p * LOCK_P_ONE < 1.0 ? 1 : (uint32_t)(p * LOCK_P_ONE);
		ls->window_start = now;
		ls->seen = ls->recorded = 0;
		ls->cost_ns = 0;
		if (ls->rng == 0)
			ls->rng = (uint32_t)((uintptr_t)h >> 4) | 1;
	}
	ls->seen++;
	/* xorshift32: the draw */
	x = ls->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	ls->rng = x;
	return (x % LOCK_P_ONE) < ls->p ? ls->p : 0;
}

void profile_lock_event(struct wait *w, int result)
{
	struct hub *h = hub_peek();
	struct green *waiter = w->g, *holder;
	struct lock_rec r;
	int sig_at, nw, nh;
	uint64_t hash = 5381;
	int64_t now, waited;
	uint32_t p;

	if ((w->kind != WAIT_MUTEX && w->kind != WAIT_RWLOCK && w->kind != WAIT_SEM) ||
	    (result != WAKE_OK && result != WAKE_RETRY && result != WAKE_OWNED) || h == NULL)
		return;
	/* In a signal handler (sem_post is async-signal-safe) the handler
	 * may have interrupted this very function, holding lock_spin. */
	holder = h->current;
	if (holder == NULL || (holder->flags & GREEN_HUB) || waiter->state != GREEN_PARKED ||
	    waiter->hub != h || h->frames != NULL)
		return;
	now = gs_now_ns();
	p = lock_sample(h, now);
	if (p == 0)
		return;
	waited = now - waiter->since;
	memset(&r, 0, offsetof(struct lock_rec, pcs));
	nw = introspect_backtrace_pcs(waiter, r.pcs, LOCK_FRAMES, &sig_at);
	nh = introspect_backtrace_pcs(holder, r.pcs + (nw > 0 ? nw : 0), LOCK_FRAMES, &sig_at);
	r.nw = (uint8_t)(nw > 0 ? nw : 0);
	r.nh = (uint8_t)(nh > 0 ? nh : 0);
	r.kind = (uint8_t)w->kind;
	r.obj = w->obj;
	r.holder_id = holder->id;
	r.ns = (uint64_t)((double)(waited > 0 ? waited : 0) * LOCK_P_ONE / p);
	r.count = 1;
	memcpy(r.waiter, waiter->name, sizeof r.waiter);
	memcpy(r.holder, holder->name, sizeof r.holder);
	r.waiter[sizeof r.waiter - 1] = r.holder[sizeof r.holder - 1] = '\0';
	for (int k = 0; k < r.nw + r.nh; k++)
		hash = hash * 33 + r.pcs[k];
	r.hash = hash ^ (uintptr_t)r.obj ^ r.holder_id;
	lock_tables_lock();
	for (int k = 0; k < 2; k++)
		if (lock_tables[k] != NULL)
			lock_add(lock_tables[k], &r, p);
	lock_tables_unlock();
	h->lock_sampling.recorded++;
	h->lock_sampling.cost_ns += gs_now_ns() - now;
}

/* The lock table, folded: "lock;WAITER;...;[mutex 0x... held by thread N
 * "NAME"];HOLDER'S FRAMES", weighed by the time waited. */
static void prof_lock_fold(struct prof *p)
{
	struct ctl_buf *b = &p->key_buf;

	for (unsigned k = 0; k < LOCK_SLOTS; k++) {
		const struct lock_rec *r = &p->locks->rec[k];

		if (r->count == 0)
			continue;
		b->len = 0;
		ctl_printf(b, "lock;%s", thread_name(r->waiter));
		prof_fold(p, b, r->pcs, r->nw);
		ctl_printf(b, ";[%s %p %s by thread %llu \"%s\"]",
			   introspect_kind_name((enum wait_kind)r->kind), r->obj,
			   r->kind == WAIT_SEM ? "posted" : "held", (unsigned long long)r->holder_id,
			   r->holder);
		prof_fold(p, b, r->pcs + r->nw, r->nh);
		if (!b->failed)
			prof_add(p, b->p, r->ns / 1000);
	}
	p->lost += p->locks->lost;
}

/* ---- the sampler --------------------------------------------------------- */

struct prof_clock {
	int64_t last, last_wait, next_wait, next;
};

static struct prof *prof_new(unsigned kinds, bool all_frames, int hub_timeout_ms)
{
	struct prof *p = gs_calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	p->kinds = kinds;
	p->all_frames = all_frames;
	p->hub_timeout_ms = hub_timeout_ms;
	if (kinds & PROF_LOCK) {
		p->locks = gs_calloc(1, sizeof *p->locks);
		if (p->locks == NULL) {
			gs_free(p);
			return NULL;
		}
		/* Park times exact (introspect.c). */
		introspect_set_stats(true);
		lock_register(p->locks);
	}
	return p;
}

/* The first round of waiting stacks comes after PROF_WAIT_MIN_NS: each
 * weighs the time since the round before. */
static void prof_clock_init(struct prof_clock *c)
{
	c->last = c->last_wait = c->next = gs_now_ns();
	c->next_wait = c->last + PROF_WAIT_MIN_NS;
}

static void prof_cpu_each(struct hub *h, void *arg)
{
	prof_cpu_hub(arg, h);
}

static void prof_wait_each(struct hub *h, void *arg)
{
	struct prof *p = arg;

	control_call_hub(h, prof_wait_hub, p, p->hub_timeout_ms);
}

static void prof_tick(struct prof *p, struct prof_clock *c)
{
	int64_t now = gs_now_ns();

	if (p->kinds & PROF_CPU) {
		p->cpu_us = (unsigned long long)(now - c->last) / 1000;
		c->last = now;
		introspect_foreach_hub(prof_cpu_each, p);
	}
	if ((p->kinds & PROF_WAIT) && now >= c->next_wait) {
		int64_t cost;

		p->wait_us = (unsigned long long)(now - c->last_wait) / 1000;
		c->last_wait = now;
		p->wait_cost_ns = 0;
		introspect_foreach_hub(prof_wait_each, p);
		prof_wait_fold(p);
		/* What the round kept the hubs from their threads (not the
		 * wait for a busy hub to answer). */
		cost = p->wait_cost_ns * PROF_WAIT_SHARE;
		c->next_wait = now + (cost > PROF_WAIT_MIN_NS ? cost : PROF_WAIT_MIN_NS);
	}
}

static void prof_sleep(struct prof *p, struct prof_clock *c, int64_t until)
{
	struct timespec ts;

	int64_t tick = (p->kinds & PROF_CPU) ? PROF_TICK_NS : PROF_IDLE_TICK_NS, now = gs_now_ns();

	/* A round that took longer than a tick (busy hubs slow to answer)
	 * is not followed by one at once: a round holds the registry of hubs
	 * (introspect_foreach_hub), and a hub starting meanwhile, which must
	 * take it to register, waited seconds for a moment between two rounds
	 * (the program's second pthread_create, 1 in 25 runs of greenrun
	 * --profile). The rounds missed are skipped: each weighs the time
	 * since the last. */
	c->next += tick;
	if (c->next < now)
		c->next = now + tick;
	if (until > 0 && c->next > until)
		c->next = until;
	ts.tv_sec = (time_t)(c->next / 1000000000);
	ts.tv_nsec = (long)(c->next % 1000000000);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Ends p's lock events and folds them. */
static void prof_finish(struct prof *p)
{
	if (p->locks == NULL)
		return;
	lock_unregister(p->locks);
	prof_lock_fold(p);
}

/* ---- greenctl: "profile SECONDS [KINDS [FRAMES]]" ------------------------ */

/*   profile  CPU_SAMPLES  WAIT_SAMPLES  LOCK_HANDOVERS  LOST  LOCK_RECORDED
 *   folded   KIND  STACK  MICROSECONDS     one per stack
 * LOCK_HANDOVERS is an estimate (the recorded ones weighed by 1/p). */
void profile_command(const char *args, struct ctl_buf *out)
{
	char kinds_s[64] = "cpu", frames_s[16] = "program";
	double seconds;
	int kinds, n = sscanf(args, "%lf %63s %15s", &seconds, kinds_s, frames_s);
	struct prof_clock c;
	struct prof *p;
	int64_t end;

	if (n < 1 || !(seconds > 0 && seconds <= 3600)) {
		ctl_printf(out, "error\tprofile: seconds from 0 to 3600\n");
		return;
	}
	kinds = config_parse_profile_kinds(kinds_s);
	if (kinds < 0) {
		ctl_printf(out, "error\tprofile: kinds \"%s\": expected %s\n", kinds_s,
			   PROF_KINDS_FORM);
		return;
	}
	if (strcmp(frames_s, "program") != 0 && strcmp(frames_s, "all") != 0) {
		ctl_printf(out, "error\tprofile: frames \"%s\": expected program or all\n", frames_s);
		return;
	}
	p = prof_new((unsigned)kinds, strcmp(frames_s, "all") == 0, PROF_HUB_TIMEOUT_MS);
	if (p == NULL) {
		ctl_printf(out, "error\tout of memory\n");
		return;
	}
	prof_clock_init(&c);
	end = c.last + (int64_t)(seconds * 1e9);
	while (gs_now_ns() < end) {
		prof_tick(p, &c);
		prof_sleep(p, &c, end);
	}
	prof_finish(p);
	ctl_printf(out, "profile\t%lu\t%lu\t%.0f\t%lu\t%lu\n", p->cpu_samples, p->wait_samples,
		   p->locks != NULL ? p->locks->weighed : 0, p->lost,
		   p->locks != NULL ? p->locks->events : 0);
	for (unsigned k = 0; k < PROF_SLOTS; k++) {
		char *semi = p->key[k] != NULL ? strchr(p->key[k], ';') : NULL;

		if (semi == NULL)
			continue;
		*semi = '\0';
		ctl_printf(out, "folded\t%s\t%s\t%llu\n", p->key[k], semi + 1, p->us[k]);
	}
	prof_free(p);
}

/* ---- GREENSHIM_PROFILE: the same sampler for the process's whole life --- */

/* One runtime thread, "gs-profile", samples as above from the library's
 * start until exit; an exit handler (atexit, registered by the
 * constructor, so it runs after the program's own) stops it and appends
 * "PROGRAM;THREAD;frames... MICROSECONDS" lines to each kind's file
 * (config_profile_file) in one write(2) (O_APPEND: processes that share
 * the file never interleave). The program's name leads each stack, so
 * the processes of one run (a shell script and what it starts, a server
 * and its forked workers) are told apart in one graph, and those of one
 * name merge.
 *
 * The lock: the sampler holds it for each tick, the exit handler takes it
 * to stop the sampler for good and read the table. The exit handler may
 * run on a hub's thread (exit from a green thread): a tick that asks that
 * hub for its waiting stacks then waits RUN_HUB_TIMEOUT_MS at most (a
 * hub that answers later loses that round of waiting stacks).
 *
 * Fork: the child has no sampler thread, and a table (and lock) perhaps
 * caught mid-tick: it starts over, empty, with its own thread, and appends
 * its own profile when it exits. _exit, a fatal signal and exec end a
 * process without exit handlers: its samples are lost (docs/LIMITATIONS.md). */
#define RUN_HUB_TIMEOUT_MS 50

static struct prof *run_prof;
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool run_stop;
static long run_pid;

/* arg: the table, which outlives the thread (the exit handler takes
 * run_prof away but never frees it). */
static void *profile_main(void *arg)
{
	struct prof *p = arg;
	struct prof_clock c;

	prof_clock_init(&c);
	for (;;) {
		os_ops.mutex_lock(&run_lock);
		if (atomic_load(&run_stop)) {
			os_ops.mutex_unlock(&run_lock);
			return NULL;
		}
		prof_tick(p, &c);
		os_ops.mutex_unlock(&run_lock);
		prof_sleep(p, &c, 0);
	}
}

static bool write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		long w = arch_syscall3(SYS_write, fd, (long)p, (long)n);

		if (w == -EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void run_write(const char *path, const struct ctl_buf *b)
{
	long fd;

	if (b->len == 0 || b->failed)
		return;
	fd = arch_syscall3(SYS_open, (long)path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		write_all_fd((int)fd, b->p, b->len);
		arch_syscall3(SYS_close, fd, 0, 0);
	}
}

/* The program's own threads run this (exit): raw system calls, never the
 * interposed ones, and libc's lock (os_ops). */
static void profile_at_exit(void)
{
	struct prof *p = run_prof;

	if (p == NULL || arch_syscall3(SYS_getpid, 0, 0, 0) != run_pid)
		return;
	atomic_store(&run_stop, true);
	os_ops.mutex_lock(&run_lock);
	run_prof = NULL;
	os_ops.mutex_unlock(&run_lock);
	prof_finish(p);
	for (unsigned kind = PROF_CPU; kind <= PROF_LOCK; kind <<= 1) {
		const char *name = config_profile_kind_name(kind);
		size_t len = strlen(name);
		struct ctl_buf b = { 0 };
		char path[4096];

		if (!(p->kinds & kind) ||
		    config_profile_file(path, sizeof path, gs_config.profile_path, kind, p->kinds) != 0)
			continue;
		for (unsigned k = 0; k < PROF_SLOTS; k++)
			if (p->key[k] != NULL && strncmp(p->key[k], name, len) == 0 &&
			    p->key[k][len] == ';')
				ctl_printf(&b, "%s;%s %llu\n", program_invocation_short_name,
					   p->key[k] + len + 1, p->us[k]);
		run_write(path, &b);
		gs_free(b.p);
	}
	/* The table stays: another exit handler may still run a thread's
	 * code that reads it (none does; the memory goes with the process). */
}

static void profile_start_thread(void)
{
	if (osthread_start(NULL, "gs-profile", profile_main, run_prof, true) != 0)
		run_prof = NULL; /* no sampler: nothing to write */
}

void profile_start(void)
{
	config_load();
	if (gs_config.profile_path == NULL)
		return;
	run_prof = prof_new(gs_config.profile_kinds, gs_config.profile_all_frames,
			    RUN_HUB_TIMEOUT_MS);
	if (run_prof == NULL)
		return;
	run_pid = arch_syscall3(SYS_getpid, 0, 0, 0);
	atexit(profile_at_exit);
	profile_start_thread();
}

void profile_fork_child(void)
{
	/* Lock tables as the fork found them: greenctl's sampler is not in
	 * the child, the run's starts over below. */
	atomic_flag_clear(&lock_spin);
	lock_tables[0] = lock_tables[1] = NULL;
	gs_prof_locks_on = 0;
	if (run_prof == NULL)
		return;
	/* The parent's table and lock, as the fork found them: the
	 * parent's to write. Its strings are left to the copy-on-write
	 * pages. */
	run_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	run_prof = prof_new(gs_config.profile_kinds, gs_config.profile_all_frames,
			    RUN_HUB_TIMEOUT_MS);
	if (run_prof == NULL)
		return;
	run_pid = arch_syscall3(SYS_getpid, 0, 0, 0);
	profile_start_thread();
}
