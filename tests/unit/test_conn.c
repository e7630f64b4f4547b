/*
 * Unit tests of worker/conn.c: the dialer that every connection goes through.
 *
 * - Refusal before any socket: every reserved range a validation must never reach (private,
 *   link-local, CGNAT, NAT64, IPv4-mapped, ULA, ...) gets ACMEVA_CONN_ERESERVED synchronously.
 *   These addresses are only ever given to the dialer while this process cannot create a
 *   descriptor at all (RLIMIT_NOFILE lowered to the lowest free descriptor number), so even a
 *   wrong dialer that tried to connect could send nothing: its socket() would fail, and it
 *   would return UV_EMFILE instead of ACMEVA_CONN_ERESERVED, which the test catches. The
 *   descriptor count is compared before and after as well. Under the same guard an allowed
 *   loopback address gets UV_EMFILE: the guard does stop a socket.
 * - An allowed loopback address connects, to a listener of this test.
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

/* A dialer allowing the reserved addresses in |cidrs| (|n|); |pol| must outlive it. NULL on
 * failure (counted). */
static acmeva_dialer *new_dialer(acmeva_addr_policy *pol, const char *const *cidrs, size_t n)
{
    acmeva_engine_config cfg;
    char err[200] = "";
    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < n; i++)
        cfg.allow_addresses[i] = (char *)cidrs[i];
    cfg.n_allow_addresses = n;
    CHECK_MSG(acmeva_addr_policy_init(pol, &cfg, err, sizeof(err)) == 0, "policy: %s", err);
    acmeva_dialer *d = NULL;
    CHECK_INT(acmeva_dialer_new(&loop, pol, &d), 0);
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
    int connected; /* on_connect ran */
    int status;
} tconn;

static int connects_done;

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

static const acmeva_conn_cbs tcbs = {t_on_connect, t_on_handshake, t_on_read};

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
    acmeva_dialer *d = new_dialer(&pol, fixtures, 2);
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
        CHECK(c == NULL);
    }
    settle();
    CHECK_INT(open_fds(), before);
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

static void test_error_text(void)
{
    CHECK_STR(acmeva_conn_error_text(UV_ECONNREFUSED), "Connection refused");
    CHECK_STR(acmeva_conn_error_text(UV_ETIMEDOUT),
              "Timeout during connect (likely firewall problem)");
    CHECK_STR(acmeva_conn_error_text(ACMEVA_CONN_ERESERVED),
              "IP address is in a reserved address block");
}

/* An allowed loopback address is dialled, and reaches this test's listener. */
static void test_allowed_connects(void)
{
    static const char *const fixtures[] = {"127.0.0.1/32"};
    acmeva_addr_policy pol;
    listener l;
    int port = listener_start(&l, "127.0.0.1");
    CHECK(port > 0);
    acmeva_dialer *d = new_dialer(&pol, fixtures, 1);
    if (d == NULL || port <= 0)
        return;
    tconn t;
    memset(&t, 0, sizeof(t));
    connects_done = 0;
    struct sockaddr_storage ss;
    sockaddr_of(&ss, "127.0.0.1", (uint16_t)port);
    CHECK_INT(acmeva_conn_connect(d, (struct sockaddr *)&ss, &tcbs, &t, &t.c), 0);
    CHECK(run_until(&connects_done, 1, 5000));
    settle();
    CHECK_INT(t.status, 0);
    CHECK_INT(l.accepted, 1);
    acmeva_conn_close(t.c, 0);
    acmeva_dialer_free(d);
    listener_stop(&l);
    settle();
}

int main(void)
{
    uv_loop_init(&loop);
    test_error_text();
    test_refused_before_socket();
    test_allowed_connects();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
    return CHECK_DONE();
}
