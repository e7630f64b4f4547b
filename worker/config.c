/* Engine options, shared by acmeva-worker and acmeva check (DESIGN.md "Engine options"). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmeva/engine.h"
#include "addrpolicy.h"
#include "dnsmsg.h"

const char acmeva_engine_config_usage[] =
    "Engine options:\n"
    "  --resolver IP[:PORT]      DNS resolver to use (repeatable, at most 8; default: the\n"
    "                            system's nameservers). Use a validating resolver (Unbound).\n"
    "  --http-port N             port of http-01 requests (default 80)\n"
    "  --https-port N            port of https redirect hops (default 443)\n"
    "  --tls-port N              port of tls-alpn-01 connections (default 443)\n"
    "  --allow-private-addresses dial every reserved and private address, loopback included\n"
    "                            (default off; for tests only, never in production)\n"
    "  --allow-address CIDR      dial the reserved addresses in this range (repeatable, at\n"
    "                            most 64; ADDRESS/PREFIX, IPv4 or IPv6, host bits zero, e.g.\n"
    "                            127.0.0.1/32); every other reserved address stays refused.\n"
    "                            An IPv4 range never allows IPv6 forms (::ffff:a.b.c.d, NAT64)\n"
    "  --max-per-destination N   TCP connections open at once to one IP address (default 32;\n"
    "                            the worker splits it among its threads); more wait their\n"
    "                            turn within their deadline\n"
    "  --user-agent S            User-Agent of http-01 requests (default acmeva/"
    "0.1)\n"
    "  --timeout-ms N            deadline of a job that has none, and cap of any job's\n"
    "                            deadline (default 30000)\n"
    "  --issuer-domain D         the CA's CAA issuer domain name (repeatable, at most 16)\n"
    "  --dns-tries N             tries per DNS query, rotating resolvers, retried only on\n"
    "                            timeout (default 3)\n"
    "  --dns-timeout-ms N        time per DNS try (default 1000)\n"
    "  --no-dns-0x20             send query names in the case given instead of a random\n"
    "                            letter case per try (for a resolver that does not echo the\n"
    "                            case asked, such as pebble-challtestsrv; default: random)\n"
    "  --connect-timeout-ms N    time per TCP connect (default 10000)\n"
    "  --tls-timeout-ms N        time per TLS handshake (default 10000)\n"
    "  --require-dnssec-resolver refuse to validate unless a resolver validates DNSSEC:\n"
    "                            each --resolver is asked for the SOA of the probe name and\n"
    "                            must answer with the AD bit (acmeva check exits 2; the\n"
    "                            worker takes no jobs and checks again every 5 s, and every\n"
    "                            60 s while it passes)\n"
    "  --dnssec-probe-name NAME  the name of that question (default \".\", the root: any\n"
    "                            validating resolver with the root trust anchor passes)\n"
    "The port and address options exist so that tests can run on loopback; production\n"
    "leaves them at their defaults. A job can never choose a port or an address.\n";

void acmeva_engine_config_init(acmeva_engine_config *cfg)
{
    char host[256];
    memset(cfg, 0, sizeof(*cfg));
    cfg->http_port = 80;
    cfg->https_port = 443;
    cfg->tls_port = 443;
    cfg->timeout_ms = 30000;
    cfg->dns_tries = 3;
    cfg->dns_timeout_ms = 1000;
    cfg->dns_0x20 = 1;
    cfg->connect_timeout_ms = 10000;
    cfg->tls_timeout_ms = 10000;
    cfg->max_per_destination = 32;
    cfg->engine_count = 1;
    cfg->user_agent = strdup("acmeva/0.1");
    cfg->perspective = strdup("default");
    cfg->rir = strdup("");
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    char id[300];
    snprintf(id, sizeof(id), "%s:%ld:0", host, (long)getpid());
    cfg->worker_id = strdup(id);
}

void acmeva_engine_config_clear(acmeva_engine_config *cfg)
{
    for (size_t i = 0; i < cfg->n_resolvers; i++)
        free(cfg->resolvers[i]);
    for (size_t i = 0; i < cfg->n_issuer_domains; i++)
        free(cfg->issuer_domains[i]);
    for (size_t i = 0; i < cfg->n_allow_addresses; i++)
        free(cfg->allow_addresses[i]);
    free(cfg->user_agent);
    free(cfg->perspective);
    free(cfg->rir);
    free(cfg->worker_id);
    free(cfg->dnssec_probe_name);
    memset(cfg, 0, sizeof(*cfg));
}

/* copy_strings copies |n| owned strings; returns 0 or -1 (then what was copied stays). */
static int copy_strings(char **dst, char *const *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (src[i] != NULL && (dst[i] = strdup(src[i])) == NULL)
            return -1;
    return 0;
}

static int copy_string(char **dst, const char *src)
{
    return src != NULL && (*dst = strdup(src)) == NULL ? -1 : 0;
}

int acmeva_engine_config_copy(acmeva_engine_config *dst, const acmeva_engine_config *src)
{
    *dst = *src;
    /* Every owned string is copied anew: the two configurations are cleared on their own. */
    memset(dst->resolvers, 0, sizeof(dst->resolvers));
    memset(dst->issuer_domains, 0, sizeof(dst->issuer_domains));
    memset(dst->allow_addresses, 0, sizeof(dst->allow_addresses));
    dst->user_agent = dst->perspective = dst->rir = dst->worker_id = NULL;
    dst->dnssec_probe_name = NULL;
    if (copy_strings(dst->resolvers, src->resolvers, src->n_resolvers) != 0 ||
        copy_strings(dst->issuer_domains, src->issuer_domains, src->n_issuer_domains) != 0 ||
        copy_strings(dst->allow_addresses, src->allow_addresses, src->n_allow_addresses) != 0 ||
        copy_string(&dst->user_agent, src->user_agent) != 0 ||
        copy_string(&dst->perspective, src->perspective) != 0 ||
        copy_string(&dst->rir, src->rir) != 0 ||
        copy_string(&dst->worker_id, src->worker_id) != 0 ||
        copy_string(&dst->dnssec_probe_name, src->dnssec_probe_name) != 0) {
        acmeva_engine_config_clear(dst);
        return -1;
    }
    return 0;
}

int acmeva_option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
    } else if (a[n] == '\0') {
        *value = *i + 1 < argc ? argv[*i + 1] : NULL;
        if (*value != NULL)
            (*i)++;
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

int acmeva_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '+' || *s == ' ')
        return -1;
    int neg = 0;
    const char *p = s;
    if (*p == '-') {
        if (min >= 0)
            return -1;
        neg = 1;
        p++;
    }
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno != 0 || end == p || *end != '\0' || v > (unsigned long long)INT64_MAX)
        return -1;
    int64_t r = neg ? -(int64_t)v : (int64_t)v;
    if (r < min || r > max)
        return -1;
    *out = r;
    return 0;
}

static int parse_num(const char *opt, const char *v, long long min, long long max, long long *out)
{
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "acmeva: %s needs a value\n", opt);
        return -1;
    }
    int64_t n;
    if (acmeva_parse_int(v, min, max, &n) < 0) {
        fprintf(stderr, "acmeva: %s: '%s' is not a number from %lld to %lld\n", opt, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int valid_resolver(const char *v)
{
    char host[64];
    uint8_t buf[16];
    const char *end = NULL;
    size_t hl;
    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (rb == NULL)
            return 0;
        hl = (size_t)(rb - v - 1);
        v++;
        end = rb + 1;
        if (*end != '\0' && *end != ':')
            return 0;
    } else if (strchr(v, ':') != strrchr(v, ':')) {
        hl = strlen(v);
        end = v + hl;
    } else {
        const char *c = strchr(v, ':');
        hl = c ? (size_t)(c - v) : strlen(v);
        end = v + hl;
    }
    if (hl == 0 || hl >= sizeof(host))
        return 0;
    memcpy(host, v, hl);
    host[hl] = '\0';
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return 0;
    if (*end == ':') {
        char *pe;
        unsigned long p = strtoul(end + 1, &pe, 10);
        if (end[1] == '\0' || *pe != '\0' || p == 0 || p > 65535)
            return 0;
    }
    return 1;
}

/* out_of_memory reports an option that could not be kept and returns -1. */
static int out_of_memory(const char *option)
{
    fprintf(stderr, "acmeva: %s: out of memory\n", option);
    return -1;
}

int acmeva_engine_config_option(acmeva_engine_config *cfg, int argc, char **argv, int *i)
{
    const char *v = NULL;
    long long n;
    if (acmeva_option_value(argc, argv, i, "--resolver", &v)) {
        if (v == NULL || !valid_resolver(v)) {
            fprintf(stderr, "acmeva: --resolver: '%s' is not IP[:PORT] or [IPv6]:PORT\n",
                    v ? v : "");
            return -1;
        }
        if (cfg->n_resolvers >= ACMEVA_MAX_RESOLVERS) {
            fprintf(stderr, "acmeva: --resolver: at most %d resolvers\n", ACMEVA_MAX_RESOLVERS);
            return -1;
        }
        if ((cfg->resolvers[cfg->n_resolvers] = strdup(v)) == NULL)
            return out_of_memory("--resolver");
        cfg->n_resolvers++;
    } else if (acmeva_option_value(argc, argv, i, "--http-port", &v)) {
        if (parse_num("--http-port", v, 1, 65535, &n))
            return -1;
        cfg->http_port = (uint16_t)n;
    } else if (acmeva_option_value(argc, argv, i, "--https-port", &v)) {
        if (parse_num("--https-port", v, 1, 65535, &n))
            return -1;
        cfg->https_port = (uint16_t)n;
    } else if (acmeva_option_value(argc, argv, i, "--tls-port", &v)) {
        if (parse_num("--tls-port", v, 1, 65535, &n))
            return -1;
        cfg->tls_port = (uint16_t)n;
    } else if (strcmp(argv[*i], "--no-dns-0x20") == 0) {
        cfg->dns_0x20 = 0;
        (*i)++;
    } else if (strcmp(argv[*i], "--require-dnssec-resolver") == 0) {
        cfg->require_dnssec = 1;
        (*i)++;
    } else if (acmeva_option_value(argc, argv, i, "--dnssec-probe-name", &v)) {
        uint8_t q[ACMEVA_DNS_HEADER_LEN + ACMEVA_DNS_MAX_NAME_WIRE + 4];
        if (v == NULL || acmeva_dns_build_query(q, sizeof(q), 0, v, 6, 0) <= 0) {
            fprintf(stderr,
                    "acmeva: --dnssec-probe-name: '%s' is not a DNS name (\".\" is the "
                    "root)\n",
                    v ? v : "");
            return -1;
        }
        char *name = strdup(v);
        if (name == NULL)
            return out_of_memory("--dnssec-probe-name");
        free(cfg->dnssec_probe_name);
        cfg->dnssec_probe_name = name;
    } else if (strcmp(argv[*i], "--allow-private-addresses") == 0) {
        cfg->allow_private = 1;
        (*i)++;
    } else if (acmeva_option_value(argc, argv, i, "--allow-address", &v)) {
        acmeva_cidr cidr;
        char why[160];
        if (acmeva_cidr_parse(v, &cidr, why, sizeof(why)) != 0) {
            fprintf(stderr, "acmeva: --allow-address: %s\n", why);
            return -1;
        }
        if (cfg->n_allow_addresses >= ACMEVA_MAX_ALLOW_ADDRESSES) {
            fprintf(stderr, "acmeva: --allow-address: at most %d\n", ACMEVA_MAX_ALLOW_ADDRESSES);
            return -1;
        }
        char *copy = strdup(v);
        if (copy == NULL) {
            fprintf(stderr, "acmeva: out of memory\n");
            return -1;
        }
        cfg->allow_addresses[cfg->n_allow_addresses++] = copy;
    } else if (acmeva_option_value(argc, argv, i, "--max-per-destination", &v)) {
        if (parse_num("--max-per-destination", v, 1, 1000000, &n))
            return -1;
        cfg->max_per_destination = (unsigned)n;
    } else if (acmeva_option_value(argc, argv, i, "--user-agent", &v)) {
        if (v == NULL || *v == '\0' || strlen(v) > 256 || strpbrk(v, "\r\n") != NULL) {
            fprintf(stderr, "acmeva: --user-agent: 1 to 256 bytes on one line\n");
            return -1;
        }
        char *ua = strdup(v);
        if (ua == NULL)
            return out_of_memory("--user-agent");
        free(cfg->user_agent);
        cfg->user_agent = ua;
    } else if (acmeva_option_value(argc, argv, i, "--timeout-ms", &v)) {
        if (parse_num("--timeout-ms", v, 1, 3600000, &n))
            return -1;
        cfg->timeout_ms = n;
    } else if (acmeva_option_value(argc, argv, i, "--issuer-domain", &v)) {
        if (v == NULL || !acmeva_is_dns_name(v, 0)) {
            fprintf(stderr, "acmeva: --issuer-domain: '%s' is not a lowercase DNS name\n",
                    v ? v : "");
            return -1;
        }
        if (cfg->n_issuer_domains >= ACMEVA_MAX_ISSUER_DOMAINS) {
            fprintf(stderr, "acmeva: --issuer-domain: at most %d\n", ACMEVA_MAX_ISSUER_DOMAINS);
            return -1;
        }
        if ((cfg->issuer_domains[cfg->n_issuer_domains] = strdup(v)) == NULL)
            return out_of_memory("--issuer-domain");
        cfg->n_issuer_domains++;
    } else if (acmeva_option_value(argc, argv, i, "--dns-tries", &v)) {
        if (parse_num("--dns-tries", v, 1, 10, &n))
            return -1;
        cfg->dns_tries = (int)n;
    } else if (acmeva_option_value(argc, argv, i, "--dns-timeout-ms", &v)) {
        if (parse_num("--dns-timeout-ms", v, 10, 60000, &n))
            return -1;
        cfg->dns_timeout_ms = (int)n;
    } else if (acmeva_option_value(argc, argv, i, "--connect-timeout-ms", &v)) {
        if (parse_num("--connect-timeout-ms", v, 1, 600000, &n))
            return -1;
        cfg->connect_timeout_ms = n;
    } else if (acmeva_option_value(argc, argv, i, "--tls-timeout-ms", &v)) {
        if (parse_num("--tls-timeout-ms", v, 1, 600000, &n))
            return -1;
        cfg->tls_timeout_ms = n;
    } else {
        return 0;
    }
    return 1;
}
