/* Green threads by id, from any OS thread and from signal handlers
 * (gid.c). */
#ifndef GS_GID_H
#define GS_GID_H

#include <stdint.h>

struct green;
struct hub;
struct gid_entry;

/* The bits of a green id that a green thread's kernel id carries
 * (preload/thread.c: PRELOAD_GREEN_TID_BASE plus these). */
#define GID_KEY_MASK 0x3fffffffu

/* An entry for a thread about to be made; NULL if no memory. */
struct gid_entry *gid_entry_new(void);
/* Gives back an entry never added (the thread was not made). */
void gid_entry_drop(struct gid_entry *e);
/* Makes g (g->id set) findable, on hub h, through e. */
void gid_add(struct green *g, struct gid_entry *e, struct hub *h);
/* g ends: not findable from now on. */
void gid_remove(struct green *g);
/* How many threads are findable: made and not yet ended. */
unsigned long gid_live(void);
/* g runs on t from now on (hub_move_green). */
void gid_moved(struct green *g, struct hub *t);
/* The live green thread whose id's low bits are key, with its whole id
 * and its hub; NULL if none. Takes no lock: safe in a signal handler and
 * on any OS thread. The thread may end at any time after: what is done
 * with it names it by (thread, id), which its hub checks. */
struct green *gid_find(uint32_t key, uint64_t *id, struct hub **h);
/* The same by fewer of the id's low bits (mask, of GID_KEY_MASK's, and
 * above the buckets' 10): the first live thread found whose id has them. */
struct green *gid_find_bits(uint32_t key, uint32_t mask, uint64_t *id, struct hub **h);
/* In a fork child: keep only keep (the forking thread, if it had an
 * entry), on h. */
void gid_fork_child(struct green *keep, struct hub *h);

#endif
