/*
 * `acmeva verify --key FILE`: checks signed result entries (DESIGN.md "Channel"). Reads NDJSON
 * on standard input, one entry a line, {"result": "<the field result, as a JSON string>",
 * "sig": "<the field sig>"}, and prints one JSON line per entry:
 *   {"line":1,"id":"authz-1/chall-2","verified":true}
 *   {"line":2,"id":"authz-3/chall-4","verified":false,"reason":"no sig"}
 * The format is docs/signed-results.md; this command is one verifier of it, not the only one.
 */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue.h"
#include "resultsig.h"

/* An entry line holds a result (at most a few KiB in practice) and a signature; a line longer
 * than this is bad input, never a reason to allocate without bound. */
#define LINE_MAX_BYTES (4u * 1024 * 1024)

static const char verify_usage[] =
    "Usage: acmeva verify --key FILE\n"
    "Checks signed result entries (acmeva-worker --signing-key): reads NDJSON on standard\n"
    "input, one entry a line, {\"result\": \"<field result>\", \"sig\": \"<field sig>\"}, and\n"
    "prints one JSON line per entry: "
    "{\"line\":N,\"id\":...,\"verified\":true|false[,\"reason\":...]}.\n"
    "  --key FILE         the worker's Ed25519 public key, PEM (openssl pkey -in KEY -pubout)\n"
    "Exit status: 0 every entry verifies, 1 some entry does not, 2 bad usage or a line that is\n"
    "not an entry (the other lines are still checked). Format: docs/signed-results.md.\n";

static void print_line(long lineno, const char *id, int verified, const char *reason)
{
    json_t *o =
        json_pack("{s:I, s:s?, s:b}", "line", (json_int_t)lineno, "id", id, "verified", verified);
    if (o == NULL)
        return;
    if (reason != NULL)
        json_object_set_new(o, "reason", json_string(reason));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s != NULL) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

/* check_line checks one entry. Returns 0 verified, 1 not verified, 2 not an entry. */
static int check_line(const void *key, long lineno, const char *line, size_t len)
{
    json_error_t je;
    json_t *e = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    json_t *result = json_object_get(e, "result"), *sig = json_object_get(e, "sig");
    if (!json_is_object(e) || !json_is_string(result) || (sig != NULL && !json_is_string(sig))) {
        fprintf(stderr,
                "acmeva verify: line %ld: not an entry {\"result\": string, \"sig\": "
                "string}\n",
                lineno);
        print_line(lineno, NULL, 0, "not an entry");
        json_decref(e);
        return 2;
    }
    /* The id only labels the line; it is read from a document not yet trusted. */
    json_t *doc = json_loadb(json_string_value(result), json_string_length(result), 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "id"));
    int ok =
        sig != NULL && acmeva_sig_verify(key, json_string_value(result), json_string_length(result),
                                         json_string_value(sig), json_string_length(sig));
    print_line(lineno, id, ok,
               ok            ? NULL
               : sig == NULL ? "no sig"
                             : "the signature does not verify with the key");
    json_decref(doc);
    json_decref(e);
    return ok ? 0 : 1;
}

int acmeva_verify_main(int argc, char **argv)
{
    const char *key_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(verify_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key_path = argv[++i];
        } else if (strncmp(argv[i], "--key=", 6) == 0) {
            key_path = argv[i] + 6;
        } else {
            fprintf(stderr, "acmeva verify: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (key_path == NULL || *key_path == '\0') {
        fprintf(stderr, "acmeva verify: --key FILE is required (see --help)\n");
        return 2;
    }
    char err[512];
    void *key = acmeva_sig_key_read(key_path, 0, err, sizeof(err));
    if (key == NULL) {
        fprintf(stderr, "acmeva verify: --key %s\n", err);
        return 2;
    }
    char *buf = malloc(LINE_MAX_BYTES + 1);
    if (buf == NULL) {
        acmeva_sig_key_free(key);
        fprintf(stderr, "acmeva verify: no memory\n");
        return 2;
    }
    size_t len;
    int too_long, worst = 0;
    long lineno = 0;
    while (acmeva_read_line(stdin, buf, LINE_MAX_BYTES + 1, &len, &too_long)) {
        lineno++;
        int rc;
        if (too_long) {
            fprintf(stderr, "acmeva verify: line %ld: longer than %u bytes\n", lineno,
                    LINE_MAX_BYTES);
            print_line(lineno, NULL, 0, "line too long");
            rc = 2;
        } else if (strspn(buf, " \t") == len) {
            continue;
        } else {
            rc = check_line(key, lineno, buf, len);
        }
        if (rc > worst)
            worst = rc;
    }
    free(buf);
    acmeva_sig_key_free(key);
    return worst;
}
