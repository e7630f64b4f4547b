/*
 * Signed results (see resultsig.h).
 */
#include "resultsig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define SIG_BYTES 64
#define PUB_BYTES 32

/* no_passphrase refuses to prompt for a passphrase: a daemon has no terminal, and the key
 * file is protected by its permissions. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    return 0;
}

/* b64url writes |n| bytes of |in| as unpadded base64url into |out| (4 * ceil(n / 3) + 1 bytes
 * of room) and returns its length. */
static size_t b64url(const uint8_t *in, size_t n, char *out)
{
    size_t len = EVP_EncodeBlock((uint8_t *)out, in, n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return len;
}

static EVP_PKEY *read_pem(FILE *f, int want_private)
{
    rewind(f);
    return want_private ? PEM_read_PrivateKey(f, NULL, no_passphrase, NULL)
                        : PEM_read_PUBKEY(f, NULL, no_passphrase, NULL);
}

void *acmeva_sig_key_read(const char *path, int want_private, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = read_pem(f, want_private);
    if (k == NULL) {
        /* Say which kind of key it is when it is the other one. */
        EVP_PKEY *other = read_pem(f, !want_private);
        if (other != NULL)
            snprintf(err, errlen,
                     want_private ? "%s holds a public key; the private key is needed"
                                  : "%s holds a private key; give its public key (openssl pkey "
                                    "-in KEY -pubout)",
                     path);
        else
            snprintf(err, errlen,
                     "%s: no PEM %s key could be read from it (an encrypted key is "
                     "not supported)",
                     path, want_private ? "PKCS#8 private" : "public");
        EVP_PKEY_free(other);
    } else if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        snprintf(err, errlen, "%s: not an Ed25519 key (openssl genpkey -algorithm ed25519)", path);
        EVP_PKEY_free(k);
        k = NULL;
    }
    fclose(f);
    ERR_clear_error();
    return k;
}

void acmeva_sig_key_free(void *key)
{
    EVP_PKEY_free(key);
}

int acmeva_sig_key_id(const void *key, char out[ACMEVA_SIG_KEYID_LEN + 1])
{
    uint8_t pub[PUB_BYTES];
    size_t n = sizeof(pub);
    char buf[4 * ((PUB_BYTES + 2) / 3) + 1];
    if (EVP_PKEY_get_raw_public_key(key, pub, &n) != 1 || n != PUB_BYTES)
        return -1;
    b64url(pub, n, buf);
    memcpy(out, buf, ACMEVA_SIG_KEYID_LEN + 1);
    return 0;
}

int acmeva_sig_sign(const void *key, const char *msg, size_t len, char out[ACMEVA_SIG_LEN + 1])
{
    uint8_t sig[SIG_BYTES];
    size_t n = sizeof(sig);
    char buf[4 * ((SIG_BYTES + 2) / 3) + 1];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* RFC 8032 §5.1.6: pure Ed25519 takes the whole message; no digest is named. */
    int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, (EVP_PKEY *)key) == 1 &&
             EVP_DigestSign(ctx, sig, &n, (const uint8_t *)msg, len) == 1 && n == SIG_BYTES;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return -1;
    }
    b64url(sig, n, buf);
    memcpy(out, buf, ACMEVA_SIG_LEN + 1);
    return 0;
}

int acmeva_sig_verify(const void *key, const char *msg, size_t len, const char *sig, size_t siglen)
{
    if (sig == NULL || siglen != ACMEVA_SIG_LEN)
        return 0;
    /* Back to standard base64 with its padding, then decode. */
    char std[ACMEVA_SIG_LEN + 3];
    for (size_t i = 0; i < siglen; i++) {
        char c = sig[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    memcpy(std + siglen, "==", 2);
    uint8_t raw[SIG_BYTES + 3];
    size_t n = 0;
    if (EVP_DecodeBase64(raw, &n, sizeof(raw), (const uint8_t *)std, siglen + 2) != 1 ||
        n != SIG_BYTES) {
        ERR_clear_error();
        return 0;
    }
    /* Only the canonical spelling counts: the bits the last character carries past the 64
     * bytes must be zero, so that one signature has one text. */
    char again[4 * ((SIG_BYTES + 2) / 3) + 1];
    b64url(raw, n, again);
    if (memcmp(again, sig, ACMEVA_SIG_LEN) != 0)
        return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, (EVP_PKEY *)key) == 1 &&
             EVP_DigestVerify(ctx, raw, n, (const uint8_t *)msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}
