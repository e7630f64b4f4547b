/*
 * The readable diagnosis of a validation (see diagnose.h): the verdict, the steps, and the
 * catalogue of explanations.
 *
 * The catalogue (explain() below) reads the facts a result records and the problem detail the
 * engine wrote in Boulder's words (validation-rules.md), and picks the first entry that fits,
 * most specific first. Each entry says three things: a headline for the verdict line, the
 * most likely cause, and what to change. The rules the explanations cite are those the
 * engine implements: RFC 8555 §8.3 and §8.4, RFC 8737, RFC 8659, BR 3.2.2.4.19 (redirects to
 * ports 80 and 443 only, no certificate check on https hops).
 */
#include "diagnose.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "escape.h"
#include "strbuf.h"

#define WRAP_COLUMNS 100
#define LINE_MAX_BYTES 8192 /* one composed line; longer data is cut */

static const char kUrnPrefix[] = "urn:ietf:params:acme:error:";

/* ---- output ------------------------------------------------------------------------------- */

typedef struct out {
    acmeva_strbuf b;
    int color;
} out;

static void put(out *o, const char *s, size_t n)
{
    acmeva_strbuf_put(&o->b, s, n);
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Styles: SGR sequences, written only in colour mode and never through put_safe. */
#define S_BOLD "1"
#define S_RED "1;31"
#define S_GREEN "1;32"
#define S_YELLOW "1;33"

static void style(out *o, const char *sgr)
{
    if (!o->color)
        return;
    puts_(o, "\x1b[");
    puts_(o, sgr);
    puts_(o, "m");
}

static void unstyle(out *o)
{
    if (o->color)
        puts_(o, "\x1b[0m");
}

/*
 * safe_len appends |s| made terminal-safe: printable ASCII and printable UTF-8 as they are
 * (the engine already escaped server bytes, so quotes and backslashes stand for themselves),
 * control bytes as \xNN, invisible and bidi characters as \uXXXX, ill-formed UTF-8 as U+FFFD.
 * Whatever wrote the document, nothing in it can move the cursor or recolour the terminal.
 */
static void put_safe(out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *in = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = acmeva_utf8_decode(in + i, n - i, &cp);
        int keep = cp != ACMEVA_UTF8_INVALID &&
                   (cp < 0x80 ? (cp >= 0x20 && cp < 0x7f) : !acmeva_escape_nonprinting(cp));
        if (keep) {
            run += k;
            i += k;
            continue;
        }
        put(o, s + i - run, run);
        run = 0;
        if (cp == ACMEVA_UTF8_INVALID) {
            puts_(o, "\xef\xbf\xbd");
        } else if (cp < 0x80) {
            char e[4] = {'\\', 'x', hex[cp >> 4], hex[cp & 15]};
            put(o, e, 4);
        } else {
            char e[12];
            snprintf(e, sizeof(e), cp <= 0xffff ? "\\u%04x" : "\\U%08x", (unsigned)cp);
            puts_(o, e);
        }
        i += k;
    }
    put(o, s + n - run, run);
}

/* line composes one line of text (the arguments may hold document data) into |buf|. */
static const char *line(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *line(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return buf;
}

/* text writes |indent| spaces, then |s| terminal-safe, then a newline. */
static void text(out *o, int indent, const char *s)
{
    for (int i = 0; i < indent; i++)
        put(o, " ", 1);
    put_safe(o, s, strlen(s));
    put(o, "\n", 1);
}

/* heading writes |s| as a line of its own, in bold. */
static void heading(out *o, const char *s)
{
    style(o, S_BOLD);
    put_safe(o, s, strlen(s));
    unstyle(o);
    put(o, "\n", 1);
}

/* para writes a labelled paragraph: |label| (styled) then |s| wrapped at WRAP_COLUMNS with the
 * lines after the first indented by |indent|. Words longer than a line stay whole. */
static void para(out *o, const char *sgr, const char *label, int indent, const char *s)
{
    style(o, sgr);
    puts_(o, label);
    unstyle(o);
    size_t col = strlen(label);
    const char *p = s;
    int first = 1;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        size_t w = strcspn(p, " ");
        if (!first && col + 1 + w > WRAP_COLUMNS) {
            put(o, "\n", 1);
            for (int i = 0; i < indent; i++)
                put(o, " ", 1);
            col = (size_t)indent;
        } else if (!first || col > 0) {
            put(o, " ", 1);
            col++;
        }
        put_safe(o, p, w);
        col += w;
        p += w;
        first = 0;
    }
    put(o, "\n", 1);
}

/* ---- reading the document ------------------------------------------------------------------ */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const json_t *list(const json_t *o, const char *key)
{
    const json_t *a = json_object_get(o, key);
    return json_is_array(a) ? a : NULL;
}

static size_t count(const json_t *o, const char *key)
{
    return json_array_size(list(o, key));
}

static const char *item(const json_t *o, const char *key, size_t i)
{
    return json_string_value(json_array_get(list(o, key), i));
}

/* join writes the strings of |key| in |o| into |buf| as "a, b" (quoted when |quote|). */
static const char *join(const json_t *o, const char *key, int quote, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count(o, key) && off + 1 < len; i++) {
        const char *v = item(o, key, i);
        int k =
            snprintf(buf + off, len - off, quote ? "%s\"%s\"" : "%s%s", i ? ", " : "", v ? v : "?");
        if (k < 0)
            break;
        off += (size_t)k;
    }
    if (off >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    return buf;
}

static int has(const char *s, const char *part)
{
    return s != NULL && part != NULL && strstr(s, part) != NULL;
}

static int is_ipv6(const char *a)
{
    return a != NULL && strchr(a, ':') != NULL;
}

/* The facts the explanations read, borrowed from the document. */
typedef struct facts {
    const json_t *r;
    int valid;
    const char *ident, *ident_type, *ctype, *token;
    const char *ptype; /* the problem type after "urn:ietf:params:acme:error:", or "" */
    const char *detail;
    const json_t *recs;
    size_t n_recs;
    const json_t *last; /* the last validation record */
    const json_t *caa;
    const char *at_address; /* --all-addresses: the address whose run explains the problem */
} facts;

static void facts_read(facts *f, const json_t *r)
{
    memset(f, 0, sizeof(*f));
    f->r = r;
    const char *status = str(r, "status");
    f->valid = status != NULL && strcmp(status, "valid") == 0;
    const json_t *ident = json_object_get(r, "identifier");
    f->ident = str(ident, "value");
    f->ident_type = str(ident, "type");
    const json_t *ch = json_object_get(r, "challenge");
    f->ctype = str(ch, "type");
    f->token = str(ch, "token");
    const json_t *err = json_object_get(r, "error");
    const char *type = str(err, "type");
    f->ptype = "";
    if (type != NULL && strncmp(type, kUrnPrefix, sizeof(kUrnPrefix) - 1) == 0)
        f->ptype = type + sizeof(kUrnPrefix) - 1;
    f->detail = str(err, "detail");
    if (f->detail == NULL)
        f->detail = "";
    f->recs = list(r, "validationRecord");
    f->n_recs = json_array_size(f->recs);
    f->last = f->n_recs > 0 ? json_array_get(f->recs, f->n_recs - 1) : NULL;
    /* --all-addresses: when the problem is one address's (the validation as the CA does it
     * passed), that address's records explain it. */
    const json_t *checks = list(r, "addressChecks");
    for (size_t i = 0; !f->valid && i < json_array_size(checks); i++) {
        const json_t *chk = json_array_get(checks, i);
        const char *d = str(json_object_get(chk, "error"), "detail");
        const char *a = str(chk, "address");
        size_t alen = a ? strlen(a) : 0;
        if (d == NULL || a == NULL)
            continue;
        if (strcmp(d, f->detail) == 0 ||
            (strncmp(f->detail, a, alen) == 0 && strncmp(f->detail + alen, ": ", 2) == 0 &&
             strcmp(f->detail + alen + 2, d) == 0)) {
            const json_t *recs = list(chk, "validationRecord");
            f->last = json_array_get(recs, json_array_size(recs) - 1);
            f->detail = d;
            f->at_address = a;
            break;
        }
    }
    f->caa = json_object_get(r, "caa");
    if (!json_is_object(f->caa))
        f->caa = NULL;
}

static int ptype_is(const facts *f, const char *t)
{
    return strcmp(f->ptype, t) == 0;
}

static int ctype_is(const facts *f, const char *t)
{
    return f->ctype != NULL && strcmp(f->ctype, t) == 0;
}

/* detail_name copies the name a DNS problem detail is about ("... looking up A for <name>"). */
static const char *detail_name(const char *detail, char *buf, size_t len, char *qtype, size_t qlen)
{
    buf[0] = '\0';
    if (qtype != NULL)
        qtype[0] = '\0';
    const char *p = strstr(detail, " looking up ");
    if (p == NULL)
        return buf;
    p += strlen(" looking up ");
    const char *sp = strchr(p, ' ');
    if (sp != NULL && qtype != NULL)
        snprintf(qtype, qlen, "%.*s", (int)(sp - p) < 15 ? (int)(sp - p) : 15, p);
    const char *q = strstr(p, " for ");
    if (q == NULL)
        return buf;
    q += 5;
    size_t n = strcspn(q, " ");
    snprintf(buf, len, "%.*s", (int)(n < 255 ? n : 255), q);
    return buf;
}

/* ede_text copies the "(Extended DNS Error N: ...)" part of a detail, without the brackets. */
static const char *ede_text(const char *detail, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *p = strstr(detail, "(Extended DNS Error ");
    if (p != NULL) {
        size_t n = strlen(p + 1);
        if (n > 0 && p[n] == ')')
            n--;
        snprintf(buf, len, "%.*s", (int)(n < 400 ? n : 400), p + 1);
    }
    return buf;
}

/* record_of_cname finds the record whose chain the explanation is about: the last that has
 * one. */
static const json_t *record_with_cnames(const facts *f)
{
    for (size_t i = f->n_recs; i > 0; i--) {
        const json_t *rec = json_array_get(f->recs, i - 1);
        if (count(rec, "cnames") > 0)
            return rec;
    }
    return NULL;
}

static const char *last_cname(const json_t *rec)
{
    size_t n = count(rec, "cnames");
    return n > 0 ? item(rec, "cnames", n - 1) : NULL;
}

/* The first address of another family than |addr| that was resolved for the same record. */
static const char *other_family(const json_t *rec, const char *addr)
{
    for (size_t i = 0; i < count(rec, "addressesResolved"); i++) {
        const char *a = item(rec, "addressesResolved", i);
        if (a != NULL && is_ipv6(a) != is_ipv6(addr))
            return a;
    }
    return NULL;
}

/* body_is_html: the body starts (after white space) with '<', as every HTML page does. */
static int body_is_html(const char *body)
{
    while (body != NULL &&
           (*body == ' ' || *body == '\t' || *body == '\n' || *body == '\r' ||
            (body[0] == '\\' && (body[1] == 'n' || body[1] == 'r' || body[1] == 't'))))
        body += body[0] == '\\' ? 2 : 1;
    return body != NULL && *body == '<';
}

/* expected_ka copies the key authorization out of an http-01 mismatch detail
 * ("... Expected "<ka>" (got "...")"); "" when the detail has none. */
static const char *expected_ka(const char *detail, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *p = strstr(detail, "Expected \"");
    if (p == NULL)
        return buf;
    p += strlen("Expected \"");
    size_t n = strcspn(p, "\"");
    snprintf(buf, len, "%.*s", (int)(n < 400 ? n : 400), p);
    return buf;
}

/* ---- the catalogue ------------------------------------------------------------------------- */

/* What an entry says; the strings may hold document data (written terminal-safe). */
typedef struct explanation {
    const char *name;
    char headline[600];
    char cause[2000];
    char fix[1600];
} explanation;

static void set(explanation *x, const char *name, const char *headline, const char *cause,
                const char *fix)
{
    x->name = name;
    snprintf(x->headline, sizeof(x->headline), "%s", headline);
    snprintf(x->cause, sizeof(x->cause), "%s", cause);
    snprintf(x->fix, sizeof(x->fix), "%s", fix);
}

#define SETF(field, ...) snprintf(x->field, sizeof(x->field), __VA_ARGS__)

/* The host a connection-level problem is about: the last record's host name. */
static const char *last_host(const facts *f)
{
    const char *h = str(f->last, "hostname");
    return h ? h : (f->ident ? f->ident : "the name");
}

static const char *last_port(const facts *f)
{
    const char *p = str(f->last, "port");
    return p ? p : "80";
}

/* DNS problems (the identifier's lookups, the TXT lookup, CAA's lookups alike). */
static int explain_dns(const facts *f, explanation *x)
{
    if (!ptype_is(f, "dns"))
        return 0;
    char name[256], qtype[16], ede[420];
    detail_name(f->detail, name, sizeof(name), qtype, sizeof(qtype));
    ede_text(f->detail, ede, sizeof(ede));
    const char *n = name[0] ? name : (f->ident ? f->ident : "the name");
    const json_t *crec = record_with_cnames(f);
    const char *target = last_cname(crec);
    if (has(f->detail, "DNSSEC validation failed")) {
        x->name = "dnssec-bogus";
        SETF(headline, "DNSSEC validation failed for %s", n);
        SETF(cause,
             "The resolver checked the DNSSEC signatures of %s and they do not verify%s%s%s: "
             "the zone is signed, but its signatures have expired or are broken, or they do "
             "not match the DS record its parent zone publishes. A CA that validates DNSSEC "
             "(as a CA's primary perspective must, CA/B Forum ballot SC085) sees the same "
             "failure, and so does every validating resolver.",
             n, ede[0] ? " (" : "", ede, ede[0] ? ")" : "");
        SETF(fix,
             "Repair the zone's signing: re-sign it, or fix its automatic re-signing, so that "
             "its signatures are current, and make the DS record at the registrar match a "
             "DNSKEY the zone publishes. If the zone is no longer meant to be signed, remove "
             "the DS record at the registrar. https://dnsviz.net/d/%s/dnssec/ shows where the "
             "chain of trust breaks.",
             n);
        return 1;
    }
    if (has(f->detail, "SERVFAIL")) {
        x->name = "servfail";
        int caa = strcmp(qtype, "CAA") == 0;
        SETF(headline, "the DNS servers of %s answered SERVFAIL", n);
        SETF(cause,
             "The resolver could not get an answer for %s %s from the domain's authoritative "
             "nameservers%s%s%s: a nameserver is down, refuses or drops queries, or the "
             "delegation at the parent names servers that do not serve the zone (a lame "
             "delegation).%s",
             qtype[0] ? qtype : "the records of", n, ede[0] ? " (" : "", ede, ede[0] ? ")" : "",
             caa ? " Some DNS providers answer SERVFAIL to CAA queries because they do not "
                   "know the CAA type; a CA must get an answer, even an empty one, for every "
                   "name up the tree before it may issue (RFC 8659 §3)."
                 : "");
        SETF(fix,
             "Ask each nameserver of the zone directly (dig +norec @<nameserver> %s %s) and "
             "make sure every one answers; check that the NS records at the registrar name "
             "the servers that hold the zone.%s",
             n, qtype[0] ? qtype : "A",
             caa ? " If the provider does not support CAA, ask it to answer CAA queries "
                   "(NOERROR with no records is fine) or move the zone."
                 : "");
        return 1;
    }
    if (has(f->detail, "NXDOMAIN")) {
        if (target != NULL) {
            x->name = "cname-nxdomain";
            SETF(headline, "%s is an alias of %s, which does not exist", n, target);
            SETF(cause,
                 "%s has a CNAME record pointing to %s, and that name does not exist "
                 "(NXDOMAIN): the alias is left from a service that was removed, or has a "
                 "typo.",
                 str(crec, "hostname") ? str(crec, "hostname") : n, target);
            SETF(fix,
                 "Point the CNAME at a name that exists, or replace it with the records %s "
                 "needs (A/AAAA for http-01 and tls-alpn-01, TXT for dns-01).",
                 n);
            return 1;
        }
        x->name = "nxdomain";
        SETF(headline, "%s does not exist in DNS", n);
        SETF(cause,
             "The resolver answered NXDOMAIN for %s: no such name in the zone, or the domain "
             "is not delegated to the nameservers that hold the zone.",
             n);
        SETF(fix,
             "Create the record for %s in the zone that is live on the Internet (dig NS of the "
             "domain shows its nameservers), and check that the registrar delegates the domain "
             "to them.",
             n);
        return 1;
    }
    if (has(f->detail, "timed out") || has(f->detail, "networking error")) {
        x->name = "dns-timeout";
        SETF(headline, "no DNS answer for %s", n);
        SETF(cause,
             "The resolver got no answer in time for %s %s: the domain's nameservers are "
             "unreachable, or drop some queries (large answers over UDP, TCP port 53 blocked, "
             "or a type they do not know).",
             qtype[0] ? qtype : "the records of", n);
        SETF(fix,
             "Ask each nameserver directly (dig +norec +tcp @<nameserver> %s %s) and make sure "
             "all of them answer over UDP and TCP.",
             n, qtype[0] ? qtype : "A");
        return 1;
    }
    if (has(f->detail, "No valid IP addresses found")) {
        const json_t *rec = f->last;
        size_t resolved = count(rec, "addressesResolved");
        if (resolved > 0) {
            char addrs[300];
            x->name = "private-address";
            SETF(headline, "%s resolves only to addresses a CA may not connect to", n);
            SETF(cause,
                 "%s resolves to %s: private, loopback or otherwise reserved addresses, which "
                 "a CA never connects to.",
                 n, join(rec, "addressesResolved", 0, addrs, sizeof(addrs)));
            SETF(fix,
                 "Publish the public address of the server in the A/AAAA records of %s "
                 "(split-horizon DNS that answers the inside address to the outside world is a "
                 "common cause).",
                 n);
            return 1;
        }
        if (target != NULL) {
            x->name = "cname-no-address";
            SETF(headline, "%s is an alias of %s, which has no address", n, target);
            SETF(cause,
                 "%s has a CNAME record pointing to %s, and that name has no A or AAAA "
                 "record, so there is nothing to connect to.",
                 n, target);
            SETF(fix,
                 "Give %s an A and/or AAAA record, point the CNAME at a name that has one, or "
                 "replace the CNAME with A/AAAA records for %s.",
                 target, n);
            return 1;
        }
        x->name = "no-address";
        SETF(headline, "%s has no A or AAAA record", n);
        SETF(cause, "DNS has no address for %s, so there is no server to connect to.", n);
        SETF(fix, "Add an A (and, if the server has IPv6, an AAAA) record for %s.", n);
        return 1;
    }
    x->name = "dns-other";
    SETF(headline, "a DNS lookup for %s failed", n);
    SETF(cause, "The resolver's answer for %s was an error (see the problem).", n);
    SETF(fix, "Check the zone's nameservers answer %s correctly (dig %s).", n, n);
    return 1;
}

/* dns-01 and dns-account-01: no TXT record, or not the right one. */
static int explain_txt(const facts *f, explanation *x)
{
    if (!ptype_is(f, "unauthorized") || f->last == NULL)
        return 0;
    const char *name = str(f->last, "hostname");
    const char *want = str(f->last, "expected");
    if (name == NULL)
        return 0;
    if (has(f->detail, "No TXT record found")) {
        const char *target = last_cname(f->last);
        if (target != NULL) {
            x->name = "cname-no-txt";
            SETF(headline, "%s is an alias of %s, which has no TXT record", name, target);
            SETF(cause,
                 "%s has a CNAME record pointing to %s, so the resolver looks for the TXT "
                 "record there (this is how delegated dns-01 works), and %s has none: the ACME "
                 "client wrote the record at %s itself, or in another zone, or not yet.",
                 name, target, target, name);
            SETF(fix,
                 "Create the TXT record at %s, where the CNAME points; or remove the CNAME and "
                 "create it at %s.",
                 target, name);
            if (want != NULL)
                SETF(fix,
                     "Create the TXT record at %s, where the CNAME points: %s. TXT \"%s\"; or "
                     "remove the CNAME and create it at %s.",
                     target, target, want, name);
            return 1;
        }
        x->name = "no-txt";
        SETF(headline, "there is no TXT record at %s", name);
        SETF(cause,
             "The resolver found no TXT record at %s: the ACME client's DNS plugin wrote it to "
             "another zone or DNS provider than the one that serves the domain, or the "
             "validation ran before every nameserver had the record.",
             name);
        if (want != NULL)
            SETF(fix,
                 "Publish %s. TXT \"%s\" and check that each nameserver of the zone answers it "
                 "(dig +norec @<nameserver> TXT %s) before answering the challenge.",
                 name, want, name);
        else
            SETF(fix,
                 "Publish the TXT record and check that each nameserver of the zone answers it "
                 "(dig +norec @<nameserver> TXT %s) before answering the challenge.",
                 name);
        return 1;
    }
    if (!has(f->detail, "Incorrect TXT record"))
        return 0;
    size_t n = count(f->last, "records");
    int is_token = 0;
    for (size_t i = 0; i < n && f->token != NULL; i++)
        is_token |= item(f->last, "records", i) != NULL &&
                    strncmp(item(f->last, "records", i), f->token, strlen(f->token)) == 0;
    char seen[1200];
    join(f->last, "records", 1, seen, sizeof(seen));
    x->name = "txt-wrong";
    SETF(headline, "the TXT record at %s holds another value", name);
    SETF(cause, "%s holds %zu value%s (%s), none of them the one this challenge asks for%s%s%s. %s",
         name, n, n == 1 ? "" : "s", seen, want ? " (\"" : "", want ? want : "", want ? "\")" : "",
         is_token ? "A value starts with the challenge token: the record must hold the "
                    "base64url SHA-256 digest of the key authorization (RFC 8555 §8.4), not "
                    "the token or the key authorization itself."
                  : "Most often it is a record left from an earlier attempt (each new "
                    "authorization has a new value), or the client published the value for "
                    "another challenge of the same name.");
    if (want != NULL)
        SETF(fix,
             "Publish %s. TXT \"%s\" (other values may stay, but remove the stale ones once "
             "the certificate is issued).",
             name, want);
    else
        SETF(fix, "Publish the value the ACME client computed for this challenge at %s.", name);
    return 1;
}

/* CAA. */
static int explain_caa(const facts *f, explanation *x)
{
    if (!ptype_is(f, "caa") || f->caa == NULL)
        return 0;
    const char *at = str(f->caa, "foundAt");
    const char *decision = str(f->caa, "decision");
    char recs[800], ours[300];
    join(f->caa, "records", 0, recs, sizeof(recs));
    join(f->caa, "issuerDomains", 0, ours, sizeof(ours));
    const char *first_ours = item(f->caa, "issuerDomains", 0);
    int wildcard = f->ident != NULL && strncmp(f->ident, "*.", 2) == 0;
    if (at == NULL)
        at = f->ident ? f->ident : "the name";
    if (has(decision, "unknown critical property")) {
        x->name = "caa-critical";
        SETF(headline, "a CAA record at %s that no CA understands forbids issuance", at);
        SETF(cause,
             "The CAA records at %s (%s) include a property with the critical flag whose tag "
             "this CA does not know: %s. RFC 8659 §4.1 forbids issuance then.",
             at, recs, decision);
        SETF(fix, "Remove the record, or clear its critical flag (flags 0) at %s.", at);
        return 1;
    }
    if (has(decision, "accounturi")) {
        x->name = "caa-accounturi";
        SETF(headline, "CAA at %s allows only another ACME account", at);
        SETF(cause,
             "The CAA record names this CA but limits it to one ACME account with accounturi "
             "(RFC 8657 §3), and this order comes from another one: %s.",
             decision);
        SETF(fix,
             "Order with the account the record names, or change the accounturi parameter of "
             "the record at %s to this account's URI.",
             at);
        return 1;
    }
    if (has(decision, "validationmethods")) {
        x->name = "caa-methods";
        SETF(headline, "CAA at %s does not allow this validation method", at);
        SETF(cause,
             "The CAA record names this CA but lists the validation methods it may use "
             "(validationmethods, RFC 8657 §4), and %s is not one of them: %s.",
             f->ctype ? f->ctype : "this job's method", decision);
        SETF(fix,
             "Use a method the record lists, or add %s to its validationmethods parameter at "
             "%s.",
             f->ctype ? f->ctype : "the method", at);
        return 1;
    }
    x->name = "caa-other-ca";
    int none = has(decision, "empty issuer-domain-name");
    SETF(headline, "CAA at %s does not allow this CA (%s)", at, ours[0] ? ours : "?");
    SETF(cause,
         "The closest CAA record set, at %s, is %s. %s Only the closest set counts (RFC 8659 "
         "§3): records at a parent do not add to it.",
         at, recs,
         none ? "An issue record with no issuer (\";\") forbids every CA."
              : "It names other CAs and not this one, so this CA may not issue.");
    SETF(fix,
         "Add a record that names this CA at %s: %s. CAA 0 %s \"%s\" (keep the records of the "
         "CAs you still use; they add up).",
         at, at, wildcard ? "issuewild" : "issue", first_ours ? first_ours : "<this CA>");
    return 1;
}

/* tls-alpn-01. */
static int explain_tlsalpn(const facts *f, explanation *x)
{
    if (!ctype_is(f, "tls-alpn-01") || f->last == NULL)
        return 0;
    const char *addr = str(f->last, "addressUsed");
    const char *port = last_port(f);
    char names[600];
    join(f->last, "certNames", 0, names, sizeof(names));
    if (has(f->detail, "Cannot negotiate ALPN protocol") ||
        has(f->detail, "NO_APPLICATION_PROTOCOL") || has(f->detail, "no_application_protocol")) {
        x->name = "no-acme-tls";
        SETF(headline, "the server on port %s does not answer tls-alpn-01", port);
        SETF(cause,
             "The TLS server at %s port %s %s without selecting the acme-tls/1 protocol%s%s%s: "
             "the site's regular web server answered, not a tls-alpn-01 responder. A web "
             "server answers tls-alpn-01 only when it (or a TLS router in front of it) hands "
             "connections that offer acme-tls/1 to the ACME client (RFC 8737 §3).",
             addr ? addr : "?", port,
             has(f->detail, "Cannot negotiate") ? "completed the handshake"
                                                : "refused the handshake",
             names[0] ? " (its certificate names " : "", names, names[0] ? ")" : "");
        SETF(fix,
             "Let the ACME client answer connections that offer acme-tls/1 on port %s: a "
             "server with built-in support (Caddy, Traefik, mod_md), or a TLS router that "
             "sends acme-tls/1 to the client (nginx stream with ssl_preread on "
             "$ssl_preread_alpn_protocols). Or validate with http-01 or dns-01 instead.",
             port);
        return 1;
    }
    if (has(f->detail, "Incorrect validation certificate")) {
        x->name = "tls-alpn-certificate";
        const char *why = strstr(f->detail, " from ");
        why = why ? strstr(why, ". ") : NULL;
        SETF(headline, "the certificate on port %s is not the challenge certificate", port);
        SETF(cause,
             "The server selected acme-tls/1 but presented a certificate that does not prove "
             "control of %s%s%s%s: %s",
             f->ident ? f->ident : "the name", names[0] ? " (it names " : "", names,
             names[0] ? ")" : "", why ? why + 2 : f->detail);
        SETF(fix,
             "The tls-alpn-01 certificate must be self-signed, name exactly %s in its "
             "subjectAltName, and carry the critical acmeIdentifier extension with the SHA-256 "
             "of this challenge's key authorization (RFC 8737 §3): let the ACME client serve "
             "the certificate it made for this challenge, not the site's certificate or one "
             "from an earlier challenge.",
             f->ident ? f->ident : "the name");
        return 1;
    }
    return 0;
}

/* A redirect the CA does not follow. */
static int explain_redirect(const facts *f, explanation *x)
{
    if (!ptype_is(f, "connection"))
        return 0;
    const char *fetch = strstr(f->detail, ": Fetching ");
    char target[2300] = "";
    if (fetch != NULL) {
        fetch += strlen(": Fetching ");
        size_t n = strcspn(fetch, " ");
        if (n > 0 && fetch[n - 1] == ':')
            n--;
        snprintf(target, sizeof(target), "%.*s", (int)(n < 2200 ? n : 2200), fetch);
    }
    const char *from = f->n_recs > 0 ? str(f->last, "url") : NULL;
    if (has(f->detail, "Invalid port in redirect target")) {
        const char *port = strstr(f->detail, ", not ");
        x->name = "redirect-port";
        SETF(headline, "the server redirects to port %s, which a CA does not follow",
             port ? port + 6 : "?");
        SETF(cause,
             "The response to %s redirected to %s. CAs follow a redirect only to port 80 "
             "(http) or 443 (https) (Boulder's rule, BR 3.2.2.4.19 allows no other port), so "
             "the validation stopped there.",
             from ? from : "the request", target[0] ? target : "another port");
        SETF(fix,
             "Redirect to a URL without a port (http://%s/... or https://%s/...), or exempt "
             "/.well-known/acme-challenge/ from the redirect and serve the file on port 80.",
             last_host(f), last_host(f));
        return 1;
    }
    if (has(f->detail, "in redirect target") || has(f->detail, "Redirect loop") ||
        has(f->detail, "Too many redirects") || has(f->detail, "Redirect target too long")) {
        x->name = "redirect-refused";
        SETF(headline, "the server redirects where a CA does not follow");
        SETF(cause,
             "A redirect from %s was refused: %s. CAs follow at most 10 redirects, to http or "
             "https URLs on ports 80 and 443, to names under a public suffix or public "
             "addresses, without loops.",
             from ? from : "the challenge URL", f->detail);
        SETF(fix,
             "Serve /.well-known/acme-challenge/ without a redirect, or with one redirect to "
             "https://%s/.well-known/acme-challenge/<token>.",
             f->ident ? f->ident : "<name>");
        return 1;
    }
    return 0;
}

/* A connection that failed: refused, dropped (a firewall), reset, slow, or not HTTP. */
static int explain_connection(const facts *f, explanation *x)
{
    if (!ptype_is(f, "connection") && !ptype_is(f, "tls"))
        return 0;
    const char *addr = str(f->last, "addressUsed");
    const char *port = last_port(f);
    const char *url = str(f->last, "url");
    int https = url != NULL && strncmp(url, "https:", 6) == 0;
    if (has(f->detail, "Timeout during connect")) {
        x->name = "firewall";
        SETF(headline, "nothing answered on port %s of %s: a firewall drops the connection", port,
             addr ? addr : last_host(f));
        SETF(cause,
             "The connection to %s port %s got no answer at all, not even a refusal, within "
             "the connect time limit: packets are dropped by a firewall (the host's own, a "
             "cloud security group, a router, or the hosting provider), or the address in "
             "DNS is not this server's.",
             addr ? addr : last_host(f), port);
        SETF(fix,
             "Allow inbound TCP port %s from anywhere: CAs validate from several networks, "
             "whose addresses are not published and change. Check that the A/AAAA records of "
             "%s point to this server.",
             port, last_host(f));
        return 1;
    }
    if (has(f->detail, "Connection refused")) {
        x->name = "refused";
        SETF(headline, "%s refused the connection on port %s", addr ? addr : last_host(f), port);
        SETF(cause,
             "Nothing listens on port %s of %s: the web server is stopped, listens only on "
             "another port or address, or a firewall rejects the connection.",
             port, addr ? addr : last_host(f));
        SETF(fix,
             "Start the web server on port %s, listening on every address in the A and AAAA "
             "records of %s (for IPv6: listen [::]:%s).",
             port, last_host(f), port);
        return 1;
    }
    if (has(f->detail, "Only speaks HTTP") || has(f->detail, "only speaks HTTP") ||
        (https && (ptype_is(f, "tls") || has(f->detail, "TLS")))) {
        x->name = "https-hop-tls";
        SETF(headline, "the https redirect target failed its TLS handshake");
        SETF(cause,
             "The challenge URL redirected to %s and the TLS handshake with %s failed (%s). A "
             "CA checks no certificate on this hop (BR 3.2.2.4.19), but it needs TLS 1.2 or "
             "newer, and a TLS server on that port.",
             url ? url : "an https URL", addr ? addr : last_host(f), f->detail);
        SETF(fix, "Serve https on port 443 with TLS 1.2 or newer, or serve the challenge file over "
                  "plain http on port 80 without a redirect.");
        return 1;
    }
    if (has(f->detail, "Timeout after connect") || has(f->detail, "Timeout during TLS")) {
        x->name = "slow";
        SETF(headline, "%s accepted the connection but did not answer in time",
             addr ? addr : last_host(f));
        SETF(cause,
             "The server at %s port %s accepted the connection and then sent no complete "
             "response within the time limit: it is overloaded, stuck, or a proxy in front of "
             "it waits for a backend that does not answer.",
             addr ? addr : last_host(f), port);
        SETF(fix, "Make %s answer the challenge URL promptly (curl -v %s).", last_host(f),
             url ? url : "the URL");
        return 1;
    }
    x->name = "connection";
    SETF(headline, "the connection to %s failed", addr ? addr : last_host(f));
    SETF(cause,
         "The server at %s port %s did not complete an HTTP exchange: %s. Something other "
         "than a plain HTTP/1.1 web server answers on that port (HTTP/2 only, another "
         "protocol), or the connection is cut.",
         addr ? addr : last_host(f), port, f->detail);
    SETF(fix, "Serve the challenge over plain HTTP/1.1 on port %s (curl -v --http1.1 %s).", port,
         url ? url : "the URL");
    return 1;
}

/* http-01: the server answered, with the wrong status or the wrong body. */
static int explain_http_answer(const facts *f, explanation *x)
{
    if (!ctype_is(f, "http-01") || !ptype_is(f, "unauthorized") || f->last == NULL)
        return 0;
    json_int_t status = json_integer_value(json_object_get(f->last, "httpStatus"));
    const char *body = str(f->last, "body");
    const char *url = str(f->last, "url");
    const char *addr = str(f->last, "addressUsed");
    char ka[420];
    expected_ka(f->detail, ka, sizeof(ka));
    if (status != 0 && status != 200) {
        x->name = status == 404 ? "not-found" : "http-status";
        SETF(headline, "the server answered %lld instead of the key authorization",
             (long long)status);
        if (status == 404 || status == 410)
            SETF(cause,
                 "The web server at %s has no file at %s%s: the ACME client wrote it into "
                 "another directory than the one this server serves for "
                 "/.well-known/acme-challenge/ (a webroot that is not the document root), or a "
                 "rewrite rule, a CMS or an application route takes the path.",
                 addr ? addr : last_host(f), url ? url : "the challenge URL",
                 body_is_html(body) ? " (it sent an HTML error page)" : "");
        else if (status == 401 || status == 403)
            SETF(cause,
                 "The web server at %s refuses to serve %s (%lld): file permissions, an "
                 "access rule, password protection or a web application firewall covers "
                 "/.well-known/acme-challenge/.",
                 addr ? addr : last_host(f), url ? url : "the challenge URL", (long long)status);
        else
            SETF(cause, "The web server at %s answered %s with status %lld, not 200.",
                 addr ? addr : last_host(f), url ? url : "the challenge URL", (long long)status);
        SETF(fix,
             "Serve the file the ACME client writes at /.well-known/acme-challenge/<token> with "
             "status 200, as plain text, to anyone, over http on port 80 of %s: point the "
             "client's webroot at this server's document root, and exempt the path from "
             "rewrites, logins and firewalls.",
             last_host(f));
        return 1;
    }
    if (status != 200 && body == NULL)
        return 0;
    if (body_is_html(body) || has(f->detail, "Invalid response from")) {
        x->name = "html-page";
        SETF(headline, "the server answered with a web page, not the key authorization");
        SETF(cause,
             "The challenge URL answered 200 with %s instead of the key authorization alone: "
             "a CDN or proxy in front of the site, a hosting provider's parking or "
             "maintenance page, or the site's own catch-all route (a CMS or a single-page "
             "application that answers every path) served the request, not the file the "
             "ACME client wrote.",
             body_is_html(body) ? "an HTML page" : "a body of 128 bytes or more");
        SETF(fix,
             "Serve /.well-known/acme-challenge/ from the directory the ACME client writes to, "
             "ahead of any rewrite or application route, and let it through the CDN or proxy "
             "(or answer it there). The body must be the key authorization and nothing else "
             "(trailing white space is allowed).");
        return 1;
    }
    if (body != NULL && body[0] == '\0') {
        x->name = "empty-body";
        SETF(headline, "the challenge file is empty");
        SETF(cause,
             "%s answered 200 with an empty body: the file exists but holds nothing, or a "
             "server answers every path with an empty page.",
             url ? url : "The challenge URL");
        SETF(fix, "Serve the key authorization%s%s%s as the body.", ka[0] ? " \"" : "", ka,
             ka[0] ? "\"" : "");
        return 1;
    }
    size_t ka_len = strlen(ka);
    const char *dot = strchr(ka, '.');
    if (ka_len > 0 && body != NULL && strncmp(body, ka, ka_len) == 0) {
        x->name = "body-extra";
        SETF(headline, "the file holds the key authorization and more");
        SETF(cause,
             "The body starts with the key authorization but goes on after it (\"%s\"): "
             "only trailing white space may follow it (RFC 8555 §8.3). A server that appends "
             "a banner or a script, or a client that wrote extra lines, causes this.",
             body + ka_len);
        SETF(fix, "Serve exactly \"%s\" (a final newline is fine).", ka);
        return 1;
    }
    if (dot != NULL && body != NULL && strncmp(body, ka, (size_t)(dot - ka) + 1) == 0) {
        x->name = "other-account-key";
        SETF(headline, "the file holds a key authorization for another account key");
        SETF(cause,
             "The token matches, but the part after the dot (the account key's thumbprint) "
             "differs: the file was written for another ACME account, or the account key was "
             "changed after the file was written.");
        SETF(fix,
             "Serve \"%s\": let the same ACME account that answers the challenge write "
             "the file.",
             ka);
        return 1;
    }
    x->name = "wrong-body";
    SETF(headline, "the file holds something else than the key authorization");
    SETF(cause,
         "The challenge URL answered 200 with \"%s\": a file from another challenge or "
         "an earlier attempt, or another server behind the same name (a load balancer with an "
         "out-of-date member: --all-addresses checks each address).",
         body ? body : "");
    SETF(fix, "Serve \"%s\" at %s.", ka[0] ? ka : "the key authorization",
         url ? url : "the challenge URL");
    return 1;
}

/* The validation itself could not run: this machine, the job, the deadline. */
static int explain_local(const facts *f, explanation *x)
{
    if (ptype_is(f, "malformed")) {
        set(x, "malformed", "the job is malformed",
            "The job breaks a rule of the job schema, so nothing was validated.",
            "Correct the job as the problem says.");
        return 1;
    }
    if (!ptype_is(f, "serverInternal"))
        return 0;
    if (has(f->detail, "Local failure") || has(f->detail, "Internal error")) {
        set(x, "local-failure", "this machine could not carry out the validation",
            "The validation server ran short of a resource (descriptors, memory, local ports, "
            "a socket to the resolver): nothing is known about the domain yet.",
            "Run it again; if it persists, raise the descriptor limit (ulimit -n) or lower "
            "--max-inflight.");
        return 1;
    }
    if (has(f->detail, "deadline")) {
        set(x, "deadline", "the job's deadline passed before it was validated",
            "The job's deadlineMs was already past when the validation would have started.",
            "Give the job a deadline in the future, or none.");
        return 1;
    }
    return 0;
}

/* explain picks the catalogue entry of an invalid result; 0 when none fits. */
static int explain(const facts *f, explanation *x)
{
    memset(x, 0, sizeof(*x));
    return explain_local(f, x) || explain_dns(f, x) || explain_txt(f, x) || explain_caa(f, x) ||
           explain_tlsalpn(f, x) || explain_redirect(f, x) || explain_connection(f, x) ||
           explain_http_answer(f, x);
}

/* ---- notes: what deserves a word beside the verdict ---------------------------------------- */

/* addr_check_summary: how --all-addresses went, as (passed, failed, first failing address). */
static void address_checks(const json_t *r, size_t *pass, size_t *fail, const char **first_bad,
                           const char **first_good)
{
    *pass = *fail = 0;
    *first_bad = *first_good = NULL;
    const json_t *a = list(r, "addressChecks");
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *c = json_array_get(a, i);
        const char *st = str(c, "status");
        if (st != NULL && strcmp(st, "valid") == 0) {
            (*pass)++;
            if (*first_good == NULL)
                *first_good = str(c, "address");
        } else {
            (*fail)++;
            if (*first_bad == NULL)
                *first_bad = str(c, "address");
        }
    }
}

/* notes writes the observations that are not the failure itself (also on a valid result). */
static void notes(out *o, const facts *f, int explained, const char *x_name)
{
    char buf[LINE_MAX_BYTES];
    /* An address that failed before another answered: the CA fell back (RFC 8555 §8.3 leaves
     * it to the CA; Boulder falls back from IPv6 to IPv4 when the connect fails). */
    for (size_t i = 0; i < f->n_recs; i++) {
        const json_t *rec = json_array_get(f->recs, i);
        for (size_t k = 0; k < count(rec, "addressesTried"); k++) {
            const char *a = item(rec, "addressesTried", k);
            const char *why = item(rec, "triedErrors", k);
            const char *used = str(rec, "addressUsed");
            /* When the used address failed the same way, the problem already says it all. */
            if (!f->valid && why != NULL && has(f->detail, why))
                continue;
            if (is_ipv6(a) && used != NULL && !is_ipv6(used))
                para(o, S_YELLOW, "Note:", 6,
                     line(buf, sizeof(buf),
                          "%s has an AAAA record (%s), but %s on port %s: %s. The validation "
                          "fell back to IPv4 (%s) and went on, but the server does not work "
                          "over IPv6, and a CA or a perspective that only uses IPv6 would "
                          "fail. Make the server listen on IPv6 too (listen [::]:%s), or "
                          "remove the AAAA record if the host has no working IPv6.",
                          str(rec, "hostname") ? str(rec, "hostname") : "the name", a, a,
                          str(rec, "port") ? str(rec, "port") : "?", why ? why : "it failed", used,
                          str(rec, "port") ? str(rec, "port") : "80"));
            else
                para(o, S_YELLOW, "Note:", 6,
                     line(buf, sizeof(buf), "%s failed first (%s); %s was used after it.", a,
                          why ? why : "?", used ? used : "another address"));
        }
    }
    /* https hops: the certificate is not checked, whatever it names. */
    for (size_t i = 0; i < f->n_recs; i++) {
        const json_t *rec = json_array_get(f->recs, i);
        const char *url = str(rec, "url");
        const char *host = str(rec, "hostname");
        if (url == NULL || strncmp(url, "https:", 6) != 0 || count(rec, "certNames") == 0)
            continue;
        int named = 0;
        for (size_t k = 0; k < count(rec, "certNames"); k++)
            named |= host != NULL && item(rec, "certNames", k) != NULL &&
                     strcmp(item(rec, "certNames", k), host) == 0;
        if (named)
            continue;
        char names[600];
        para(o, S_YELLOW, "Note:", 6,
             line(buf, sizeof(buf),
                  "The redirect to %s was served with a certificate for %s, not %s. That is "
                  "not a problem for this validation: a CA does not check the certificate of "
                  "an https redirect hop (BR 3.2.2.4.19). Browsers will refuse it, though.",
                  url, join(rec, "certNames", 0, names, sizeof(names)), host ? host : "the host"));
    }
    /* dns-01: more values than the one that matched. */
    if ((ctype_is(f, "dns-01") || ctype_is(f, "dns-account-01")) && f->valid && f->last != NULL &&
        count(f->last, "records") > 1) {
        const char *want = str(f->last, "expected");
        char others[1200] = "";
        size_t off = 0, n_other = 0;
        for (size_t k = 0; k < count(f->last, "records"); k++) {
            const char *v = item(f->last, "records", k);
            if (v == NULL || (want != NULL && strcmp(v, want) == 0))
                continue;
            int w =
                snprintf(others + off, sizeof(others) - off, "%s\"%s\"", n_other ? ", " : "", v);
            if (w > 0 && (size_t)w < sizeof(others) - off)
                off += (size_t)w;
            n_other++;
        }
        if (n_other > 0)
            para(o, S_YELLOW, "Note:", 6,
                 line(buf, sizeof(buf),
                      "%s also holds %zu other value%s (%s), most likely left from earlier "
                      "attempts. That is fine: any record that matches is enough (RFC 8555 "
                      "§8.4). Remove them once the certificate is issued, to keep the answer "
                      "small.",
                      str(f->last, "hostname") ? str(f->last, "hostname") : "The name", n_other,
                      n_other == 1 ? "" : "s", others));
    }
    /* --all-addresses: which addresses do not serve the challenge. */
    size_t pass, fail;
    const char *bad, *good;
    address_checks(f->r, &pass, &fail, &bad, &good);
    if (fail > 0 && pass > 0)
        para(o, S_YELLOW, "Note:", 6,
             line(buf, sizeof(buf),
                  "%zu of %zu addresses do not serve the challenge (first: %s), while %s does. "
                  "A load balancer or a DNS round robin with a member that is out of date or "
                  "not the same server: the CA, or one of its perspectives, may reach any of "
                  "them. Deploy the same content (or the same ACME client) to every member.",
                  fail, fail + pass, bad ? bad : "?", good ? good : "another"));
    /* The failure was at IPv6 while IPv4 was there: without --all-addresses we cannot tell
     * whether IPv4 would have passed. */
    static const char *const server_answers[] = {
        "not-found",  "http-status", "html-page",   "wrong-body",           "empty-body",
        "connection", "slow",        "no-acme-tls", "tls-alpn-certificate", "other-account-key"};
    int answered_wrong = 0;
    for (size_t i = 0; explained && i < sizeof(server_answers) / sizeof(server_answers[0]); i++)
        answered_wrong |= strcmp(x_name, server_answers[i]) == 0;
    if (answered_wrong && f->last != NULL && is_ipv6(str(f->last, "addressUsed")) &&
        other_family(f->last, str(f->last, "addressUsed")) != NULL &&
        list(f->r, "addressChecks") == NULL)
        para(o, S_YELLOW, "Note:", 6,
             line(buf, sizeof(buf),
                  "The failing address is IPv6 (%s). A CA tries IPv6 first and, once "
                  "connected, does not fall back to IPv4 (%s). If the site works over IPv4, "
                  "the AAAA record points to a server that does not serve it: run again with "
                  "--all-addresses to see each address on its own.",
                  str(f->last, "addressUsed"), other_family(f->last, str(f->last, "addressUsed"))));
    /* Both the challenge and CAA failed: the problem is the challenge's, CAA's matters too. */
    if (!f->valid && f->caa != NULL && !ptype_is(f, "caa")) {
        const char *cs = str(f->caa, "status");
        const char *cd = str(json_object_get(f->caa, "error"), "detail");
        if (cs != NULL && strcmp(cs, "invalid") == 0 && cd != NULL && strcmp(cd, f->detail) != 0 &&
            strncmp(f->detail, "While processing CAA", 20) != 0)
            para(o, S_YELLOW, "Also:", 6,
                 line(buf, sizeof(buf), "CAA failed as well: %s", cd ? cd : "(no detail)"));
    }
}

/* ---- the steps ------------------------------------------------------------------------------ */

static const char *dnssec_words(const char *d)
{
    if (d == NULL)
        return "DNSSEC status unknown";
    if (strcmp(d, "secure") == 0)
        return "DNSSEC-validated";
    return "no DNSSEC validation";
}

/* same_value: both absent, or equal. */
static int same_value(const json_t *a, const json_t *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && json_equal(a, b));
}

/* same_lookup: |rec| resolved the same host to the same addresses as |prev| (a hop to the same
 * name): one line says so instead of the whole answer again. */
static int same_lookup(const json_t *prev, const json_t *rec)
{
    const char *a = str(prev, "hostname"), *b = str(rec, "hostname");
    return prev != NULL && a != NULL && b != NULL && strcmp(a, b) == 0 &&
           same_value(json_object_get(prev, "addressesResolved"),
                      json_object_get(rec, "addressesResolved")) &&
           same_value(json_object_get(prev, "cnames"), json_object_get(rec, "cnames")) &&
           same_value(json_object_get(prev, "dnssec"), json_object_get(rec, "dnssec"));
}

/* step_lookup writes what the A/AAAA lookup of a connection record found. */
static void step_lookup(out *o, const json_t *rec, const facts *f)
{
    char buf[LINE_MAX_BYTES], addrs[1200], res[300], chain[1200];
    const char *host = str(rec, "hostname");
    if (host == NULL)
        return;
    if (f->ident_type != NULL && strcmp(f->ident_type, "ip") == 0 && f->ident != NULL &&
        strcmp(host, f->ident) == 0) {
        text(o, 7, "DNS: none (the identifier is an IP address)");
        return;
    }
    if (strchr(host, ':') != NULL || strspn(host, "0123456789.") == strlen(host)) {
        text(o, 7, "DNS: none (the host is an IP address)");
        return;
    }
    if (count(rec, "resolverAddrs") == 0 && count(rec, "addressesResolved") == 1 &&
        str(rec, "dnssec") == NULL) {
        text(o, 7,
             line(buf, sizeof(buf), "DNS: not looked up again: this run is pinned to %s",
                  item(rec, "addressesResolved", 0)));
        return;
    }
    if (count(rec, "cnames") > 0)
        text(o, 7,
             line(buf, sizeof(buf), "DNS: %s is an alias (CNAME) of %s", host,
                  join(rec, "cnames", 0, chain, sizeof(chain))));
    text(o, 7,
         line(buf, sizeof(buf), "DNS: %s A/AAAA -> %s (%s; resolver %s)", host,
              count(rec, "addressesResolved")
                  ? join(rec, "addressesResolved", 0, addrs, sizeof(addrs))
                  : "no address",
              dnssec_words(str(rec, "dnssec")),
              count(rec, "resolverAddrs") ? join(rec, "resolverAddrs", 0, res, sizeof(res))
                                          : "none answered"));
}

/* step_tried writes the addresses that failed before the one used, and what happened. */
static void step_tried(out *o, const json_t *rec)
{
    char buf[LINE_MAX_BYTES];
    for (size_t k = 0; k < count(rec, "addressesTried"); k++) {
        const char *why = item(rec, "triedErrors", k);
        text(o, 7,
             line(buf, sizeof(buf), "%s: %s, tried the next address",
                  item(rec, "addressesTried", k) ? item(rec, "addressesTried", k) : "?",
                  why ? why : "failed"));
    }
}

static const char *reason_phrase(json_int_t st)
{
    switch (st) {
    case 200:
        return " OK";
    case 301:
        return " Moved Permanently";
    case 302:
        return " Found";
    case 303:
        return " See Other";
    case 307:
        return " Temporary Redirect";
    case 308:
        return " Permanent Redirect";
    case 401:
        return " Unauthorized";
    case 403:
        return " Forbidden";
    case 404:
        return " Not Found";
    case 500:
        return " Internal Server Error";
    case 502:
        return " Bad Gateway";
    case 503:
        return " Service Unavailable";
    default:
        return "";
    }
}

/* body_bytes returns how many bytes of the response an escaped body stands for (escape.h:
 * \n, \", \\ and \xNN are one byte each, \uXXXX a character of up to 3, \UXXXXXXXX of 4). */
static size_t body_bytes(const char *body)
{
    size_t len = strlen(body), n = 0;
    for (size_t i = 0; i < len; n++) {
        if (body[i] != '\\' || i + 1 == len) {
            i++;
            continue;
        }
        char k = body[i + 1];
        size_t skip = k == 'x' ? 4 : k == 'u' ? 6 : k == 'U' ? 10 : 2;
        n += k == 'u' ? 2 : k == 'U' ? 3 : 0;
        i += skip < len - i ? skip : len - i;
    }
    return n;
}

/* fetch_error returns what went wrong at the address used, from a problem detail of the form
 * "<address>: Fetching <url>: <what>" or "<address>: <what>"; |otherwise| when it has neither. */
static const char *fetch_error(const char *detail, const char *otherwise)
{
    const char *p = strstr(detail, ": Fetching ");
    if (p != NULL) {
        p = strstr(p + 11, ": ");
        return p != NULL ? p + 2 : otherwise;
    }
    p = strstr(detail, ": ");
    return p != NULL && strchr("0123456789abcdef:.[", detail[0]) != NULL &&
                   (size_t)(p - detail) < 48
               ? p + 2
               : otherwise;
}

static void steps_http(out *o, const facts *f)
{
    char buf[LINE_MAX_BYTES], names[600];
    for (size_t i = 0; i < f->n_recs; i++) {
        const json_t *rec = json_array_get(f->recs, i);
        const char *used = str(rec, "addressUsed");
        text(o, 2,
             line(buf, sizeof(buf), "%zu. GET %s", i + 1, str(rec, "url") ? str(rec, "url") : "?"));
        if (i > 0 && same_lookup(json_array_get(f->recs, i - 1), rec))
            text(o, 7, "DNS: the same answer as above");
        else
            step_lookup(o, rec, f);
        step_tried(o, rec);
        if (count(rec, "certNames") > 0)
            text(o, 7,
                 line(buf, sizeof(buf),
                      "%s: TLS certificate names: %s (not checked on a redirect hop)",
                      used ? used : "?", join(rec, "certNames", 0, names, sizeof(names))));
        json_int_t st = json_integer_value(json_object_get(rec, "httpStatus"));
        const char *body = str(rec, "body");
        if (st != 0 && i + 1 < f->n_recs)
            text(o, 7,
                 line(buf, sizeof(buf), "%s: HTTP %lld%s, redirected to the next URL",
                      used ? used : "?", (long long)st, reason_phrase(st)));
        else if (st >= 300 && st < 400 && !f->valid && i + 1 == f->n_recs)
            text(o, 7,
                 line(buf, sizeof(buf),
                      "%s: HTTP %lld%s, redirect not followed (see the "
                      "problem)",
                      used ? used : "?", (long long)st, reason_phrase(st)));
        else if (st != 0 && body != NULL)
            text(o, 7,
                 line(buf, sizeof(buf), "%s: HTTP %lld%s, body \"%s\"%s", used ? used : "?",
                      (long long)st, reason_phrase(st), body,
                      body_bytes(body) >= ACMEVA_RECORD_BODY_MAX
                          ? " (the first 128 bytes; there was more)"
                          : ""));
        else if (st != 0)
            text(o, 7,
                 line(buf, sizeof(buf), "%s: HTTP %lld%s", used ? used : "?", (long long)st,
                      reason_phrase(st)));
        else if (used != NULL && !f->valid && i + 1 == f->n_recs)
            text(
                o, 7,
                line(buf, sizeof(buf), "%s: %s", used, fetch_error(f->detail, "no HTTP response")));
    }
}

static void steps_tls(out *o, const facts *f)
{
    char buf[LINE_MAX_BYTES], names[600];
    for (size_t i = 0; i < f->n_recs; i++) {
        const json_t *rec = json_array_get(f->recs, i);
        const char *used = str(rec, "addressUsed");
        text(o, 2,
             line(buf, sizeof(buf), "%zu. TLS to %s port %s, offering only ALPN acme-tls/1", i + 1,
                  str(rec, "hostname") ? str(rec, "hostname") : "?",
                  str(rec, "port") ? str(rec, "port") : "?"));
        step_lookup(o, rec, f);
        step_tried(o, rec);
        if (count(rec, "certNames") > 0 || str(rec, "alpn") != NULL)
            text(o, 7,
                 line(buf, sizeof(buf), "%s: ALPN selected: %s; certificate names: %s",
                      used ? used : "?", str(rec, "alpn") ? str(rec, "alpn") : "none",
                      count(rec, "certNames") ? join(rec, "certNames", 0, names, sizeof(names))
                                              : "none"));
        else if (used != NULL && !f->valid && i + 1 == f->n_recs)
            text(o, 7,
                 line(buf, sizeof(buf), "%s: %s", used, fetch_error(f->detail, "no handshake")));
    }
}

static void steps_txt(out *o, const facts *f)
{
    char buf[LINE_MAX_BYTES], vals[2400], res[300], chain[1200];
    for (size_t i = 0; i < f->n_recs; i++) {
        const json_t *rec = json_array_get(f->recs, i);
        text(o, 2,
             line(buf, sizeof(buf), "%zu. DNS TXT %s -> %s (%s; resolver %s)", i + 1,
                  str(rec, "hostname") ? str(rec, "hostname") : "?",
                  str(rec, "rcode") ? str(rec, "rcode") : "no answer",
                  dnssec_words(str(rec, "dnssec")),
                  count(rec, "resolverAddrs") ? join(rec, "resolverAddrs", 0, res, sizeof(res))
                                              : "none answered"));
        if (count(rec, "cnames") > 0)
            text(o, 7,
                 line(buf, sizeof(buf), "an alias (CNAME) of %s",
                      join(rec, "cnames", 0, chain, sizeof(chain))));
        text(o, 7,
             line(buf, sizeof(buf), "values: %s",
                  count(rec, "records") ? join(rec, "records", 1, vals, sizeof(vals)) : "none"));
        if (str(rec, "expected") != NULL)
            text(o, 7, line(buf, sizeof(buf), "looked for: \"%s\"", str(rec, "expected")));
        if (str(rec, "matchedRecord") != NULL)
            text(o, 7, line(buf, sizeof(buf), "matched: \"%s\"", str(rec, "matchedRecord")));
    }
}

static void step_caa(out *o, const facts *f, size_t n)
{
    char buf[LINE_MAX_BYTES], recs[1200], ours[300], res[300];
    if (f->caa == NULL)
        return;
    const char *note = str(f->caa, "note");
    const char *at = str(f->caa, "foundAt");
    const char *name = f->ident ? f->ident : "?";
    if (strncmp(name, "*.", 2) == 0)
        name += 2;
    if (note != NULL) {
        text(o, 2, line(buf, sizeof(buf), "%zu. CAA: %s", n, note));
        return;
    }
    if (at == NULL)
        text(o, 2,
             line(buf, sizeof(buf), "%zu. CAA %s and each parent: %s (%s; resolver %s)", n, name,
                  str(f->caa, "status") && strcmp(str(f->caa, "status"), "valid") == 0
                      ? "no CAA record anywhere, so any CA may issue"
                      : "not decided (a lookup failed)",
                  dnssec_words(str(f->caa, "dnssec")),
                  count(f->caa, "resolverAddrs")
                      ? join(f->caa, "resolverAddrs", 0, res, sizeof(res))
                      : "none answered"));
    else
        text(o, 2,
             line(buf, sizeof(buf), "%zu. CAA %s and each parent: found at %s (%s; resolver %s)", n,
                  name, at, dnssec_words(str(f->caa, "dnssec")),
                  count(f->caa, "resolverAddrs")
                      ? join(f->caa, "resolverAddrs", 0, res, sizeof(res))
                      : "none answered"));
    if (count(f->caa, "records") > 0)
        text(o, 7,
             line(buf, sizeof(buf), "records: %s", join(f->caa, "records", 0, recs, sizeof(recs))));
    if (count(f->caa, "issuerDomains") > 0)
        text(o, 7,
             line(buf, sizeof(buf), "this CA's issuer domains: %s",
                  join(f->caa, "issuerDomains", 0, ours, sizeof(ours))));
    if (str(f->caa, "decision") != NULL)
        text(o, 7, line(buf, sizeof(buf), "decided by: %s", str(f->caa, "decision")));
}

static void steps_address_checks(out *o, const facts *f)
{
    const json_t *a = list(f->r, "addressChecks");
    char buf[LINE_MAX_BYTES];
    if (json_array_size(a) == 0)
        return;
    puts_(o, "\n");
    heading(o, "Each address on its own (--all-addresses):");
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *c = json_array_get(a, i);
        const char *st = str(c, "status");
        int ok = st != NULL && strcmp(st, "valid") == 0;
        const json_t *recs = list(c, "validationRecord");
        const json_t *last = json_array_get(recs, json_array_size(recs) - 1);
        json_int_t hs = json_integer_value(json_object_get(last, "httpStatus"));
        const char *body = str(last, "body");
        const json_t *err = json_object_get(c, "error");
        put(o, "  ", 2);
        style(o, ok ? S_GREEN : S_RED);
        puts_(o, ok ? "VALID  " : "INVALID");
        unstyle(o);
        if (ok || hs != 0)
            text(o, 1,
                 line(buf, sizeof(buf), "%s: %s%lld%s%s%s%s",
                      str(c, "address") ? str(c, "address") : "?", hs ? "HTTP " : "", (long long)hs,
                      hs ? reason_phrase(hs) : "", body ? ", body \"" : "", body ? body : "",
                      body ? "\"" : ""));
        else
            text(o, 1,
                 line(buf, sizeof(buf), "%s: %s", str(c, "address") ? str(c, "address") : "?",
                      str(err, "detail") ? str(err, "detail") : "failed"));
    }
}

/* ---- the whole text ------------------------------------------------------------------------- */

static void write_diagnosis(out *o, const json_t *r)
{
    facts f;
    explanation x;
    char buf[LINE_MAX_BYTES];
    facts_read(&f, r);
    int explained = !f.valid && explain(&f, &x);
    if (!f.valid && !explained)
        set(&x, "other", "", "", "");

    /* The verdict, first. */
    style(o, f.valid ? S_GREEN : S_RED);
    puts_(o, f.valid ? "VALID" : "INVALID");
    unstyle(o);
    const char *what = f.ctype ? f.ctype : (f.caa != NULL ? "CAA" : "job");
    if (!f.valid && x.headline[0] != '\0')
        text(o, 1,
             line(buf, sizeof(buf), "%s %s: %s%s%s%s", what, f.ident ? f.ident : "(no identifier)",
                  f.at_address ? "at " : "", f.at_address ? f.at_address : "",
                  f.at_address ? ", " : "", x.headline));
    else if (!f.valid)
        text(o, 1,
             line(buf, sizeof(buf), "%s %s: %s", what, f.ident ? f.ident : "(no identifier)",
                  f.detail[0] ? f.detail : "failed"));
    else
        text(o, 1, line(buf, sizeof(buf), "%s %s", what, f.ident ? f.ident : ""));
    json_t *dur = json_object_get(r, "durationMs");
    text(o, 2,
         line(buf, sizeof(buf), "job %s, perspective %s, %.1f ms",
              str(r, "id") ? str(r, "id") : "(none)",
              str(r, "perspective") && str(r, "perspective")[0] ? str(r, "perspective") : "default",
              json_is_number(dur) ? json_number_value(dur) : 0.0));

    /* The steps. */
    size_t n = f.n_recs;
    if (n > 0 || f.caa != NULL) {
        puts_(o, "\n");
        heading(o, "What the validation did:");
        if (ctype_is(&f, "http-01"))
            steps_http(o, &f);
        else if (ctype_is(&f, "tls-alpn-01"))
            steps_tls(o, &f);
        else if (n > 0)
            steps_txt(o, &f);
        step_caa(o, &f, n + 1);
    }
    steps_address_checks(o, &f);

    /* The problem, its likely cause, what to change; then the notes. A blank line before
     * them when there is any. */
    out tail = {{0}, o->color};
    out *main_out = o;
    o = &tail;
    if (!f.valid) {
        const char *type = str(json_object_get(r, "error"), "type");
        para(o, S_BOLD, "Problem:", 4,
             line(buf, sizeof(buf), "%s: %s",
                  type ? type + (strncmp(type, kUrnPrefix, sizeof(kUrnPrefix) - 1) == 0
                                     ? sizeof(kUrnPrefix) - 1
                                     : 0)
                       : "?",
                  f.detail));
        if (x.cause[0] != '\0')
            para(o, S_BOLD, "Likely cause:", 4, x.cause);
        if (x.fix[0] != '\0')
            para(o, S_BOLD, "What to change:", 4, x.fix);
    }
    notes(o, &f, explained, x.name ? x.name : "");
    if (tail.b.len > 0) {
        puts_(main_out, "\n");
        put(main_out, tail.b.p, tail.b.len);
    }
    main_out->b.failed |= tail.b.failed;
    free(tail.b.p);
}

char *acmeva_diagnose_text(const json_t *result, unsigned flags)
{
    out o = {{0}, (flags & ACMEVA_DIAG_COLOR) != 0};
    write_diagnosis(&o, result);
    size_t len;
    return acmeva_strbuf_take(&o.b, &len);
}

const char *acmeva_diagnose_cause(const json_t *result)
{
    facts f;
    explanation x;
    facts_read(&f, result);
    if (f.valid)
        return "valid";
    if (!explain(&f, &x))
        return "other";
    return x.name;
}

char *acmeva_diagnose_perspectives_text(const json_t *doc, unsigned flags)
{
    out o = {{0}, (flags & ACMEVA_DIAG_COLOR) != 0};
    char buf[LINE_MAX_BYTES];
    const json_t *ps = list(doc, "perspectives");
    const json_t *diffs = list(doc, "disagreements");
    const char *status = str(doc, "status");
    int valid = status != NULL && strcmp(status, "valid") == 0;
    const json_t *first = json_array_get(ps, 0);
    facts f;
    facts_read(&f, json_object_get(first, "result"));

    style(&o, valid ? S_GREEN : S_RED);
    puts_(&o, valid ? "VALID" : "INVALID");
    unstyle(&o);
    size_t n_valid = 0;
    for (size_t i = 0; i < json_array_size(ps); i++) {
        const char *st = str(json_object_get(json_array_get(ps, i), "result"), "status");
        n_valid += st != NULL && strcmp(st, "valid") == 0;
    }
    text(&o, 1,
         line(buf, sizeof(buf), "%s %s: %zu of %zu perspectives valid%s",
              f.ctype ? f.ctype : (f.caa ? "CAA" : "job"), f.ident ? f.ident : "", n_valid,
              json_array_size(ps),
              json_array_size(diffs) > 0 ? ", and their views differ" : ", and they agree"));
    text(&o, 2, line(buf, sizeof(buf), "job %s", str(doc, "id") ? str(doc, "id") : "(none)"));
    puts_(&o, "\n");
    heading(&o, "Perspectives:");
    for (size_t i = 0; i < json_array_size(ps); i++) {
        const json_t *p = json_array_get(ps, i);
        const json_t *r = json_object_get(p, "result");
        const char *st = str(r, "status");
        int ok = st != NULL && strcmp(st, "valid") == 0;
        facts pf;
        facts_read(&pf, r);
        put(&o, "  ", 2);
        style(&o, ok ? S_GREEN : S_RED);
        puts_(&o, ok ? "VALID  " : "INVALID");
        unstyle(&o);
        text(&o, 1,
             line(buf, sizeof(buf), "%s (resolver %s)%s%s%s", str(p, "name") ? str(p, "name") : "?",
                  str(p, "resolver") ? str(p, "resolver") : "?", i == 0 ? ", the reference" : "",
                  ok ? "" : ": ", ok ? "" : pf.detail));
    }
    puts_(&o, "\n");
    heading(&o, json_array_size(diffs) > 0 ? "Where they differ:" : "Where they differ: nowhere");
    for (size_t i = 0; i < json_array_size(diffs); i++) {
        const char *d = json_string_value(json_array_get(diffs, i));
        text(&o, 2, line(buf, sizeof(buf), "- %s", d ? d : "?"));
    }
    if (json_array_size(diffs) > 0)
        para(&o, S_YELLOW, "Note:", 6,
             "Perspectives that see different addresses, TXT values or CAA records get "
             "different answers from DNS: a change that has not reached every nameserver yet "
             "(wait for the old records' TTL), nameservers that disagree, a geo-DNS service, "
             "or an attack on one network's path. A CA asks several perspectives and needs "
             "them to agree (BR 3.2.2.9).");
    for (size_t i = 0; i < json_array_size(ps); i++) {
        const json_t *p = json_array_get(ps, i);
        puts_(&o, "\n");
        heading(&o, line(buf, sizeof(buf),
                         "== %s (resolver %s) ==", str(p, "name") ? str(p, "name") : "?",
                         str(p, "resolver") ? str(p, "resolver") : "?"));
        write_diagnosis(&o, json_object_get(p, "result"));
    }
    size_t len;
    return acmeva_strbuf_take(&o.b, &len);
}
