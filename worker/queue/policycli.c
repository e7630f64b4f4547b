/*
 * `acmeva policy --redis URL (show | disable TYPE --reason TEXT | enable TYPE |
 *                             enforce RULE [--note TEXT] | unenforce RULE)`
 *
 * A change is one transaction, so that every process sees the field and the new version
 * together, and the message goes out with them:
 *
 *   WATCH acmeva:v1:policy
 *   HGET acmeva:v1:policy <field>          (what it was: nothing to do when it already says it)
 *   MULTI
 *   HSET acmeva:v1:policy <field> <text>   (or HDEL)
 *   HINCRBY acmeva:v1:policy version 1
 *   PUBLISH acmeva:v1:policy <field>
 *   EXEC                                   (nil: someone else changed the hash: again)
 *
 * The daemons read the hash at once on the message and every ACMEVA_POLICY_POLL_MS anyway
 * (policywatch.h), so the command returns when the change is in Redis and says how many
 * processes the message reached. A CLI, not a validation path: the blocking client of
 * rclient.c, on the daemons' own transport (rediss:// and the TLS options).
 */
#include "policycli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "acmeva/engine.h"
#include "brrules.h"
#include "daemon.h"
#include "policy.h"
#include "policywatch.h"
#include "queue.h"
#include "rclient.h"

#define ERR_MAX 512
#define TRIES 5 /* transactions refused because the hash changed meanwhile */

static const char usage[] =
    "Usage: acmeva policy [--redis URL] [--redis-ca FILE] [--redis-cert FILE --redis-key FILE]\n"
    "                     COMMAND\n"
    "Shows and edits the operator's policy, the Redis hash " ACMEVA_POLICY_KEY ", which every\n"
    "acmeva-worker and acmeva-coordinator applies within 1 s, with no restart.\n"
    "Commands:\n"
    "  show                        every method (enabled, or disabled and why), the version,\n"
    "                              and the dated BR rules: their steps and what is in force\n"
    "  disable TYPE --reason TEXT  switch validation method TYPE (http-01, dns-01,\n"
    "                              tls-alpn-01, dns-account-01, dns-persist-01) off: its jobs\n"
    "                              get serverInternal naming TYPE and TEXT, and are not run\n"
    "  enable TYPE                 switch it on again\n"
    "  enforce RULE [--note TEXT]  bring the next step of dated rule RULE in now, before its\n"
    "                              date (min-remote-perspectives, dnssec-at-primary)\n"
    "  unenforce RULE              back to the rule's own dates\n"
    "Options:\n"
    "  --redis URL         redis[s]://[user:pass@]host:port[/db] (rediss://: TLS; default\n"
    "                      $ACMEVA_REDIS_URL, else redis://127.0.0.1:6379). The user needs\n"
    "                      write access to the hash (deploy/redis: acmeva-operator)\n"
    "  --reason TEXT       disable: why, one line of at most 256 bytes (it reaches every\n"
    "                      refused job's problem detail, the logs and the audit logs)\n"
    "  --note TEXT         enforce: a note kept with the field\n" ACMEVA_REDIS_TLS_USAGE
    "Every change raises the field version (results carry it as policyVersion) and is\n"
    "published on the channel " ACMEVA_POLICY_CHANNEL ".\n"
    "Exit status: 0 done (or already so), 2 bad usage or a Redis error.\n";

typedef enum { CMD_SHOW, CMD_DISABLE, CMD_ENABLE, CMD_ENFORCE, CMD_UNENFORCE } command;

typedef struct policycli {
    acmeva_redis_url url;
    acmeva_redis_tls_options tls;
    command cmd;
    const char *arg;  /* TYPE or RULE */
    const char *text; /* --reason, --note */
    char field[96];   /* disable:<type>, enforce:<rule> */
    acmeva_rclient c;
    int opened;
    char err[ERR_MAX];
} policycli;

/* text_ok: one line of printable text (control characters would only be escaped away). */
static int text_ok(const char *s)
{
    if (strlen(s) > ACMEVA_POLICY_TEXT_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* parse_args returns 0, 1 for --help, or -1 after a line on stderr. */
static int parse_args(policycli *p, int argc, char **argv)
{
    const char *url = acmeva_redis_url_default(), *v, *pos[3] = {NULL, NULL, NULL};
    const char *reason = NULL, *note = NULL;
    int npos = 0, rc;
    for (int i = 1; i < argc;) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (acmeva_option_value(argc, argv, &i, "--redis", &v)) {
            if (v == NULL) {
                fprintf(stderr, "acmeva policy: --redis needs a URL\n");
                return -1;
            }
            url = v;
        } else if (acmeva_option_value(argc, argv, &i, "--reason", &v)) {
            reason = v;
            if (v == NULL || *v == '\0' || !text_ok(v)) {
                fprintf(stderr,
                        "acmeva policy: --reason needs one line of printable text of "
                        "at most %d bytes\n",
                        ACMEVA_POLICY_TEXT_MAX);
                return -1;
            }
        } else if (acmeva_option_value(argc, argv, &i, "--note", &v)) {
            note = v;
            if (v == NULL || !text_ok(v)) {
                fprintf(stderr,
                        "acmeva policy: --note needs one line of printable text of at "
                        "most %d bytes\n",
                        ACMEVA_POLICY_TEXT_MAX);
                return -1;
            }
        } else if ((rc = acmeva_redis_tls_option(&p->tls, "acmeva policy", argc, argv, &i)) != 0) {
            if (rc < 0)
                return -1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "acmeva policy: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        } else {
            if (npos == 3) {
                fprintf(stderr, "acmeva policy: too many arguments (see --help)\n");
                return -1;
            }
            pos[npos++] = argv[i++];
        }
    }
    static const struct {
        const char *name;
        command cmd;
        int args;
    } cmds[] = {{"show", CMD_SHOW, 0},
                {"disable", CMD_DISABLE, 1},
                {"enable", CMD_ENABLE, 1},
                {"enforce", CMD_ENFORCE, 1},
                {"unenforce", CMD_UNENFORCE, 1}};
    size_t k = 0;
    while (k < sizeof(cmds) / sizeof(cmds[0]) && (pos[0] == NULL || strcmp(pos[0], cmds[k].name)))
        k++;
    if (k == sizeof(cmds) / sizeof(cmds[0])) {
        fprintf(stderr, "acmeva policy: %s%s%s (see --help)\n",
                pos[0] ? "unknown command '"
                       : "a command is required: show, disable, enable, "
                         "enforce or unenforce",
                pos[0] ? pos[0] : "", pos[0] ? "'" : "");
        return -1;
    }
    p->cmd = cmds[k].cmd;
    if (npos != 1 + cmds[k].args) {
        fprintf(stderr, "acmeva policy %s: %s (see --help)\n", cmds[k].name,
                cmds[k].args ? (p->cmd == CMD_ENFORCE || p->cmd == CMD_UNENFORCE ? "needs one RULE"
                                                                                 : "needs one TYPE")
                             : "takes no argument");
        return -1;
    }
    p->arg = pos[1];
    if (p->cmd == CMD_DISABLE || p->cmd == CMD_ENABLE) {
        acmeva_chall_type t = acmeva_chall_type_from_name(p->arg);
        if (strcmp(p->arg, "caa") == 0) {
            fprintf(stderr, "acmeva policy: CAA checking cannot be switched off (BR 3.2.2.8 "
                            "requires it for every issuance)\n");
            return -1;
        }
        if (t == ACMEVA_CHALL_UNKNOWN || t == ACMEVA_CHALL_NONE) {
            fprintf(stderr,
                    "acmeva policy: '%s' is not a challenge type: http-01, dns-01, "
                    "tls-alpn-01, dns-account-01, dns-persist-01\n",
                    p->arg);
            return -1;
        }
        snprintf(p->field, sizeof(p->field), "%s%s", ACMEVA_POLICY_DISABLE, p->arg);
    } else if (p->cmd != CMD_SHOW) {
        if (acmeva_rule_find(p->arg) == NULL) {
            size_t n = 0;
            const acmeva_dated_rule *all = acmeva_rule_all(&n);
            fprintf(stderr, "acmeva policy: '%s' is not a dated rule:", p->arg);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s %s", i ? "," : "", all[i].name);
            fputc('\n', stderr);
            return -1;
        }
        snprintf(p->field, sizeof(p->field), "%s%s", ACMEVA_POLICY_ENFORCE, p->arg);
    }
    if (p->cmd == CMD_DISABLE && reason == NULL) {
        fprintf(stderr, "acmeva policy disable: --reason TEXT is required (it tells the CA, "
                        "the logs and the audit logs why)\n");
        return -1;
    }
    if ((reason != NULL && p->cmd != CMD_DISABLE) || (note != NULL && p->cmd != CMD_ENFORCE)) {
        fprintf(stderr, "acmeva policy: --reason goes with disable, --note with enforce\n");
        return -1;
    }
    p->text = p->cmd == CMD_DISABLE ? reason : note ? note : "";
    char err[256];
    if (acmeva_redis_url_parse(url, &p->url, err, sizeof(err)) < 0) {
        fprintf(stderr, "acmeva policy: %s\n", err); /* never repeats the password */
        return -1;
    }
    if (acmeva_redis_tls_check(&p->tls, &p->url, err, sizeof(err)) < 0) {
        fprintf(stderr, "acmeva policy: %s\n", err);
        return -1;
    }
    return 0;
}

/* call runs one command; NULL after a message on stderr. An error reply is returned as is. */
static redisReply *call(policycli *p, int argc, const char **argv)
{
    redisReply *r = acmeva_rclient_call(&p->c, argc, argv, NULL, p->err, sizeof(p->err));
    if (r == NULL)
        fprintf(stderr, "acmeva policy: %s\n", p->err);
    return r;
}

/* refused reports an error reply of |what|; returns 1 when |r| is one. */
static int refused(const redisReply *r, const char *what)
{
    if (r->type != REDIS_REPLY_ERROR)
        return 0;
    fprintf(stderr, "acmeva policy: Redis refused %s: %s\n", what, r->str ? r->str : "error");
    return 1;
}

/* ---- show ---------------------------------------------------------------------------------- */

static void show_rule(const acmeva_policy *pol, size_t i, const acmeva_dated_rule *r)
{
    printf("  %s (%s)\n    steps:", r->name, r->cite);
    for (size_t k = 0; k < r->n_steps; k++)
        printf("%s %d from %s", k ? "," : "", r->steps[k].value, r->steps[k].date);
    printf("\n    in force: %d", pol->rule_value[i]);
    const acmeva_dated_step *s = pol->rule_step[i];
    if (s == NULL)
        printf(" (before its first step)");
    else if (pol->rule_early[i])
        printf(" (the step of %s, in force early by enforce:%s%s%s%s)", s->date, r->name,
               pol->enforce[i][0] ? ", note \"" : "", pol->enforce[i],
               pol->enforce[i][0] ? "\"" : "");
    else
        printf(" (since %s, by date)", s->date);
    const acmeva_dated_step *next = NULL;
    for (size_t k = 0; k < r->n_steps && next == NULL; k++)
        if (s == NULL || r->steps[k].from_ms > s->from_ms)
            next = &r->steps[k];
    if (next != NULL)
        printf("; next: %d from %s", next->value, next->date);
    else if (pol->enforce[i] != NULL && !pol->rule_early[i])
        printf("; enforce:%s brings nothing more: the last step is in force", r->name);
    printf("\n");
}

static int show(policycli *p)
{
    const char *argv[] = {"HGETALL", ACMEVA_POLICY_KEY};
    redisReply *r = call(p, 2, argv);
    if (r == NULL)
        return 2;
    if (refused(r, "HGETALL") || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0 ||
        r->elements / 2 > ACMEVA_POLICY_FIELDS_MAX) {
        if (r->type != REDIS_REPLY_ERROR)
            fprintf(stderr, "acmeva policy: %s is not a policy hash\n", ACMEVA_POLICY_KEY);
        freeReplyObject(r);
        return 2;
    }
    size_t n = r->elements / 2;
    const char *f[ACMEVA_POLICY_FIELDS_MAX], *v[ACMEVA_POLICY_FIELDS_MAX];
    size_t fl[ACMEVA_POLICY_FIELDS_MAX], vl[ACMEVA_POLICY_FIELDS_MAX];
    for (size_t i = 0; i < n; i++) {
        f[i] = r->element[2 * i]->str ? r->element[2 * i]->str : "";
        fl[i] = r->element[2 * i]->str ? r->element[2 * i]->len : 0;
        v[i] = r->element[2 * i + 1]->str ? r->element[2 * i + 1]->str : "";
        vl[i] = r->element[2 * i + 1]->str ? r->element[2 * i + 1]->len : 0;
    }
    /* The very parser the daemons use: what is shown is what they apply. */
    acmeva_policy *pol = NULL;
    char err[200];
    int rc = acmeva_policy_parse(f, fl, v, vl, n, acmeva_wall_ms(), &pol, err, sizeof(err));
    freeReplyObject(r);
    if (rc < 0) {
        fprintf(stderr, "acmeva policy: %s: %s\n", ACMEVA_POLICY_KEY,
                rc == -ENOMEM ? "no memory" : err);
        return 2;
    }
    printf("%s version %lld\n\nmethods:\n", ACMEVA_POLICY_KEY, (long long)pol->version);
    for (int t = ACMEVA_CHALL_NONE + 1; t < ACMEVA_CHALL_UNKNOWN; t++) {
        const char *why = acmeva_policy_disabled(pol, (acmeva_chall_type)t);
        printf("  %-16s %s%s\n", acmeva_chall_type_name((acmeva_chall_type)t),
               why ? "DISABLED: " : "enabled", why ? why : "");
    }
    printf("  %-16s enabled (CAA is never switched off, nor a CAA-only job)\n", "caa");
    size_t nr = 0;
    const acmeva_dated_rule *all = acmeva_rule_all(&nr);
    printf("\ndated rules:\n");
    for (size_t i = 0; i < nr && i < pol->n_rules; i++)
        show_rule(pol, i, &all[i]);
    if (pol->ignored != NULL)
        printf("\nfields this build ignores: %s\n", pol->ignored);
    acmeva_policy_free(pol);
    return 0;
}

/* ---- changes -------------------------------------------------------------------------------- */

/* describe writes what the change does, for the line printed at the end. */
static void describe(const policycli *p, char *buf, size_t len)
{
    switch (p->cmd) {
    case CMD_DISABLE:
        snprintf(buf, len, "%s disabled (reason: %s)", p->arg, p->text);
        break;
    case CMD_ENABLE:
        snprintf(buf, len, "%s enabled again", p->arg);
        break;
    case CMD_ENFORCE:
        snprintf(buf, len, "%s enforced early%s%s", p->arg, p->text[0] ? " (note: " : "",
                 p->text[0] ? p->text : "");
        if (p->text[0])
            strncat(buf, ")", len - strlen(buf) - 1);
        break;
    default:
        snprintf(buf, len, "%s back to its dates", p->arg);
        break;
    }
}

/* already says whether the field already says what is asked (|old| NULL: absent). */
static int already(const policycli *p, const redisReply *old)
{
    int present = old->type == REDIS_REPLY_STRING;
    if (p->cmd == CMD_ENABLE || p->cmd == CMD_UNENFORCE)
        return !present;
    return present && old->len == strlen(p->text) && memcmp(old->str, p->text, old->len) == 0;
}

/* print_rule_effect says what is in force for |name| now that its early step is |early|. */
static void print_rule_effect(const char *name, int early)
{
    const acmeva_dated_rule *r = acmeva_rule_find(name);
    const acmeva_dated_step *by_date = NULL, *step = NULL;
    int64_t now = acmeva_wall_ms();
    acmeva_rule_value(r, now, 0, &by_date);
    int v = acmeva_rule_value(r, now, early, &step);
    if (step == NULL)
        printf("%s in force: %d (before its first step)\n", name, v);
    else if (step != by_date)
        printf("%s in force: %d, the step of %s, early\n", name, v, step->date);
    else if (early)
        printf("%s in force: %d since %s by date; its last step, so nothing comes early\n", name, v,
               step->date);
    else
        printf("%s in force: %d since %s, by date\n", name, v, step->date);
}

static int change(policycli *p)
{
    int add = p->cmd == CMD_DISABLE || p->cmd == CMD_ENFORCE;
    char what[ACMEVA_POLICY_TEXT_MAX + 128];
    describe(p, what, sizeof(what));
    for (int attempt = 0; attempt < TRIES; attempt++) {
        const char *watch[] = {"WATCH", ACMEVA_POLICY_KEY};
        const char *get[] = {"HMGET", ACMEVA_POLICY_KEY, p->field, ACMEVA_POLICY_VERSION_FIELD};
        redisReply *r = call(p, 2, watch);
        if (r == NULL)
            return 2;
        int bad = refused(r, "WATCH");
        freeReplyObject(r);
        if (bad || (r = call(p, 4, get)) == NULL)
            return 2;
        if (refused(r, "HMGET") || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r->type != REDIS_REPLY_ERROR)
                fprintf(stderr, "acmeva policy: %s is not a policy hash\n", ACMEVA_POLICY_KEY);
            freeReplyObject(r);
            return 2;
        }
        if (already(p, r->element[0])) {
            printf("nothing to change: %s already %s (%s version %s)\n", p->arg,
                   p->cmd == CMD_DISABLE   ? "disabled with this reason"
                   : p->cmd == CMD_ENABLE  ? "enabled"
                   : p->cmd == CMD_ENFORCE ? "enforced early with this note"
                                           : "follows its dates",
                   ACMEVA_POLICY_KEY,
                   r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "0");
            freeReplyObject(r);
            const char *unwatch[] = {"UNWATCH"};
            if ((r = call(p, 1, unwatch)) != NULL)
                freeReplyObject(r);
            return 0;
        }
        char was[ACMEVA_POLICY_TEXT_MAX + 32] = "";
        if (r->element[0]->type == REDIS_REPLY_STRING)
            snprintf(was, sizeof(was), " (was: \"%.*s\")", (int)r->element[0]->len,
                     r->element[0]->str);
        freeReplyObject(r);
        /* The transaction: its replies come with EXEC (QUEUED before). */
        const char *multi[] = {"MULTI"};
        const char *set[] = {"HSET", ACMEVA_POLICY_KEY, p->field, p->text};
        const char *del[] = {"HDEL", ACMEVA_POLICY_KEY, p->field};
        const char *incr[] = {"HINCRBY", ACMEVA_POLICY_KEY, ACMEVA_POLICY_VERSION_FIELD, "1"};
        const char *pub[] = {"PUBLISH", ACMEVA_POLICY_CHANNEL, p->field};
        const char *exec[] = {"EXEC"};
        if (acmeva_rclient_send(&p->c, 1, multi, NULL) < 0 ||
            (add ? acmeva_rclient_send(&p->c, 4, set, NULL)
                 : acmeva_rclient_send(&p->c, 3, del, NULL)) < 0 ||
            acmeva_rclient_send(&p->c, 4, incr, NULL) < 0 ||
            acmeva_rclient_send(&p->c, 3, pub, NULL) < 0 ||
            acmeva_rclient_send(&p->c, 1, exec, NULL) < 0) {
            fprintf(stderr, "acmeva policy: %s: connection lost\n", ACMEVA_POLICY_KEY);
            return 2;
        }
        redisReply *rs[5];
        int failed = 0;
        for (int i = 0; i < 5; i++) {
            rs[i] = acmeva_rclient_next(&p->c, p->err, sizeof(p->err));
            if (rs[i] == NULL) {
                fprintf(stderr, "acmeva policy: %s\n", p->err);
                failed = 1;
            }
        }
        static const char *const names[] = {"MULTI", "HSET or HDEL", "HINCRBY", "PUBLISH", "EXEC"};
        for (int i = 0; i < 5 && !failed; i++)
            failed = refused(rs[i], names[i]);
        redisReply *x = failed ? NULL : rs[4];
        int retry = x != NULL && x->type == REDIS_REPLY_NIL;
        int done = x != NULL && x->type == REDIS_REPLY_ARRAY && x->elements == 3 &&
                   x->element[1]->type == REDIS_REPLY_INTEGER &&
                   x->element[2]->type == REDIS_REPLY_INTEGER;
        if (done) {
            printf("%s%s: %s version %lld; %lld process%s told at once, every acmeva-worker and "
                   "acmeva-coordinator applies it within 1 s\n",
                   what, was, ACMEVA_POLICY_KEY, x->element[1]->integer, x->element[2]->integer,
                   x->element[2]->integer == 1 ? "" : "es");
            if (p->cmd == CMD_ENFORCE || p->cmd == CMD_UNENFORCE)
                print_rule_effect(p->arg, add);
        } else if (!failed && !retry)
            fprintf(stderr, "acmeva policy: %s: unexpected reply to EXEC\n", ACMEVA_POLICY_KEY);
        for (int i = 0; i < 5; i++)
            if (rs[i] != NULL)
                freeReplyObject(rs[i]);
        if (done)
            return 0;
        if (!retry)
            return 2;
        /* Someone else changed the hash between WATCH and EXEC: look again. */
    }
    fprintf(stderr, "acmeva policy: %s kept changing under this command; nothing changed\n",
            ACMEVA_POLICY_KEY);
    return 2;
}

int acmeva_policy_main(int argc, char **argv)
{
    policycli p;
    memset(&p, 0, sizeof(p));
    int rc = parse_args(&p, argc, argv);
    int status = 2;
    if (rc == 1) {
        fputs(usage, stdout);
        status = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    char name[128], client[160];
    acmeva_consumer_name(name, sizeof(name), 0);
    snprintf(client, sizeof(client), "acmeva-policy:%s", name);
    p.opened = 1;
    if (acmeva_rclient_open(&p.c, "acmeva policy", &p.url, &p.tls, ACMEVA_POLICY_KEY, client, p.err,
                            sizeof(p.err)) < 0) {
        fprintf(stderr, "acmeva policy: %s\n", p.err);
        goto out;
    }
    status = p.cmd == CMD_SHOW ? show(&p) : change(&p);
out:
    if (p.opened)
        acmeva_rclient_close(&p.c);
    acmeva_redis_url_clear(&p.url);
    acmeva_redis_tls_options_clear(&p.tls);
    return status;
}
