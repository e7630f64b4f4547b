/*
 * Unit tests of worker/conn.c: the dialer that every connection goes through.
 *
 * - Refusal before any socket: every reserved range a validation must never reach (private,
 *   link-local, CGNAT, NAT64, IPv4-mapped, ULA, ...) gets ACMEVA_CONN_ERESERVED synchronously.
 *   These addresses are only ever given to the dialer while this process cannot create a
 *   descriptor at all (RLIMIT_NOFILE lowered to the lowest free descriptor number), so even a
 *   wrong dialer that tried to connect could send nothing: its socket() would fail, and it
 *   would return UV_EMFILE instead of ACMEVA_CONN_ERESERVED, which the test catches. The
 *   descriptor count is compared before and after as well.
 * - Local failures: under the same guard an allowed loopback address gets UV_EMFILE, which
 *   acmeva_conn_error_is_local calls this machine's fault.
 * - The per-destination limit, against a listener of this test on loopback: at most N
 *   connections dialled to one address, the rest wait without a socket and get their turn
 *   first come first served when one closes; a waiting connection that is closed leaves the
 *   line; other addresses are not held up; the table empties when the connections close and
 *   grows and shrinks past its first size.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "addrpolicy.h"
#include "check.h"
#include "conn.h"

static uv_loop_t loop;

/* ---- helpers ------------------------------------------------------------------------------- */

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* While the guard is up, this process cannot create any descriptor: the soft limit is the
 * lowest free descriptor number, and the kernel gives only numbers below the limit. */
static struct rlimit saved_limit;

static int guard_up(void)
{
    int lowest = fcntl(0, F_DUPFD, 0);
    if (lowest < 0)
        return -1;
    close(lowest);
    getrlimit(RLIMIT_NOFILE, &saved_limit);
    struct rlimit lim = saved_limit;
    lim.rlim_cur = (rlim_t)lowest;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return -1;
    /* Prove the guard holds before anything is dialled. */
    int probe = fcntl(0, F_DUPFD, 0);
    if (probe >= 0) {
        close(probe);
        setrlimit(RLIMIT_NOFILE, &saved_limit);
        return -1;
    }
    return 0;
}

static void guard_down(void)
{
    setrlimit(RLIMIT_NOFILE, &saved_limit);
}

static void sockaddr_of(struct sockaddr_storage *ss, const char *text, uint16_t port)
{
    uint8_t a[16];
    if (inet_pton(AF_INET, text, a) == 1)
        acmeva_sockaddr_make(ss, AF_INET, a, port);
    else if (inet_pton(AF_INET6, text, a) == 1)
        acmeva_sockaddr_make(ss, AF_INET6, a, port);
    else
        memset(ss, 0, sizeof(*ss));
}

/* A dialer allowing the reserved addresses in |cidrs| (|n|), |max| per destination; |pol|
 * must outlive it. NULL on failure (counted). */
static acmeva_dialer *new_dialer(acmeva_addr_policy *pol, const char *const *cidrs, size_t n,
                                 unsigned max)
{
    acmeva_engine_config cfg;
    char err[200] = "";
    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < n; i++)
        cfg.allow_addresses[i] = (char *)cidrs[i];
    cfg.n_allow_addresses = n;
    CHECK_MSG(acmeva_addr_policy_init(pol, &cfg, err, sizeof(err)) == 0, "policy: %s", err);
    acmeva_dialer *d = NULL;
    CHECK_INT(acmeva_dialer_new(&loop, pol, max, &d), 0);
    return d;
}

/* Runs the loop until |*flag| reaches |want| or |ms| pass. */
static int run_until(const int *flag, int want, uint64_t ms)
{
    uint64_t end = uv_now(&loop) + ms;
    while (*flag < want && uv_now(&loop) < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_sleep(1);
        uv_update_time(&loop);
    }
    return *flag >= want;
}

/* Lets the loop handle everything already due (connects, accepts, the dialer's timer). */
static void settle(void)
{
    for (int i = 0; i < 50; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
}

/* ---- connections under test ---------------------------------------------------------------- */

typedef struct tconn {
    acmeva_conn *c;
    int dialled;   /* on_dial ran */
    int connected; /* on_connect ran: 1 + status */
    int status;
    int dial_order;
} tconn;

static int dial_seq, connects_done;

static void t_on_dial(void *arg)
{
    tconn *t = arg;
    t->dialled = 1;
    t->dial_order = ++dial_seq;
}

static void t_on_connect(void *arg, int status)
{
    tconn *t = arg;
    t->connected = 1;
    t->status = status;
    connects_done++;
}

static void t_on_handshake(void *arg, int status, const char *reason)
{
}

static void t_on_read(void *arg, const char *buf, ssize_t n)
{
}

static const acmeva_conn_cbs tcbs = {t_on_dial, t_on_connect, t_on_handshake, t_on_read};

/* ---- a loopback listener that counts what it accepts --------------------------------------- */

#define MAX_PEERS 64

typedef struct listener {
    uv_tcp_t server;
    uv_tcp_t *peers[MAX_PEERS];
    int accepted;
} listener;

static void peer_close_cb(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *s, int status)
{
    listener *l = s->data;
    if (status != 0 || l->accepted >= MAX_PEERS)
        return;
    uv_tcp_t *p = malloc(sizeof(*p));
    uv_tcp_init(&loop, p);
    if (uv_accept(s, (uv_stream_t *)p) != 0) {
        uv_close((uv_handle_t *)p, peer_close_cb);
        return;
    }
    l->peers[l->accepted++] = p;
}

static int listener_start(listener *l, const char *ip)
{
    struct sockaddr_storage ss;
    struct sockaddr_in sin;
    int len = sizeof(sin);
    memset(l, 0, sizeof(*l));
    sockaddr_of(&ss, ip, 0);
    uv_tcp_init(&loop, &l->server);
    l->server.data = l;
    if (uv_tcp_bind(&l->server, (struct sockaddr *)&ss, 0) != 0 ||
        uv_listen((uv_stream_t *)&l->server, 128, on_connection) != 0)
        return -1;
    uv_tcp_getsockname(&l->server, (struct sockaddr *)&sin, &len);
    return ntohs(sin.sin_port);
}

static void listener_stop(listener *l)
{
    for (int i = 0; i < l->accepted; i++)
        uv_close((uv_handle_t *)l->peers[i], peer_close_cb);
    uv_close((uv_handle_t *)&l->server, NULL);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* Reserved destinations outside every test's exceptions; never dialled by this test. */
static const char *const refused[] = {
    "10.0.0.1",        "10.255.255.254", "172.16.0.1",      "192.168.1.1",      "100.64.0.1",
    "169.254.169.254", "0.0.0.0",        "255.255.255.255", "224.0.0.1",        "192.0.2.1",
    "198.18.0.1",      "240.0.0.1",      "127.0.0.9",       "64:ff9b::a00:1",   "64:ff9b::7f00:1",
    "64:ff9b:1::a00:1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::10.0.0.1",
    "::",              "::2",             "fc00::1",         "fd12:3456::1",     "fe80::1",
    "ff02::1",         "2001:db8::1",     "2002:a00:1::1",   "100::1",
};

static void test_refused_before_socket(void)
{
    static const char *const fixtures[] = {"127.0.0.1/32", "::1/128"};
    acmeva_addr_policy pol;
    acmeva_dialer *d = new_dialer(&pol, fixtures, 2, 4);
    if (d == NULL)
        return;
    int before = open_fds();
    CHECK(before > 0);
    int guarded = guard_up() == 0;
    CHECK_MSG(guarded, "cannot lower RLIMIT_NOFILE: the refusals are not tried");
    if (guarded) {
        int rcs[sizeof(refused) / sizeof(refused[0])];
        acmeva_conn *outs[sizeof(refused) / sizeof(refused[0])];
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
            struct sockaddr_storage ss;
            tconn t;
            memset(&t, 0, sizeof(t));
            sockaddr_of(&ss, refused[i], 80);
            outs[i] = (acmeva_conn *)&t; /* must be reset to NULL */
            rcs[i] = acmeva_conn_connect(d, (struct sockaddr *)&ss, &tcbs, &t, &outs[i]);
        }
        /* The same guard makes an allowed loopback connect fail for want of a descriptor:
         * proof that a socket attempt above would have shown as UV_EMFILE. */
        struct sockaddr_storage ss;
        tconn t;
        memset(&t, 0, sizeof(t));
        acmeva_conn *c = NULL;
        sockaddr_of(&ss, "127.0.0.1", 9);
        int local_rc = acmeva_conn_connect(d, (struct sockaddr *)&ss, &tcbs, &t, &c);
        guard_down();
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
            CHECK_MSG(rcs[i] == ACMEVA_CONN_ERESERVED, "%s: rc %d (%s)", refused[i], rcs[i],
                      rcs[i] < 0 && rcs[i] > -4096 ? uv_strerror(rcs[i]) : "");
            CHECK_MSG(outs[i] == NULL, "%s: a connection came back", refused[i]);
        }
        CHECK_MSG(local_rc == UV_EMFILE, "allowed address under the guard: %d", local_rc);
        CHECK_INT(acmeva_conn_error_is_local(local_rc), 1);
        CHECK(c == NULL);
    }
    settle();
    CHECK_INT(open_fds(), before);
    CHECK_INT((int)acmeva_dialer_destinations(d), 0);
    CHECK_INT(connects_done, 0); /* no callback from a refused or failed connect */

    /* Other address families are refused the same way. */
    struct sockaddr_storage unix_ss;
    memset(&unix_ss, 0, sizeof(unix_ss));
    unix_ss.ss_family = AF_UNIX;
    acmeva_conn *c = NULL;
    tconn t;
    CHECK_INT(acmeva_conn_connect(d, (struct sockaddr *)&unix_ss, &tcbs, &t, &c),
              ACMEVA_CONN_ERESERVED);
    acmeva_dialer_free(d);
    settle();
}

static void test_error_classes(void)
{
    /* This machine's shortages, then the peer's or the network's failures. */
    static const struct {
        int status, local;
    } classes[] = {
        {UV_EMFILE, 1},       {UV_ENFILE, 1},         {UV_ENOMEM, 1},
        {UV_ENOBUFS, 1},      {UV_EADDRNOTAVAIL, 1},  {UV_ECONNREFUSED, 0},
        {UV_ETIMEDOUT, 0},    {UV_ECONNRESET, 0},     {UV_ENETUNREACH, 0},
        {UV_EHOSTUNREACH, 0}, {ACMEVA_CONN_ERESERVED, 0},
    };
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        CHECK_MSG(acmeva_conn_error_is_local(classes[i].status) == classes[i].local,
                  "status %d: local %d", classes[i].status, classes[i].local);
    CHECK_STR(acmeva_conn_error_text(UV_ECONNREFUSED), "Connection refused");
    CHECK_STR(acmeva_conn_error_text(UV_ETIMEDOUT),
              "Timeout during connect (likely firewall problem)");
    CHECK_STR(acmeva_conn_error_text(ACMEVA_CONN_ERESERVED),
              "IP address is in a reserved address block");
}

#define N_CONNS 6
#define LIMIT 2

static void test_per_destination(void)
{
    static const char *const fixtures[] = {"127.0.0.0/8"};
    acmeva_addr_policy pol;
    listener l1, l2, l3;
    int port1 = listener_start(&l1, "127.0.0.1");
    int port2 = listener_start(&l2, "127.0.0.2");
    int port3 = listener_start(&l3, "127.0.0.1");
    CHECK(port1 > 0 && port2 > 0 && port3 > 0);
    acmeva_dialer *d = new_dialer(&pol, fixtures, 1, LIMIT);
    if (d == NULL || port1 <= 0 || port2 <= 0 || port3 <= 0)
        return;
    tconn t[N_CONNS];
    memset(t, 0, sizeof(t));
    dial_seq = 0;
    connects_done = 0;
    struct sockaddr_storage ss;
    sockaddr_of(&ss, "127.0.0.1", (uint16_t)port1);
    int queued = 0;
    for (int i = 0; i < N_CONNS; i++) {
        CHECK_INT(acmeva_conn_connect(d, (struct sockaddr *)&ss, &tcbs, &t[i], &t[i].c), 0);
        queued += acmeva_conn_queued(t[i].c);
        CHECK_INT(acmeva_conn_queued(t[i].c), i >= LIMIT);
    }
    CHECK_INT(queued, N_CONNS - LIMIT);
    CHECK_INT((int)acmeva_dialer_destinations(d), 1);
    /* Another port of the same address shares its limit: it waits too. */
    tconn other_port;
    memset(&other_port, 0, sizeof(other_port));
    struct sockaddr_storage ss_port;
    sockaddr_of(&ss_port, "127.0.0.1", (uint16_t)port3);
    CHECK_INT(acmeva_conn_connect(d, (struct sockaddr *)&ss_port, &tcbs, &other_port,
                                  &other_port.c),
              0);
    CHECK_INT(acmeva_conn_queued(other_port.c), 1);
    /* Another address is not held up by the first one's line. */
    tconn other;
    memset(&other, 0, sizeof(other));
    struct sockaddr_storage ss2;
    sockaddr_of(&ss2, "127.0.0.2", (uint16_t)port2);
    CHECK_INT(acmeva_conn_connect(d, (struct sockaddr *)&ss2, &tcbs, &other, &other.c), 0);
    CHECK_INT(acmeva_conn_queued(other.c), 0);
    CHECK_INT((int)acmeva_dialer_destinations(d), 2);

    CHECK(run_until(&connects_done, LIMIT + 1, 5000));
    settle();
    CHECK_INT(l1.accepted, LIMIT); /* the listener saw exactly the limit */
    CHECK_INT(l2.accepted, 1);
    CHECK_INT(connects_done, LIMIT + 1);
    for (int i = 0; i < LIMIT; i++)
        CHECK(t[i].connected && t[i].status == 0 && !t[i].dialled);
    CHECK(other.connected && other.status == 0);

    /* A waiting connection that is closed leaves the line: t[LIMIT] goes, t[LIMIT + 1] is
     * next. */
    acmeva_conn_close(t[LIMIT].c, 0);
    t[LIMIT].c = NULL;
    /* Closing a dialled one gives its turn to the first in line, from the loop. */
    acmeva_conn_close(t[0].c, 1);
    t[0].c = NULL;
    CHECK_INT(t[LIMIT + 1].dialled, 0); /* not from inside the close */
    CHECK(run_until(&connects_done, LIMIT + 2, 5000));
    settle();
    CHECK_INT(t[LIMIT + 1].dialled, 1);
    CHECK_INT(t[LIMIT + 1].dial_order, 1);
    CHECK(t[LIMIT + 1].connected && t[LIMIT + 1].status == 0);
    CHECK_INT(acmeva_conn_queued(t[LIMIT + 1].c), 0);
    CHECK_INT(t[LIMIT + 2].dialled, 0);
    CHECK_INT(l1.accepted, LIMIT + 1);

    /* Close two more: the next two in line, in order, then the other port's. */
    acmeva_conn_close(t[1].c, 0);
    t[1].c = NULL;
    acmeva_conn_close(t[LIMIT + 1].c, 0);
    t[LIMIT + 1].c = NULL;
    CHECK(run_until(&connects_done, LIMIT + 4, 5000));
    CHECK_INT(t[LIMIT + 2].dial_order, 2);
    CHECK_INT(t[LIMIT + 3].dial_order, 3);
    CHECK_INT(other_port.dialled, 0);
    acmeva_conn_close(t[LIMIT + 2].c, 0);
    t[LIMIT + 2].c = NULL;
    CHECK(run_until(&other_port.connected, 1, 5000));
    CHECK_INT(other_port.dial_order, 4);
    CHECK_INT(other_port.status, 0);
    settle();
    CHECK_INT(l3.accepted, 1);
    CHECK_INT(l1.accepted, LIMIT + 3);

    for (int i = 0; i < N_CONNS; i++)
        acmeva_conn_close(t[i].c, 0);
    acmeva_conn_close(other.c, 0);
    acmeva_conn_close(other_port.c, 0);
    CHECK_INT((int)acmeva_dialer_destinations(d), 0);
    acmeva_dialer_free(d);
    listener_stop(&l1);
    listener_stop(&l2);
    listener_stop(&l3);
    settle();
}

/* Many destinations: the table grows past its first size, finds every entry again, and
 * shrinks back once they are closed. Only loopback addresses where nothing listens. */
#define N_DESTS 200

static void test_table_growth(void)
{
    static const char *const fixtures[] = {"127.0.0.0/8"};
    acmeva_addr_policy pol;
    acmeva_dialer *d = new_dialer(&pol, fixtures, 1, 1);
    if (d == NULL)
        return;
    static tconn first[N_DESTS], second[N_DESTS];
    memset(first, 0, sizeof(first));
    memset(second, 0, sizeof(second));
    for (int i = 0; i < N_DESTS; i++) {
        char ip[32];
        struct sockaddr_storage ss;
        snprintf(ip, sizeof(ip), "127.1.%d.%d", i / 250, i % 250 + 1);
        sockaddr_of(&ss, ip, 9);
        CHECK_INT(acmeva_conn_connect(d, (struct sockaddr *)&ss, &tcbs, &first[i], &first[i].c),
                  0);
    }
    CHECK_INT((int)acmeva_dialer_destinations(d), N_DESTS);
    int all_queued = 1;
    for (int i = 0; i < N_DESTS; i++) {
        char ip[32];
        struct sockaddr_storage ss;
        snprintf(ip, sizeof(ip), "127.1.%d.%d", i / 250, i % 250 + 1);
        sockaddr_of(&ss, ip, 9);
        CHECK_INT(
            acmeva_conn_connect(d, (struct sockaddr *)&ss, &tcbs, &second[i], &second[i].c), 0);
        all_queued &= second[i].c != NULL && acmeva_conn_queued(second[i].c);
    }
    CHECK_MSG(all_queued, "every second connection waits behind the first to its address");
    CHECK_INT((int)acmeva_dialer_destinations(d), N_DESTS);
    for (int i = 0; i < N_DESTS; i++) {
        acmeva_conn_close(second[i].c, 0);
        acmeva_conn_close(first[i].c, 1);
    }
    CHECK_INT((int)acmeva_dialer_destinations(d), 0);
    settle();
    acmeva_dialer_free(d);
    settle();
}

int main(void)
{
    uv_loop_init(&loop);
    test_error_classes();
    test_refused_before_socket();
    test_per_destination();
    test_table_growth();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
    return CHECK_DONE();
}
