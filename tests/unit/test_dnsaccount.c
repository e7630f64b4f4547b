/*
 * Tests of worker/dnsaccount.c: dns-account-01 labels and names, dns-01 TXT values.
 *
 * Vectors:
 * - "https://example.com/acme/acct/ExampleAccount" -> "ujmmovf2vn55tgye": the example account
 *   of draft-ietf-acme-dns-account-label (Boulder's va/dns_account_test.go uses it as "the
 *   example in the draft"; Certify The Web's dns-account-01 guide gives this label for it),
 *   recomputed with python3 as below.
 * - "https://ca.example/acme/acct/1" -> "kvh7jr2d6tnrrsci": computed independently with
 *   python3: base64.b32encode(hashlib.sha256(uri.encode()).digest()[:10]).decode().lower()
 * - dns-01: "token.thumb" -> "lCdftpJCXapaZHkBGIZbcubeKW8RmA0jSG_aZN01zbU", and "" ->
 *   "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU" (SHA-256 of nothing), both checked with
 *   python3 base64.urlsafe_b64encode(hashlib.sha256(ka).digest()).rstrip(b"=").
 */
#include <string.h>

#include "check.h"
#include "dnsaccount.h"

static int all_in(const char *s, const char *alphabet)
{
    for (; *s != '\0'; s++) {
        if (strchr(alphabet, *s) == NULL)
            return 0;
    }
    return 1;
}

static void test_label(void)
{
    char label[17];
    CHECK_INT(acmeva_dns_account_label("https://example.com/acme/acct/ExampleAccount", label), 0);
    CHECK_STR(label, "ujmmovf2vn55tgye");
    CHECK_INT(acmeva_dns_account_label("https://ca.example/acme/acct/1", label), 0);
    CHECK_STR(label, "kvh7jr2d6tnrrsci");
    CHECK_INT(strlen(label), ACMEVA_DNS_ACCOUNT_LABEL_LEN);
    CHECK(all_in(label, "abcdefghijklmnopqrstuvwxyz234567"));

    /* the URI is hashed byte for byte: a different case is a different account */
    CHECK_INT(acmeva_dns_account_label("https://example.com/acme/acct/exampleaccount", label), 0);
    CHECK(strcmp(label, "ujmmovf2vn55tgye") != 0);

    CHECK_INT(acmeva_dns_account_label(NULL, label), ACMEVA_DNSACCT_EINVAL);
    CHECK_INT(acmeva_dns_account_label("", label), ACMEVA_DNSACCT_EINVAL);
    CHECK_INT(acmeva_dns_account_label("https://x", NULL), ACMEVA_DNSACCT_EINVAL);
}

static void test_name(void)
{
    const char *acct = "https://example.com/acme/acct/ExampleAccount";
    const char *want = "_ujmmovf2vn55tgye._acme-challenge.example.org";
    char name[300];
    CHECK_INT(acmeva_dns_account_name(acct, "example.org", name, sizeof(name)), 0);
    CHECK_STR(name, want);
    /* a wildcard identifier is validated at its base name */
    CHECK_INT(acmeva_dns_account_name(acct, "*.example.org", name, sizeof(name)), 0);
    CHECK_STR(name, want);
    CHECK_INT(acmeva_dns_account_name(acct, "www.example.org", name, sizeof(name)), 0);
    CHECK_STR(name, "_ujmmovf2vn55tgye._acme-challenge.www.example.org");

    /* exactly fitting, one byte short */
    size_t need = strlen(want) + 1;
    CHECK_INT(acmeva_dns_account_name(acct, "example.org", name, need), 0);
    CHECK_STR(name, want);
    CHECK_INT(acmeva_dns_account_name(acct, "example.org", name, need - 1), ACMEVA_DNSACCT_ENOSPC);
    CHECK_STR(name, "");

    CHECK_INT(acmeva_dns_account_name(acct, "", name, sizeof(name)), ACMEVA_DNSACCT_EINVAL);
    CHECK_INT(acmeva_dns_account_name(acct, "*.", name, sizeof(name)), ACMEVA_DNSACCT_EINVAL);
    CHECK_INT(acmeva_dns_account_name(acct, NULL, name, sizeof(name)), ACMEVA_DNSACCT_EINVAL);
    CHECK_INT(acmeva_dns_account_name(NULL, "example.org", name, sizeof(name)),
              ACMEVA_DNSACCT_EINVAL);
    CHECK_STR(name, "");
    CHECK_INT(acmeva_dns_account_name(acct, "example.org", NULL, 10), ACMEVA_DNSACCT_EINVAL);
    CHECK_INT(acmeva_dns_account_name(acct, "example.org", name, 0), ACMEVA_DNSACCT_EINVAL);
}

static void test_dns01_value(void)
{
    char v[44];
    CHECK_INT(acmeva_dns01_value("token.thumb", v), 0);
    CHECK_STR(v, "lCdftpJCXapaZHkBGIZbcubeKW8RmA0jSG_aZN01zbU");
    CHECK_INT(acmeva_dns01_value("", v), 0);
    CHECK_STR(v, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    CHECK_INT(strlen(v), ACMEVA_DNS01_VALUE_LEN);
    CHECK(all_in(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"));
    CHECK_INT(acmeva_dns01_value(NULL, v), ACMEVA_DNSACCT_EINVAL);
    CHECK_INT(acmeva_dns01_value("x", NULL), ACMEVA_DNSACCT_EINVAL);
}

int main(void)
{
    test_label();
    test_name();
    test_dns01_value();
    return CHECK_DONE();
}
