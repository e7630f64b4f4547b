/*
 * The multi-perspective corroboration rule (see mpic.h).
 */
#include "mpic.h"

#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

static const char *const rir_names[] = {"", "ARIN", "RIPE", "APNIC", "LACNIC", "AFRINIC"};

acmeva_rir acmeva_rir_parse(const char *s)
{
    for (int i = 1; s != NULL && i <= ACMEVA_RIR_AFRINIC; i++)
        if (strcmp(s, rir_names[i]) == 0)
            return (acmeva_rir)i;
    return ACMEVA_RIR_UNKNOWN;
}

const char *acmeva_rir_name(acmeva_rir r)
{
    return (int)r >= 0 && r <= ACMEVA_RIR_AFRINIC ? rir_names[r] : "";
}

int acmeva_mpic_allowed_failures(int n)
{
    /* BR 3.2.2.9: 2-5 remote perspectives allow 1 non-corroboration, 6 or more allow 2. */
    if (n <= 1)
        return 0;
    return n <= 5 ? 1 : 2;
}

int acmeva_mpic_required(int n, int quorum_count)
{
    int required = n - acmeva_mpic_allowed_failures(n);
    return quorum_count > required ? quorum_count : required;
}

size_t acmeva_mpic_passed_rirs(int n, const acmeva_mpic_vote *votes, const acmeva_rir *rirs,
                               acmeva_rir out[5])
{
    int seen[ACMEVA_RIR_AFRINIC + 1] = {0};
    for (int i = 0; i < n; i++)
        if (votes[i] == ACMEVA_MPIC_PASS && rirs[i] != ACMEVA_RIR_UNKNOWN)
            seen[rirs[i]] = 1;
    size_t k = 0;
    for (int r = ACMEVA_RIR_ARIN; r <= ACMEVA_RIR_AFRINIC; r++)
        if (seen[r])
            out[k++] = (acmeva_rir)r;
    return k;
}

acmeva_mpic_outcome acmeva_mpic_decide(acmeva_mpic_vote primary, int n, int required,
                                       const acmeva_mpic_vote *votes, const acmeva_rir *rirs,
                                       const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    *why = NULL;
    if (primary == ACMEVA_MPIC_FAIL) {
        *why = "primary";
        return ACMEVA_MPIC_INVALID;
    }
    int pass = 0, waiting = 0;
    int rir_pass[ACMEVA_RIR_AFRINIC + 1] = {0}, rir_open[ACMEVA_RIR_AFRINIC + 1] = {0};
    for (int i = 0; i < n; i++) {
        if (votes[i] == ACMEVA_MPIC_PASS) {
            pass++;
            rir_pass[rirs[i]] = rir_open[rirs[i]] = 1;
        } else if (votes[i] == ACMEVA_MPIC_WAITING) {
            waiting++;
            rir_open[rirs[i]] = 1;
        }
    }
    int spread_now = 0, spread_max = 0;
    for (int r = ACMEVA_RIR_ARIN; r <= ACMEVA_RIR_AFRINIC; r++) {
        spread_now += rir_pass[r];
        spread_max += rir_open[r];
    }
    int rir_rule = required >= 2;
    if (pass + waiting < required) {
        *why = "quorum";
        return ACMEVA_MPIC_INVALID;
    }
    if (rir_rule && spread_max < 2) {
        *why = "rirs";
        return ACMEVA_MPIC_INVALID;
    }
    if (primary == ACMEVA_MPIC_PASS && pass >= required && (!rir_rule || spread_now >= 2))
        return ACMEVA_MPIC_VALID;
    return ACMEVA_MPIC_UNDECIDED;
}

typedef struct ranked {
    uint8_t mac[SHA256_DIGEST_LENGTH];
    int index;
} ranked;

static int rank_less(const ranked *a, const ranked *b)
{
    int c = memcmp(a->mac, b->mac, sizeof(a->mac));
    return c < 0 || (c == 0 && a->index < b->index);
}

int acmeva_mpic_select(const char *const *names, const acmeva_rir *rirs, int n, int count,
                       const uint8_t *key, size_t key_len, const char *identifier, int *out)
{
    if (n < 1 || n > ACMEVA_MPIC_MAX_REMOTES || count < 1 || count > n)
        return -1;
    ranked r[ACMEVA_MPIC_MAX_REMOTES];
    for (int i = 0; i < n; i++) {
        HMAC_CTX ctx;
        unsigned len = 0;
        HMAC_CTX_init(&ctx);
        int ok = HMAC_Init_ex(&ctx, key, key_len, EVP_sha256(), NULL) &&
                 HMAC_Update(&ctx, (const uint8_t *)identifier, strlen(identifier) + 1) &&
                 HMAC_Update(&ctx, (const uint8_t *)names[i], strlen(names[i])) &&
                 HMAC_Final(&ctx, r[i].mac, &len);
        HMAC_CTX_cleanup(&ctx);
        if (!ok)
            return -1;
        r[i].index = i;
    }
    /* Insertion sort: n is at most 32. */
    for (int i = 1; i < n; i++) {
        ranked x = r[i];
        int j = i - 1;
        while (j >= 0 && rank_less(&x, &r[j])) {
            r[j + 1] = r[j];
            j--;
        }
        r[j + 1] = x;
    }
    int one_rir = 1;
    for (int i = 1; i < count; i++)
        one_rir &= rirs[r[i].index] == rirs[r[0].index];
    if (one_rir && count >= 2) {
        for (int i = count; i < n; i++) {
            if (rirs[r[i].index] != rirs[r[0].index]) {
                r[count - 1] = r[i];
                break;
            }
        }
    }
    int chosen[ACMEVA_MPIC_MAX_REMOTES] = {0};
    for (int i = 0; i < count; i++)
        chosen[r[i].index] = 1;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (chosen[i])
            out[k++] = i;
    return 0;
}
