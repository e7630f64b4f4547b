/*
 * The TLS side of the channel to Redis (DESIGN.md "Channel: TLS to Redis, least privilege,
 * signed results"; BR 3.2.2.9 asks that a CA and its remote perspectives talk over an
 * authenticated and encrypted channel): the options every program that talks to Redis takes,
 * and the one SSL_CTX they make of them. The data path (memory BIOs, SNI, the host name check,
 * handshake failures) is redisconn.c's; this file only decides what is trusted and what we
 * present.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "queue.h"

/* Within 30 days of its end, a client certificate is worth a warning at every start. */
#define EXPIRY_WARN_DAYS 30

/* TLS 1.2 suites: ECDHE only (forward secrecy) and AEAD only. TLS 1.3's are fixed by
 * BoringSSL and all qualify. */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

const char acmeva_redis_tls_usage[] = ACMEVA_REDIS_TLS_USAGE;

int acmeva_redis_tls_option(acmeva_redis_tls_options *o, const char *prog, int argc, char **argv,
                            int *i)
{
    static const char *const names[] = {"--redis-ca", "--redis-cert", "--redis-key"};
    char **dst[] = {&o->ca_file, &o->cert_file, &o->key_file};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        const char *v = NULL;
        if (!acmeva_option_value(argc, argv, i, names[k], &v))
            continue;
        if (v == NULL || *v == '\0') {
            fprintf(stderr, "%s: %s needs a file\n", prog, names[k]);
            return -1;
        }
        if (acmeva_str_set(dst[k], v) < 0) {
            fprintf(stderr, "%s: no memory\n", prog);
            return -1;
        }
        return 1;
    }
    return 0;
}

void acmeva_redis_tls_options_clear(acmeva_redis_tls_options *o)
{
    if (o == NULL)
        return;
    free(o->ca_file);
    free(o->cert_file);
    free(o->key_file);
    memset(o, 0, sizeof(*o));
}

int acmeva_redis_tls_check(const acmeva_redis_tls_options *o, const acmeva_redis_url *u, char *err,
                           size_t errlen)
{
    if ((o->cert_file == NULL) != (o->key_file == NULL)) {
        snprintf(err, errlen, "--redis-cert and --redis-key go together");
        return -1;
    }
    if (!u->tls && (o->ca_file != NULL || o->cert_file != NULL)) {
        snprintf(err, errlen,
                 "--redis-ca, --redis-cert and --redis-key need a rediss:// URL (TLS); the URL "
                 "given is redis://");
        return -1;
    }
    return 0;
}

/* readable checks that |path| can be opened for reading, for a message that says why not
 * before BoringSSL's less telling one. */
static int readable(const char *opt, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s %s: %s", opt, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* no_passphrase refuses to prompt for the passphrase of an encrypted key: a daemon has no
 * terminal, and a key file is protected by its permissions instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    return 0;
}

int acmeva_redis_tls_ctx_new(const acmeva_redis_url *u, const acmeva_redis_tls_options *o,
                             void **out, char *err, size_t errlen)
{
    *out = NULL;
    if (acmeva_redis_tls_check(o, u, err, errlen) < 0)
        return -1;
    if (!u->tls)
        return 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_strict_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        snprintf(err, errlen, "cannot set up TLS: no memory");
        goto fail;
    }
    /* The server must prove who it is (RFC 6125: the name is checked per connection against the
     * URL's host, redisconn.c tls_start). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    const char *ca = o->ca_file;
    if (ca == NULL && access(ACMEVA_SYSTEM_CA_BUNDLE, R_OK) == 0)
        ca = ACMEVA_SYSTEM_CA_BUNDLE;
    if (ca != NULL) {
        if (readable("--redis-ca", ca, err, errlen) < 0)
            goto fail;
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            snprintf(err, errlen, "--redis-ca %s: no PEM certificate could be read from it", ca);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen,
                 "no --redis-ca given and no system bundle (" ACMEVA_SYSTEM_CA_BUNDLE ") found");
        goto fail;
    }
    if (o->cert_file != NULL) {
        if (readable("--redis-cert", o->cert_file, err, errlen) < 0 ||
            readable("--redis-key", o->key_file, err, errlen) < 0)
            goto fail;
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
            snprintf(err, errlen, "--redis-cert %s: no PEM certificate could be read from it",
                     o->cert_file);
            goto fail;
        }
        ERR_clear_error();
        if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
            /* BoringSSL compares the key with the certificate as it takes it. */
            if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
                snprintf(err, errlen,
                         "--redis-key %s does not match the certificate in "
                         "--redis-cert %s",
                         o->key_file, o->cert_file);
            else
                snprintf(err, errlen,
                         "--redis-key %s: no PEM private key could be read from it (an "
                         "encrypted key is not supported)",
                         o->key_file);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            snprintf(err, errlen,
                     "--redis-key %s does not match the certificate in --redis-cert %s",
                     o->key_file, o->cert_file);
            goto fail;
        }
    }
    ERR_clear_error();
    *out = ctx;
    return 0;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return -1;
}

void acmeva_redis_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

/* cert_days_left writes the end of validity of |x| into |buf| and returns the whole days left
 * (negative once it has passed). */
static int cert_days_left(X509 *x, char *buf, size_t len)
{
    int days = 0, secs = 0;
    const ASN1_TIME *t = X509_get0_notAfter(x);
    buf[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (b != NULL && ASN1_TIME_print(b, t) == 1) {
        const uint8_t *p;
        size_t n;
        if (BIO_mem_contents(b, &p, &n) == 1)
            snprintf(buf, len, "%.*s", (int)n, (const char *)p);
    }
    BIO_free(b);
    if (ASN1_TIME_diff(&days, &secs, NULL, t) != 1)
        return 0;
    if (days < 0 || secs < 0)
        return days < 0 ? days : -1;
    return days;
}

static void warn(const char *prog, int cli, const char *msg, const char *k1, const char *v1,
                 const char *k2, const char *v2)
{
    if (cli)
        fprintf(stderr, "%s: warning: %s (%s %s)\n", prog, msg, v1 ? v1 : "", v2 ? v2 : "");
    else
        ACMEVA_LOG("warn", msg, ACMEVA_LS(k1, v1), ACMEVA_LS(k2, v2));
}

void acmeva_redis_channel_note(const char *prog, int cli, const acmeva_redis_url *u,
                               const acmeva_redis_tls_options *o, const void *ssl_ctx)
{
    char masked[512];
    acmeva_redis_url_masked(u, masked, sizeof(masked));
    if (!u->tls) {
        if (!acmeva_redis_url_is_loopback(u))
            warn(prog, cli,
                 "plain redis:// to a host that is not loopback: jobs, results and the password "
                 "cross the network in clear; use rediss:// (docs/deploy-channel.md)",
                 "redis", masked, NULL, NULL);
        return;
    }
    X509 *x = ssl_ctx != NULL ? SSL_CTX_get0_certificate(ssl_ctx) : NULL;
    char subject[256] = "", until[64] = "";
    int days = 0;
    if (x != NULL) {
        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
        days = cert_days_left(x, until, sizeof(until));
    }
    if (!cli)
        ACMEVA_LOG("info", "redis TLS", ACMEVA_LS("redis", masked),
                   ACMEVA_LS("ca", o->ca_file ? o->ca_file : "system bundle"),
                   ACMEVA_LS("client_cert", o->cert_file ? o->cert_file : "none"),
                   ACMEVA_LS(x ? "subject" : NULL, subject),
                   ACMEVA_LS(x ? "not_after" : NULL, until));
    if (x != NULL && days < 0)
        warn(prog, cli, "the client certificate has expired: Redis will refuse it", "client_cert",
             o->cert_file, "not_after", until);
    else if (x != NULL && days < EXPIRY_WARN_DAYS)
        warn(prog, cli, "the client certificate expires within 30 days", "client_cert",
             o->cert_file, "not_after", until);
    struct stat st;
    if (o->key_file != NULL && stat(o->key_file, &st) == 0 && (st.st_mode & S_IROTH) != 0)
        warn(prog, cli, "the client key is readable by every user of this machine", "client_key",
             o->key_file, NULL, NULL);
}
