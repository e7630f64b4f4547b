/*
 * Signed results (DESIGN.md "Channel: TLS to Redis, least privilege, signed results";
 * docs/signed-results.md is the format for verifiers outside this code).
 *
 * A worker with a signing key adds to each result entry a field "sig": the Ed25519 signature
 * (RFC 8032, pure Ed25519, no pre-hash) over the exact bytes of the entry's field "result",
 * written in base64url without padding (RFC 4648 §5): 86 characters. Whoever can write to a
 * results stream can forge a result; only the holder of the key can sign one.
 */
#ifndef ACMEVA_RESULTSIG_H
#define ACMEVA_RESULTSIG_H

#include <stddef.h>

#define ACMEVA_SIG_LEN 86       /* base64url, unpadded, of a 64-byte Ed25519 signature */
#define ACMEVA_SIG_KEYID_LEN 43 /* base64url, unpadded, of a 32-byte Ed25519 public key */

/*
 * acmeva_sig_key_read reads an Ed25519 key from the PEM file |path|: with |want_private| a
 * PKCS#8 private key ("BEGIN PRIVATE KEY", as `openssl genpkey -algorithm ed25519` writes it),
 * else a public key ("BEGIN PUBLIC KEY", `openssl pkey -pubout`). Returns the key (an
 * EVP_PKEY *, owned: acmeva_sig_key_free), or NULL with a sentence in |err| that names the file
 * and never quotes its contents.
 */
void *acmeva_sig_key_read(const char *path, int want_private, char *err, size_t errlen);

/* acmeva_sig_key_free releases a key of acmeva_sig_key_read. NULL is a no-op. */
void acmeva_sig_key_free(void *key);

/* acmeva_sig_key_id writes the public key of |key| (either kind) as base64url, 43 characters
 * and a NUL: a name for the key in logs that gives nothing secret away. Returns 0 or -1. */
int acmeva_sig_key_id(const void *key, char out[ACMEVA_SIG_KEYID_LEN + 1]);

/* acmeva_sig_sign signs the |len| bytes of |msg| with the private |key| and writes the
 * signature as 86 base64url characters and a NUL. Returns 0 or -1. */
int acmeva_sig_sign(const void *key, const char *msg, size_t len, char out[ACMEVA_SIG_LEN + 1]);

/*
 * acmeva_sig_verify returns 1 when |sig| (|siglen| bytes) is the canonical base64url of an
 * Ed25519 signature of the |len| bytes of |msg| by |key| (public or private), else 0: a
 * malformed signature is a bad one.
 */
int acmeva_sig_verify(const void *key, const char *msg, size_t len, const char *sig, size_t siglen);

#endif
