/*
 * The consumer side of a Redis stream with a consumer group, at least once (DESIGN.md "Redis
 * keys"): one thread's reader connection and everything that delivers entries to it.
 *
 * One request is outstanding at a time on the reader connection:
 * 1. after every (re)connect, XGROUP CREATE <stream> <group> 0 MKSTREAM (BUSYGROUP is fine;
 *    NOPERM too, for a least-privilege user that may only read: the group then must exist),
 *    then this consumer's own pending entries (XREADGROUP ... 0 onwards): what it held when a
 *    connection was lost;
 * 2. every claim period, XAUTOCLAIM of entries idle longer than claim_idle_ms (a dead
 *    consumer's), after asking the owner to refresh the idle time of its own long-running
 *    entries (XCLAIM ... JUSTID to itself: no delivery is counted);
 * 3. otherwise XREADGROUP ... BLOCK <block_ms> STREAMS <stream> > (new entries).
 * COUNT is always the owner's free capacity minus what is already asked for, so the owner never
 * holds more than it allows. Entries delivered again (1 and 2) have their delivery count looked
 * up (XPENDING <stream> <group> <id> <id> 1 <consumer>) before they are handed over; new
 * entries have count 1.
 */
#ifndef ACMEVA_STREAMREADER_H
#define ACMEVA_STREAMREADER_H

#include <stddef.h>
#include <stdint.h>

#include "redisconn.h"

#define ACMEVA_ENTRY_ID_MAX 48 /* "<ms>-<seq>": two 64-bit decimals and a dash fit in 41 */

/* One delivered entry; every pointer is borrowed for the duration of the deliver call. */
typedef struct acmeva_sentry {
    const char *id;
    const char *raw; /* the value of the field (e.g. "job"), NULL when the entry has none */
    size_t raw_len;
    int deleted; /* pending, but trimmed from the stream: nothing to run, only acknowledge */
    int attempt; /* the delivery count */
} acmeva_sentry;

typedef struct acmeva_sreader_ops {
    size_t (*capacity)(void *owner);            /* entries the owner can take now */
    int (*holds)(void *owner, const char *id);  /* 1: the owner already runs this entry */
    void (*deliver)(void *owner, const acmeva_sentry *e);
    void (*heartbeat)(void *owner);             /* each claim period: refresh idle times */
    void (*settled)(void *owner);               /* a read or a look-up ended */
} acmeva_sreader_ops;

typedef struct acmeva_sreader_config {
    const char *stream;
    const char *group;
    const char *consumer;
    const char *field;     /* the field that carries the payload ("job") */
    int64_t claim_idle_ms; /* XAUTOCLAIM min-idle-time */
    int64_t block_ms;      /* XREADGROUP BLOCK */
} acmeva_sreader_config;

typedef struct acmeva_sreader {
    acmeva_rconn conn;
    acmeva_sreader_config cfg;
    const acmeva_sreader_ops *ops;
    void *owner;
    uv_timer_t claim_timer;
    int64_t claim_every_ms;
    size_t reserved;      /* capacity promised to the outstanding read and look-ups */
    size_t read_reserved; /* the COUNT of the outstanding read */
    int group_ready;
    int reading; /* a delivering request is outstanding */
    int resuming;
    char resume_cursor[ACMEVA_ENTRY_ID_MAX];
    size_t resumed;
    int claim_due;
    char claim_cursor[ACMEVA_ENTRY_ID_MAX];
    size_t batches; /* XPENDING look-ups outstanding */
    int stopped;
    uint64_t n_received, n_claimed, n_resumed;
} acmeva_sreader;

/*
 * acmeva_sreader_init prepares |r| on |loop| with its own reader connection (role "reader").
 * |cfg|'s strings are borrowed and must outlive |r|. Returns 0 or a libuv error.
 */
int acmeva_sreader_init(acmeva_sreader *r, uv_loop_t *loop, const acmeva_rconn_settings *s,
                        const acmeva_sreader_config *cfg, const acmeva_sreader_ops *ops,
                        void *owner, int thread, const char *client_name);

/* acmeva_sreader_start connects and starts the claim timer (spread over the period by
 * |jitter|, any random number). */
void acmeva_sreader_start(acmeva_sreader *r, unsigned jitter);

/* acmeva_sreader_kick issues the next read when there is capacity: call it whenever the
 * owner's capacity grew. */
void acmeva_sreader_kick(acmeva_sreader *r);

/* acmeva_sreader_busy returns 1 while a read or a look-up is outstanding on a live connection:
 * entries may still be delivered. */
int acmeva_sreader_busy(const acmeva_sreader *r);

/* acmeva_sreader_stop stops reading (what is outstanding still delivers). */
void acmeva_sreader_stop(acmeva_sreader *r);

/* acmeva_sreader_close closes the connection and the timer (run the loop afterwards). */
void acmeva_sreader_close(acmeva_sreader *r);

/*
 * acmeva_sreader_touch sends XCLAIM <stream> <group> <consumer> 0 <ids...> JUSTID on |c| (the
 * owner's writer connection): it resets the idle time of entries still running here so that no
 * other consumer's XAUTOCLAIM takes them, without counting a delivery.
 */
void acmeva_sreader_touch(acmeva_sreader *r, acmeva_rconn *c, const char *const *ids, size_t n);

#endif
