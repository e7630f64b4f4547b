/* Unit tests of the pure parts of the Redis layer: redis:// URLs and their masked form,
 * reconnect backoff, option values, and log lines (escaping, JSON validity). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "queue.h"

static void test_url_ok(void)
{
    acmeva_redis_url u;
    char err[256], m[256];

    CHECK_INT(acmeva_redis_url_parse("redis://127.0.0.1:6379", &u, err, sizeof(err)), 0);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_INT(u.port, 6379);
    CHECK(u.user == NULL && u.password == NULL);
    CHECK_INT(u.db, 0);
    acmeva_redis_url_clear(&u);

    CHECK_INT(
        acmeva_redis_url_parse("redis://alice:s3cret@redis.example:7000/3", &u, err, sizeof(err)),
        0);
    CHECK_STR(u.host, "redis.example");
    CHECK_INT(u.port, 7000);
    CHECK_STR(u.user, "alice");
    CHECK_STR(u.password, "s3cret");
    CHECK_INT(u.db, 3);
    CHECK_INT(acmeva_redis_url_masked(&u, m, sizeof(m)), 0);
    CHECK_STR(m, "redis://alice:***@redis.example:7000/3");
    acmeva_redis_url_clear(&u);

    /* AUTH password only (requirepass); a percent-encoded '@', '/' and ':' in it. */
    CHECK_INT(acmeva_redis_url_parse("redis://:p%40ss%2Fw%3Ard@h", &u, err, sizeof(err)), 0);
    CHECK(u.user == NULL);
    CHECK_STR(u.password, "p@ss/w:rd");
    CHECK_INT(u.port, 6379);
    CHECK_INT(acmeva_redis_url_masked(&u, m, sizeof(m)), 0);
    CHECK_STR(m, "redis://:***@h:6379/0");
    acmeva_redis_url_clear(&u);

    /* The last '@' ends the user info: an unencoded '@' in a password still works. */
    CHECK_INT(acmeva_redis_url_parse("redis://u:a@b@host:1/", &u, err, sizeof(err)), 0);
    CHECK_STR(u.password, "a@b");
    CHECK_STR(u.host, "host");
    CHECK_INT(u.port, 1);
    acmeva_redis_url_clear(&u);

    CHECK_INT(acmeva_redis_url_parse("REDIS://[::1]:6380/15", &u, err, sizeof(err)), 0);
    CHECK_STR(u.host, "::1");
    CHECK_INT(u.port, 6380);
    CHECK_INT(u.db, 15);
    CHECK_INT(acmeva_redis_url_masked(&u, m, sizeof(m)), 0);
    CHECK_STR(m, "redis://[::1]:6380/15");
    CHECK(!u.tls);
    acmeva_redis_url_clear(&u);
    acmeva_redis_url_clear(NULL);
}

/* rediss:// (DESIGN.md "Channel"): the same URL with TLS; the default port stays 6379, the
 * masked form keeps the scheme (an operator must see from the log that TLS is on). */
static void test_url_tls(void)
{
    acmeva_redis_url u;
    char err[256], m[256];
    CHECK_INT(acmeva_redis_url_parse("rediss://redis.ca.example", &u, err, sizeof(err)), 0);
    CHECK(u.tls);
    CHECK_STR(u.host, "redis.ca.example");
    CHECK_INT(u.port, 6379);
    CHECK_INT(acmeva_redis_url_masked(&u, m, sizeof(m)), 0);
    CHECK_STR(m, "rediss://redis.ca.example:6379/0");
    acmeva_redis_url_clear(&u);

    CHECK_INT(acmeva_redis_url_parse("RedisS://acmeva-p-us-west:pa%3Ass@[2001:db8::5]:6380/2", &u,
                                     err, sizeof(err)),
              0);
    CHECK(u.tls);
    CHECK_STR(u.user, "acmeva-p-us-west");
    CHECK_STR(u.password, "pa:ss");
    CHECK_STR(u.host, "2001:db8::5");
    CHECK_INT(u.port, 6380);
    CHECK_INT(u.db, 2);
    CHECK_INT(acmeva_redis_url_masked(&u, m, sizeof(m)), 0);
    CHECK_STR(m, "rediss://acmeva-p-us-west:***@[2001:db8::5]:6380/2");
    CHECK(strstr(m, "pa:ss") == NULL);
    acmeva_redis_url_clear(&u);

    /* A bad rediss:// URL names both schemes and never repeats the password. */
    CHECK(acmeva_redis_url_parse("rediss://u:hush@ho st", &u, err, sizeof(err)) < 0);
    CHECK(strstr(err, "redis[s]://") != NULL);
    CHECK(strstr(err, "hush") == NULL);
}

/* The start-up warning for plain redis:// goes to every host that is not this machine. */
static void test_url_loopback(void)
{
    static const struct {
        const char *url;
        int loopback;
    } cases[] = {
        {"redis://127.0.0.1", 1},
        {"redis://127.9.8.7:1", 1},
        {"redis://localhost", 1},
        {"redis://LocalHost:7", 1},
        {"redis://[::1]", 1},
        {"redis://[::ffff:127.0.0.1]", 1},
        {"redis://10.0.0.5", 0},
        {"redis://128.0.0.1", 0},
        {"redis://[::2]", 0},
        {"redis://[::]", 0},
        {"redis://[::ffff:10.0.0.1]", 0},
        {"redis://redis.ca.example", 0},
        {"redis://localhost.example", 0},
        {"redis://0.0.0.0", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        acmeva_redis_url u;
        char err[256];
        CHECK_INT(acmeva_redis_url_parse(cases[i].url, &u, err, sizeof(err)), 0);
        CHECK_MSG(acmeva_redis_url_is_loopback(&u) == cases[i].loopback, "%s", cases[i].url);
        acmeva_redis_url_clear(&u);
    }
    CHECK(!acmeva_redis_url_is_loopback(NULL));
}

/* note_output runs acmeva_redis_channel_note for |url| with stderr going to a file, and returns
 * what it wrote (static buffer). Nothing here ever dials. */
static const char *note_output(const char *url, int cli)
{
    static char out[4096];
    acmeva_redis_url u;
    acmeva_redis_tls_options o = {NULL, NULL, NULL};
    char err[256];
    out[0] = '\0';
    if (acmeva_redis_url_parse(url, &u, err, sizeof(err)) < 0)
        return out;
    FILE *tmp = tmpfile();
    int saved = dup(2);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    acmeva_redis_channel_note("prog", cli, &u, &o, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    acmeva_redis_url_clear(&u);
    return out;
}

/* DESIGN.md "Channel": plain redis:// to a host that is not loopback is warned about at start;
 * loopback is not; rediss:// logs its settings. */
static void test_channel_note(void)
{
    const char *o = note_output("redis://u:hush@10.0.0.5:6379", 1);
    CHECK_MSG(strstr(o, "prog: warning: plain redis:// to a host that is not loopback") == o, "%s",
              o);
    CHECK(strstr(o, "redis://u:***@10.0.0.5:6379/0") != NULL);
    CHECK(strstr(o, "hush") == NULL);
    o = note_output("redis://redis.ca.example", 0);
    CHECK_MSG(strstr(o, " warn plain redis:// to a host that is not loopback") != NULL, "%s", o);
    CHECK_STR(note_output("redis://127.0.0.1:6379", 1), "");
    CHECK_STR(note_output("redis://localhost", 0), "");
    CHECK_STR(note_output("rediss://10.0.0.5", 1), "");
    o = note_output("rediss://10.0.0.5", 0);
    CHECK_MSG(strstr(o, " info redis TLS redis=rediss://10.0.0.5:6379/0 ca=\"system bundle\" "
                        "client_cert=none") != NULL,
              "%s", o);
}

/* TLS options go with rediss:// only, and the certificate with its key. */
static void test_tls_check(void)
{
    acmeva_redis_url plain, tls;
    char err[256];
    CHECK_INT(acmeva_redis_url_parse("redis://10.0.0.5", &plain, err, sizeof(err)), 0);
    CHECK_INT(acmeva_redis_url_parse("rediss://10.0.0.5", &tls, err, sizeof(err)), 0);
    acmeva_redis_tls_options o = {NULL, NULL, NULL};
    CHECK_INT(acmeva_redis_tls_check(&o, &plain, err, sizeof(err)), 0);
    CHECK_INT(acmeva_redis_tls_check(&o, &tls, err, sizeof(err)), 0);
    o.ca_file = "ca.pem";
    CHECK_INT(acmeva_redis_tls_check(&o, &tls, err, sizeof(err)), 0);
    err[0] = '\0';
    CHECK(acmeva_redis_tls_check(&o, &plain, err, sizeof(err)) < 0);
    CHECK(strstr(err, "rediss://") != NULL);
    o.cert_file = "client.pem";
    CHECK(acmeva_redis_tls_check(&o, &tls, err, sizeof(err)) < 0);
    CHECK(strstr(err, "--redis-key") != NULL);
    o.key_file = "client.key";
    CHECK_INT(acmeva_redis_tls_check(&o, &tls, err, sizeof(err)), 0);
    o.cert_file = NULL;
    CHECK(acmeva_redis_tls_check(&o, &tls, err, sizeof(err)) < 0);

    /* Options parsing: both spellings, and a missing value. */
    acmeva_redis_tls_options p = {NULL, NULL, NULL};
    char *argv[] = {"x",           "--redis-ca", "a.pem", "--redis-cert=c.pem",
                    "--redis-key", "--threads",  "2"};
    int i = 1;
    CHECK_INT(acmeva_redis_tls_option(&p, "t", 7, argv, &i), 1);
    CHECK_INT(i, 3);
    CHECK_STR(p.ca_file, "a.pem");
    CHECK_INT(acmeva_redis_tls_option(&p, "t", 7, argv, &i), 1);
    CHECK_STR(p.cert_file, "c.pem");
    i = 5;
    CHECK_INT(acmeva_redis_tls_option(&p, "t", 7, argv, &i), 0);
    acmeva_redis_tls_options_clear(&p);
    CHECK(p.ca_file == NULL && p.cert_file == NULL);
    acmeva_redis_tls_options_clear(NULL);

    /* A plain URL makes no context; TLS options with it are refused there too. */
    void *ctx = (void *)1;
    acmeva_redis_tls_options none = {NULL, NULL, NULL};
    CHECK_INT(acmeva_redis_tls_ctx_new(&plain, &none, &ctx, err, sizeof(err)), 0);
    CHECK(ctx == NULL);
    acmeva_redis_url_clear(&plain);
    acmeva_redis_url_clear(&tls);
}

static void test_url_bad(void)
{
    static const char *bad[] = {
        "",
        "http://127.0.0.1:6379",
        "redis://",
        "redis://:6379",
        "redis://host:0",
        "redis://host:65536",
        "redis://host:12a",
        "redis://host:",
        "redis://host/x",
        "redis://host/-1",
        "redis://host/99999999999",
        "redis://host?db=1",
        "redis://host#x",
        "redis://ho st",
        "redis://[::1",
        "redis://[::1]x",
        "redis://[zz::1]:1",
        "redis://nocolon@host",
        "redis://u:@host",
        "redis://u:%4@host",
        "redis://u:%zz@host",
        "redis://u:a%00b@host",
        "redisss://host",
        "redis:/host",
        "rediss:host",
        "rediss//host",
        "tls://host",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        acmeva_redis_url u;
        char err[256] = "";
        int rc = acmeva_redis_url_parse(bad[i], &u, err, sizeof(err));
        CHECK_MSG(rc < 0, "accepted \"%s\"", bad[i]);
        CHECK_MSG(err[0] != '\0', "no message for \"%s\"", bad[i]);
        CHECK(u.host == NULL && u.password == NULL && u.user == NULL);
    }
    /* The error never repeats the password. */
    acmeva_redis_url u;
    char err[256];
    CHECK(acmeva_redis_url_parse("redis://u:topsecret@ho st:1", &u, err, sizeof(err)) < 0);
    CHECK(strstr(err, "topsecret") == NULL);

    /* A URL longer than the cap. */
    char *long_url = malloc(5000);
    memset(long_url, 'a', 4999);
    memcpy(long_url, "redis://", 8);
    long_url[4999] = '\0';
    CHECK(acmeva_redis_url_parse(long_url, &u, err, sizeof(err)) < 0);
    free(long_url);
}

static void test_masked_small_buffer(void)
{
    acmeva_redis_url u;
    char err[256], m[16];
    CHECK_INT(
        acmeva_redis_url_parse("redis://user:verysecretpassword@host:1", &u, err, sizeof(err)), 0);
    CHECK(acmeva_redis_url_masked(&u, m, sizeof(m)) < 0);
    CHECK(strstr(m, "verysecret") == NULL);
    acmeva_redis_url_clear(&u);
}

static void test_backoff(void)
{
    /* 100 ms doubling to 5 s, with the delay in [d/2, d]. */
    int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (unsigned f = 0; f < sizeof(want) / sizeof(want[0]); f++) {
        CHECK_INT(acmeva_backoff_ms(f, 0), want[f] / 2);
        CHECK_INT(acmeva_backoff_ms(f, (uint32_t)(want[f] / 2)), want[f]);
        for (uint32_t r = 0; r < 20000; r += 997) {
            int64_t d = acmeva_backoff_ms(f, r * 2654435761u);
            CHECK_MSG(d >= want[f] / 2 && d <= want[f], "f=%u d=%lld", f, (long long)d);
        }
    }
    CHECK_INT(acmeva_backoff_ms(1000000, 0xffffffffu) <= 5000, 1);
    CHECK_INT(acmeva_backoff_ms(UINT32_MAX, 7) >= 2500, 1);
}

static void test_parse_int_and_names(void)
{
    int64_t v = -7;
    CHECK_INT(acmeva_parse_int("42", 1, 100, &v), 0);
    CHECK_INT(v, 42);
    CHECK_INT(acmeva_parse_int("0", 1, 100, &v), -1);
    CHECK_INT(acmeva_parse_int("101", 1, 100, &v), -1);
    CHECK_INT(acmeva_parse_int("-5", 0, 100, &v), -1);
    CHECK_INT(acmeva_parse_int("-5", -10, 100, &v), 0);
    CHECK_INT(v, -5);
    CHECK_INT(acmeva_parse_int("+5", 0, 100, &v), -1);
    CHECK_INT(acmeva_parse_int(" 5", 0, 100, &v), -1);
    CHECK_INT(acmeva_parse_int("5 ", 0, 100, &v), -1);
    CHECK_INT(acmeva_parse_int("", 0, 100, &v), -1);
    CHECK_INT(acmeva_parse_int(NULL, 0, 100, &v), -1);
    CHECK_INT(acmeva_parse_int("99999999999999999999999", 0, INT64_MAX, &v), -1);

    CHECK_INT(acmeva_perspective_ok("default"), 1);
    CHECK_INT(acmeva_perspective_ok("us-east_1.b"), 1);
    CHECK_INT(acmeva_perspective_ok(""), 0);
    CHECK_INT(acmeva_perspective_ok("a:b"), 0);
    CHECK_INT(acmeva_perspective_ok("a b"), 0);
    CHECK_INT(acmeva_perspective_ok(NULL), 0);
    char long_name[80];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK_INT(acmeva_perspective_ok(long_name), 0);
    long_name[64] = '\0';
    CHECK_INT(acmeva_perspective_ok(long_name), 1);
}

/* capture runs one log call with stderr on a pipe and returns what it wrote (static). */
static const char *capture(acmeva_log_format fmt, const acmeva_log_field *f, size_t n)
{
    static char buf[16384];
    int fds[2], saved = dup(STDERR_FILENO);
    if (pipe(fds) != 0)
        return "";
    dup2(fds[1], STDERR_FILENO);
    acmeva_log_set_format(fmt);
    acmeva_log("info", "a message", f, n);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t got = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    buf[got > 0 ? got : 0] = '\0';
    return buf;
}

static void test_log(void)
{
    acmeva_log_field f[] = {
        ACMEVA_LS("plain", "word"),
        ACMEVA_LS("spaced", "two words"),
        ACMEVA_LS("hostile", "a\"b\\c\nd\x01\xff\xc3\xa9"),
        ACMEVA_LS("none", NULL),
        ACMEVA_LS(NULL, "left out"),
        ACMEVA_LI("n", -42),
        ACMEVA_LD("ms", 12.34),
    };
    size_t n = sizeof(f) / sizeof(f[0]);

    const char *line = capture(ACMEVA_LOG_JSON, f, n);
    size_t len = strlen(line);
    CHECK(len > 0 && line[len - 1] == '\n' && strchr(line, '\n') == line + len - 1);
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    CHECK_MSG(o != NULL, "not JSON: %s (%s)", line, je.text);
    if (o != NULL) {
        CHECK_STR(json_string_value(json_object_get(o, "msg")), "a message");
        CHECK_STR(json_string_value(json_object_get(o, "level")), "info");
        CHECK_STR(json_string_value(json_object_get(o, "plain")), "word");
        /* Invalid UTF-8 becomes U+FFFD; valid UTF-8 and escapes survive. */
        CHECK_STR(json_string_value(json_object_get(o, "hostile")),
                  "a\"b\\c\nd\x01\xef\xbf\xbd\xc3\xa9");
        CHECK(json_is_null(json_object_get(o, "none")));
        CHECK_INT(json_integer_value(json_object_get(o, "n")), -42);
        CHECK(json_object_get(o, "time") != NULL);
        CHECK_INT(json_object_size(o), 9);
        json_decref(o);
    }

    line = capture(ACMEVA_LOG_TEXT, f, n);
    CHECK(strstr(line, " info a message plain=word spaced=\"two words\" ") != NULL);
    CHECK(strstr(line, "hostile=\"a\\\"b\\\\c\\nd\\x01\\ufffd\xc3\xa9\"") != NULL);
    CHECK(strstr(line, " none=- n=-42 ms=12.3\n") != NULL);
    CHECK(strstr(line, "left out") == NULL);

    /* A field too long for a line is dropped whole; the line stays valid JSON. */
    char *huge = malloc(20000);
    memset(huge, 'x', 19999);
    huge[19999] = '\0';
    acmeva_log_field g[] = {ACMEVA_LS("a", "1"), ACMEVA_LS("huge", huge), ACMEVA_LS("b", "2")};
    line = capture(ACMEVA_LOG_JSON, g, 3);
    o = json_loads(line, 0, &je);
    CHECK_MSG(o != NULL, "cut line is not JSON: %.200s", line);
    if (o != NULL) {
        CHECK_STR(json_string_value(json_object_get(o, "a")), "1");
        CHECK(json_object_get(o, "huge") == NULL);
        CHECK(json_is_true(json_object_get(o, "cut")));
        json_decref(o);
    }
    free(huge);
    acmeva_log_set_format(ACMEVA_LOG_TEXT);
}

int main(void)
{
    test_url_ok();
    test_url_bad();
    test_url_tls();
    test_url_loopback();
    test_tls_check();
    test_channel_note();
    test_masked_small_buffer();
    test_backoff();
    test_parse_int_and_names();
    test_log();
    return CHECK_DONE();
}
