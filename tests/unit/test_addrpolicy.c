/*
 * Unit tests of worker/addrpolicy.c: every reserved block at its first and last address and
 * one address outside on each side (whose expected answer is the enclosing or neighbouring
 * block, or global), the mapped, compatible and NAT64 forms of IPv4 addresses, well-known
 * global addresses, the sockaddr wrapper and the text form.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "addrpolicy.h"
#include "check.h"

typedef struct vector {
    const char *block; /* the registry block the vector probes */
    const char *addr;
    const char *name; /* the most specific reserved block holding addr, NULL: global */
} vector;

/* For each block: its first and last address, and the addresses just before and after it. */
static const vector vectors[] = {
    {"0.0.0.0/8", "0.0.0.0", "\"This host on this network\""},                       /* first */
    {"0.0.0.0/8", "0.255.255.255", "\"This network\""},                              /* last */
    {"0.0.0.0/8", "1.0.0.0", NULL},                                                  /* after */
    {"0.0.0.0/32", "0.0.0.0", "\"This host on this network\""},                      /* first */
    {"0.0.0.0/32", "0.0.0.0", "\"This host on this network\""},                      /* last */
    {"0.0.0.0/32", "0.0.0.1", "\"This network\""},                                   /* after */
    {"10.0.0.0/8", "10.0.0.0", "Private-Use"},                                       /* first */
    {"10.0.0.0/8", "10.255.255.255", "Private-Use"},                                 /* last */
    {"10.0.0.0/8", "9.255.255.255", NULL},                                           /* before */
    {"10.0.0.0/8", "11.0.0.0", NULL},                                                /* after */
    {"100.64.0.0/10", "100.64.0.0", "Shared Address Space"},                         /* first */
    {"100.64.0.0/10", "100.127.255.255", "Shared Address Space"},                    /* last */
    {"100.64.0.0/10", "100.63.255.255", NULL},                                       /* before */
    {"100.64.0.0/10", "100.128.0.0", NULL},                                          /* after */
    {"127.0.0.0/8", "127.0.0.0", "Loopback"},                                        /* first */
    {"127.0.0.0/8", "127.255.255.255", "Loopback"},                                  /* last */
    {"127.0.0.0/8", "126.255.255.255", NULL},                                        /* before */
    {"127.0.0.0/8", "128.0.0.0", NULL},                                              /* after */
    {"169.254.0.0/16", "169.254.0.0", "Link Local"},                                 /* first */
    {"169.254.0.0/16", "169.254.255.255", "Link Local"},                             /* last */
    {"169.254.0.0/16", "169.253.255.255", NULL},                                     /* before */
    {"169.254.0.0/16", "169.255.0.0", NULL},                                         /* after */
    {"172.16.0.0/12", "172.16.0.0", "Private-Use"},                                  /* first */
    {"172.16.0.0/12", "172.31.255.255", "Private-Use"},                              /* last */
    {"172.16.0.0/12", "172.15.255.255", NULL},                                       /* before */
    {"172.16.0.0/12", "172.32.0.0", NULL},                                           /* after */
    {"192.0.0.0/24", "192.0.0.0", "IPv4 Service Continuity Prefix"},                 /* first */
    {"192.0.0.0/24", "192.0.0.255", "IETF Protocol Assignments"},                    /* last */
    {"192.0.0.0/24", "191.255.255.255", NULL},                                       /* before */
    {"192.0.0.0/24", "192.0.1.0", NULL},                                             /* after */
    {"192.0.0.0/29", "192.0.0.0", "IPv4 Service Continuity Prefix"},                 /* first */
    {"192.0.0.0/29", "192.0.0.7", "IPv4 Service Continuity Prefix"},                 /* last */
    {"192.0.0.0/29", "191.255.255.255", NULL},                                       /* before */
    {"192.0.0.0/29", "192.0.0.8", "IPv4 dummy address"},                             /* after */
    {"192.0.0.8/32", "192.0.0.8", "IPv4 dummy address"},                             /* first */
    {"192.0.0.8/32", "192.0.0.8", "IPv4 dummy address"},                             /* last */
    {"192.0.0.8/32", "192.0.0.7", "IPv4 Service Continuity Prefix"},                 /* before */
    {"192.0.0.8/32", "192.0.0.9", "Port Control Protocol Anycast"},                  /* after */
    {"192.0.0.9/32", "192.0.0.9", "Port Control Protocol Anycast"},                  /* first */
    {"192.0.0.9/32", "192.0.0.9", "Port Control Protocol Anycast"},                  /* last */
    {"192.0.0.9/32", "192.0.0.8", "IPv4 dummy address"},                             /* before */
    {"192.0.0.9/32", "192.0.0.10", "Traversal Using Relays around NAT Anycast"},     /* after */
    {"192.0.0.10/32", "192.0.0.10", "Traversal Using Relays around NAT Anycast"},    /* first */
    {"192.0.0.10/32", "192.0.0.10", "Traversal Using Relays around NAT Anycast"},    /* last */
    {"192.0.0.10/32", "192.0.0.9", "Port Control Protocol Anycast"},                 /* before */
    {"192.0.0.10/32", "192.0.0.11", "IETF Protocol Assignments"},                    /* after */
    {"192.0.0.170/32", "192.0.0.170", "NAT64/DNS64 Discovery"},                      /* first */
    {"192.0.0.170/32", "192.0.0.170", "NAT64/DNS64 Discovery"},                      /* last */
    {"192.0.0.170/32", "192.0.0.169", "IETF Protocol Assignments"},                  /* before */
    {"192.0.0.170/32", "192.0.0.171", "NAT64/DNS64 Discovery"},                      /* after */
    {"192.0.0.171/32", "192.0.0.171", "NAT64/DNS64 Discovery"},                      /* first */
    {"192.0.0.171/32", "192.0.0.171", "NAT64/DNS64 Discovery"},                      /* last */
    {"192.0.0.171/32", "192.0.0.170", "NAT64/DNS64 Discovery"},                      /* before */
    {"192.0.0.171/32", "192.0.0.172", "IETF Protocol Assignments"},                  /* after */
    {"192.0.2.0/24", "192.0.2.0", "Documentation (TEST-NET-1)"},                     /* first */
    {"192.0.2.0/24", "192.0.2.255", "Documentation (TEST-NET-1)"},                   /* last */
    {"192.0.2.0/24", "192.0.1.255", NULL},                                           /* before */
    {"192.0.2.0/24", "192.0.3.0", NULL},                                             /* after */
    {"192.31.196.0/24", "192.31.196.0", "AS112-v4"},                                 /* first */
    {"192.31.196.0/24", "192.31.196.255", "AS112-v4"},                               /* last */
    {"192.31.196.0/24", "192.31.195.255", NULL},                                     /* before */
    {"192.31.196.0/24", "192.31.197.0", NULL},                                       /* after */
    {"192.52.193.0/24", "192.52.193.0", "AMT"},                                      /* first */
    {"192.52.193.0/24", "192.52.193.255", "AMT"},                                    /* last */
    {"192.52.193.0/24", "192.52.192.255", NULL},                                     /* before */
    {"192.52.193.0/24", "192.52.194.0", NULL},                                       /* after */
    {"192.88.99.0/24", "192.88.99.0", "Deprecated (6to4 Relay Anycast)"},            /* first */
    {"192.88.99.0/24", "192.88.99.255", "Deprecated (6to4 Relay Anycast)"},          /* last */
    {"192.88.99.0/24", "192.88.98.255", NULL},                                       /* before */
    {"192.88.99.0/24", "192.88.100.0", NULL},                                        /* after */
    {"192.168.0.0/16", "192.168.0.0", "Private-Use"},                                /* first */
    {"192.168.0.0/16", "192.168.255.255", "Private-Use"},                            /* last */
    {"192.168.0.0/16", "192.167.255.255", NULL},                                     /* before */
    {"192.168.0.0/16", "192.169.0.0", NULL},                                         /* after */
    {"192.175.48.0/24", "192.175.48.0", "Direct Delegation AS112 Service"},          /* first */
    {"192.175.48.0/24", "192.175.48.255", "Direct Delegation AS112 Service"},        /* last */
    {"192.175.48.0/24", "192.175.47.255", NULL},                                     /* before */
    {"192.175.48.0/24", "192.175.49.0", NULL},                                       /* after */
    {"198.18.0.0/15", "198.18.0.0", "Benchmarking"},                                 /* first */
    {"198.18.0.0/15", "198.19.255.255", "Benchmarking"},                             /* last */
    {"198.18.0.0/15", "198.17.255.255", NULL},                                       /* before */
    {"198.18.0.0/15", "198.20.0.0", NULL},                                           /* after */
    {"198.51.100.0/24", "198.51.100.0", "Documentation (TEST-NET-2)"},               /* first */
    {"198.51.100.0/24", "198.51.100.255", "Documentation (TEST-NET-2)"},             /* last */
    {"198.51.100.0/24", "198.51.99.255", NULL},                                      /* before */
    {"198.51.100.0/24", "198.51.101.0", NULL},                                       /* after */
    {"203.0.113.0/24", "203.0.113.0", "Documentation (TEST-NET-3)"},                 /* first */
    {"203.0.113.0/24", "203.0.113.255", "Documentation (TEST-NET-3)"},               /* last */
    {"203.0.113.0/24", "203.0.112.255", NULL},                                       /* before */
    {"203.0.113.0/24", "203.0.114.0", NULL},                                         /* after */
    {"240.0.0.0/4", "240.0.0.0", "Reserved"},                                        /* first */
    {"240.0.0.0/4", "255.255.255.255", "Limited Broadcast"},                         /* last */
    {"240.0.0.0/4", "239.255.255.255", "Multicast Addresses"},                       /* before */
    {"255.255.255.255/32", "255.255.255.255", "Limited Broadcast"},                  /* first */
    {"255.255.255.255/32", "255.255.255.255", "Limited Broadcast"},                  /* last */
    {"255.255.255.255/32", "255.255.255.254", "Reserved"},                           /* before */
    {"224.0.0.0/4", "224.0.0.0", "Multicast Addresses"},                             /* first */
    {"224.0.0.0/4", "239.255.255.255", "Multicast Addresses"},                       /* last */
    {"224.0.0.0/4", "223.255.255.255", NULL},                                        /* before */
    {"224.0.0.0/4", "240.0.0.0", "Reserved"},                                        /* after */
    {"::1/128", "::1", "Loopback Address"},                                          /* first */
    {"::1/128", "::1", "Loopback Address"},                                          /* last */
    {"::1/128", "::", "Unspecified Address"},                                        /* before */
    {"::1/128", "::2", "IPv4-compatible Address"},                                   /* after */
    {"::/128", "::", "Unspecified Address"},                                         /* first */
    {"::/128", "::", "Unspecified Address"},                                         /* last */
    {"::/128", "::1", "Loopback Address"},                                           /* after */
    {"::ffff:0:0/96", "::ffff:0:0", "IPv4-mapped Address"},                          /* first */
    {"::ffff:0:0/96", "::ffff:ffff:ffff", "IPv4-mapped Address"},                    /* last */
    {"::ffff:0:0/96", "::fffe:ffff:ffff", NULL},                                     /* before */
    {"::ffff:0:0/96", "::1:0:0:0", NULL},                                            /* after */
    {"64:ff9b::/96", "64:ff9b::", "IPv4-IPv6 Translat."},                            /* first */
    {"64:ff9b::/96", "64:ff9b::ffff:ffff", "IPv4-IPv6 Translat."},                   /* last */
    {"64:ff9b::/96", "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                 /* before */
    {"64:ff9b::/96", "64:ff9b::1:0:0", NULL},                                        /* after */
    {"64:ff9b:1::/48", "64:ff9b:1::", "IPv4-IPv6 Translat."},                        /* first */
    {"64:ff9b:1::/48", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "IPv4-IPv6 Translat."}, /* last */
    {"64:ff9b:1::/48", "64:ff9b:0:ffff:ffff:ffff:ffff:ffff", NULL},                  /* before */
    {"64:ff9b:1::/48", "64:ff9b:2::", NULL},                                         /* after */
    {"100::/64", "100::", "Discard-Only Address Block"},                             /* first */
    {"100::/64", "100::ffff:ffff:ffff:ffff", "Discard-Only Address Block"},          /* last */
    {"100::/64", "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                     /* before */
    {"100::/64", "100:0:0:1::", "Dummy IPv6 Prefix"},                                /* after */
    {"100:0:0:1::/64", "100:0:0:1::", "Dummy IPv6 Prefix"},                          /* first */
    {"100:0:0:1::/64", "100::1:ffff:ffff:ffff:ffff", "Dummy IPv6 Prefix"},           /* last */
    {"100:0:0:1::/64", "100::ffff:ffff:ffff:ffff", "Discard-Only Address Block"},    /* before */
    {"100:0:0:1::/64", "100:0:0:2::", NULL},                                         /* after */
    {"2001::/23", "2001::", "TEREDO"},                                               /* first */
    {"2001::/23", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "IETF Protocol Assignments"}, /* last */
    {"2001::/23", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                 /* before */
    {"2001::/23", "2001:200::", NULL},                                              /* after */
    {"2001::/32", "2001::", "TEREDO"},                                              /* first */
    {"2001::/32", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "TEREDO"},                /* last */
    {"2001::/32", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                 /* before */
    {"2001::/32", "2001:1::", "IETF Protocol Assignments"},                         /* after */
    {"2001:1::1/128", "2001:1::1", "Port Control Protocol Anycast"},                /* first */
    {"2001:1::1/128", "2001:1::1", "Port Control Protocol Anycast"},                /* last */
    {"2001:1::1/128", "2001:1::", "IETF Protocol Assignments"},                     /* before */
    {"2001:1::1/128", "2001:1::2", "Traversal Using Relays around NAT Anycast"},    /* after */
    {"2001:1::2/128", "2001:1::2", "Traversal Using Relays around NAT Anycast"},    /* first */
    {"2001:1::2/128", "2001:1::2", "Traversal Using Relays around NAT Anycast"},    /* last */
    {"2001:1::2/128", "2001:1::1", "Port Control Protocol Anycast"},                /* before */
    {"2001:1::2/128", "2001:1::3", "DNS-SD Service Registration Protocol Anycast"}, /* after */
    {"2001:1::3/128", "2001:1::3", "DNS-SD Service Registration Protocol Anycast"}, /* first */
    {"2001:1::3/128", "2001:1::3", "DNS-SD Service Registration Protocol Anycast"}, /* last */
    {"2001:1::3/128", "2001:1::2", "Traversal Using Relays around NAT Anycast"},    /* before */
    {"2001:1::3/128", "2001:1::4", "IETF Protocol Assignments"},                    /* after */
    {"2001:2::/48", "2001:2::", "Benchmarking"},                                    /* first */
    {"2001:2::/48", "2001:2:0:ffff:ffff:ffff:ffff:ffff", "Benchmarking"},           /* last */
    {"2001:2::/48", "2001:1:ffff:ffff:ffff:ffff:ffff:ffff",
     "IETF Protocol Assignments"},                                  /* before */
    {"2001:2::/48", "2001:2:1::", "IETF Protocol Assignments"},     /* after */
    {"2001:3::/32", "2001:3::", "AMT"},                             /* first */
    {"2001:3::/32", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", "AMT"}, /* last */
    {"2001:3::/32", "2001:2:ffff:ffff:ffff:ffff:ffff:ffff",
     "IETF Protocol Assignments"},                                          /* before */
    {"2001:3::/32", "2001:4::", "IETF Protocol Assignments"},               /* after */
    {"2001:4:112::/48", "2001:4:112::", "AS112-v6"},                        /* first */
    {"2001:4:112::/48", "2001:4:112:ffff:ffff:ffff:ffff:ffff", "AS112-v6"}, /* last */
    {"2001:4:112::/48", "2001:4:111:ffff:ffff:ffff:ffff:ffff",
     "IETF Protocol Assignments"},                                    /* before */
    {"2001:4:112::/48", "2001:4:113::", "IETF Protocol Assignments"}, /* after */
    {"2001:10::/28", "2001:10::", "Deprecated (previously ORCHID)"},  /* first */
    {"2001:10::/28", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff",
     "Deprecated (previously ORCHID)"}, /* last */
    {"2001:10::/28", "2001:f:ffff:ffff:ffff:ffff:ffff:ffff",
     "IETF Protocol Assignments"},                                         /* before */
    {"2001:10::/28", "2001:20::", "ORCHIDv2"},                             /* after */
    {"2001:20::/28", "2001:20::", "ORCHIDv2"},                             /* first */
    {"2001:20::/28", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", "ORCHIDv2"}, /* last */
    {"2001:20::/28", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff",
     "Deprecated (previously ORCHID)"}, /* before */
    {"2001:20::/28", "2001:30::", "Drone Remote ID Protocol Entity Tags (DETs) Prefix"}, /* after */
    {"2001:30::/28", "2001:30::", "Drone Remote ID Protocol Entity Tags (DETs) Prefix"}, /* first */
    {"2001:30::/28", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff",
     "Drone Remote ID Protocol Entity Tags (DETs) Prefix"},                       /* last */
    {"2001:30::/28", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", "ORCHIDv2"},        /* before */
    {"2001:30::/28", "2001:40::", "IETF Protocol Assignments"},                   /* after */
    {"2001:db8::/32", "2001:db8::", "Documentation"},                             /* first */
    {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "Documentation"}, /* last */
    {"2001:db8::/32", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL},            /* before */
    {"2001:db8::/32", "2001:db9::", NULL},                                        /* after */
    {"2002::/16", "2002::", "6to4"},                                              /* first */
    {"2002::/16", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4"},             /* last */
    {"2002::/16", "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},               /* before */
    {"2002::/16", "2003::", NULL},                                                /* after */
    {"2620:4f:8000::/48", "2620:4f:8000::", "Direct Delegation AS112 Service"},   /* first */
    {"2620:4f:8000::/48", "2620:4f:8000:ffff:ffff:ffff:ffff:ffff",
     "Direct Delegation AS112 Service"},                                      /* last */
    {"2620:4f:8000::/48", "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff", NULL},     /* before */
    {"2620:4f:8000::/48", "2620:4f:8001::", NULL},                            /* after */
    {"3fff::/20", "3fff::", "Documentation"},                                 /* first */
    {"3fff::/20", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "Documentation"}, /* last */
    {"3fff::/20", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},           /* before */
    {"3fff::/20", "3fff:1000::", NULL},                                       /* after */
    {"5f00::/16", "5f00::", "Segment Routing (SRv6) SIDs"},                   /* first */
    {"5f00::/16", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "Segment Routing (SRv6) SIDs"},                                                /* last */
    {"5f00::/16", "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                 /* before */
    {"5f00::/16", "5f01::", NULL},                                                  /* after */
    {"fc00::/7", "fc00::", "Unique-Local"},                                         /* first */
    {"fc00::/7", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "Unique-Local"},        /* last */
    {"fc00::/7", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                  /* before */
    {"fc00::/7", "fe00::", NULL},                                                   /* after */
    {"fe80::/10", "fe80::", "Link-Local Unicast"},                                  /* first */
    {"fe80::/10", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "Link-Local Unicast"}, /* last */
    {"fe80::/10", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                 /* before */
    {"fe80::/10", "fec0::", NULL},                                                  /* after */
    {"ff00::/8", "ff00::", "Multicast Addresses"},                                  /* first */
    {"ff00::/8", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "Multicast Addresses"}, /* last */
    {"ff00::/8", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},                  /* before */
    {"::/96", "::", "Unspecified Address"},                                         /* first */
    {"::/96", "::ffff:ffff", "IPv4-compatible Address"},                            /* last */
    {"::/96", "::1:0:0", NULL},                                                     /* after */
};

static int parse(const char *text, int *family, uint8_t *addr)
{
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

static void check_addr(const char *text, const char *want_name)
{
    int family = 0;
    uint8_t addr[16];
    CHECK_MSG(parse(text, &family, addr) == 0, "cannot parse %s", text);
    if (family == 0)
        return;
    int want = want_name != NULL;
    CHECK_MSG(acmeva_addr_reserved(family, addr) == want, "%s: reserved = %d, want %d", text,
              acmeva_addr_reserved(family, addr), want);
    const char *name = acmeva_addr_reserved_name(family, addr);
    CHECK_MSG((name == NULL && want_name == NULL) ||
                  (name != NULL && want_name != NULL && strcmp(name, want_name) == 0),
              "%s: name = %s, want %s", text, name ? name : "(null)",
              want_name ? want_name : "(null)");
    const char *rfc = acmeva_addr_reserved_rfc(family, addr);
    CHECK_MSG((rfc != NULL) == want, "%s: rfc = %s", text, rfc ? rfc : "(null)");
}

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        check_addr(vectors[i].addr, vectors[i].name);
}

static void test_embedded_ipv4(void)
{
    /* IPv4-mapped (RFC 4291 §2.5.5.2): refused whatever is inside, private or public. */
    check_addr("::ffff:10.0.0.1", "IPv4-mapped Address");
    check_addr("::ffff:127.0.0.1", "IPv4-mapped Address");
    check_addr("::ffff:192.168.1.1", "IPv4-mapped Address");
    check_addr("::ffff:8.8.8.8", "IPv4-mapped Address");
    /* IPv4-compatible (deprecated, RFC 4291 §2.5.5.1). */
    check_addr("::10.0.0.1", "IPv4-compatible Address");
    check_addr("::127.0.0.1", "IPv4-compatible Address");
    check_addr("::8.8.8.8", "IPv4-compatible Address");
    /* NAT64 (RFC 6052, RFC 8215): refused for public and private IPv4 alike. */
    check_addr("64:ff9b::8.8.8.8", "IPv4-IPv6 Translat.");
    check_addr("64:ff9b::10.0.0.1", "IPv4-IPv6 Translat.");
    check_addr("64:ff9b::127.0.0.1", "IPv4-IPv6 Translat.");
    check_addr("64:ff9b:1::808:808", "IPv4-IPv6 Translat.");
    check_addr("64:ff9b:1:abcd::a00:1", "IPv4-IPv6 Translat.");
    /* 6to4 of a public and a private address, TEREDO. */
    check_addr("2002:808:808::1", "6to4");
    check_addr("2002:a00:1::1", "6to4");
    check_addr("2001:0:4136:e378:8000:63bf:3fff:fdd2", "TEREDO");
}

static void test_global(void)
{
    check_addr("8.8.8.8", NULL);
    check_addr("1.1.1.1", NULL);
    check_addr("9.9.9.9", NULL);
    check_addr("93.184.216.34", NULL);
    check_addr("2606:4700::1111", NULL);
    check_addr("2606:4700:4700::1111", NULL);
    check_addr("2001:4860:4860::8888", NULL);
    check_addr("2a00:1450:4001:80b::200e", NULL);
    check_addr("2001:200::1", NULL); /* just past 2001::/23 */
    check_addr("2620:4f:7fff::1", NULL);
}

static void test_bad_input(void)
{
    uint8_t addr[16] = {8, 8, 8, 8};
    CHECK_INT(acmeva_addr_reserved(AF_UNIX, addr), 1);
    CHECK_INT(acmeva_addr_reserved(AF_INET, NULL), 1);
    CHECK(acmeva_addr_reserved_name(AF_UNIX, addr) != NULL);
    CHECK(acmeva_addr_reserved_name(AF_INET6, NULL) != NULL);
    CHECK_INT(acmeva_addr_reserved(AF_INET, addr), 0);
}

static void test_sockaddr(void)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(80);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    CHECK_INT(acmeva_sockaddr_reserved((struct sockaddr *)&sin), 1);
    inet_pton(AF_INET, "8.8.4.4", &sin.sin_addr);
    CHECK_INT(acmeva_sockaddr_reserved((struct sockaddr *)&sin), 0);

    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
    CHECK_INT(acmeva_sockaddr_reserved((struct sockaddr *)&sin6), 1);
    inet_pton(AF_INET6, "::ffff:8.8.8.8", &sin6.sin6_addr);
    CHECK_INT(acmeva_sockaddr_reserved((struct sockaddr *)&sin6), 1);
    inet_pton(AF_INET6, "2606:4700::1111", &sin6.sin6_addr);
    CHECK_INT(acmeva_sockaddr_reserved((struct sockaddr *)&sin6), 0);

    struct sockaddr other;
    memset(&other, 0, sizeof(other));
    other.sa_family = AF_UNIX;
    CHECK_INT(acmeva_sockaddr_reserved(&other), 1);
    CHECK_INT(acmeva_sockaddr_reserved(NULL), 1);
}

static void test_format(void)
{
    char buf[64];
    uint8_t a[16];
    inet_pton(AF_INET, "192.0.2.1", a);
    CHECK_INT(acmeva_addr_format(AF_INET, a, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "192.0.2.1");
    inet_pton(AF_INET6, "2001:0db8:0000:0000:0000:0000:0000:0001", a);
    CHECK_INT(acmeva_addr_format(AF_INET6, a, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "2001:db8::1");
    inet_pton(AF_INET6, "::ffff:192.0.2.1", a);
    CHECK_INT(acmeva_addr_format(AF_INET6, a, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "::ffff:192.0.2.1");
    /* Too small: refused, empty. */
    inet_pton(AF_INET6, "2001:db8::1", a);
    CHECK_INT(acmeva_addr_format(AF_INET6, a, buf, 11), -1);
    CHECK_STR(buf, "");
    CHECK_INT(acmeva_addr_format(AF_INET6, a, buf, 12), 0);
    CHECK_STR(buf, "2001:db8::1");
    CHECK_INT(acmeva_addr_format(AF_UNIX, a, buf, sizeof(buf)), -1);
    CHECK_INT(acmeva_addr_format(AF_INET, NULL, buf, sizeof(buf)), -1);
    CHECK_INT(acmeva_addr_format(AF_INET, a, NULL, 0), -1);
}

static void test_rfc_text(void)
{
    uint8_t a[16];
    inet_pton(AF_INET, "10.1.2.3", a);
    CHECK_STR(acmeva_addr_reserved_rfc(AF_INET, a), "[RFC1918]");
    inet_pton(AF_INET, "127.0.0.1", a);
    CHECK_STR(acmeva_addr_reserved_rfc(AF_INET, a), "[RFC1122], Section 3.2.1.3");
    inet_pton(AF_INET6, "fd00::1", a);
    CHECK_STR(acmeva_addr_reserved_name(AF_INET6, a), "Unique-Local");
    inet_pton(AF_INET, "8.8.8.8", a);
    CHECK(acmeva_addr_reserved_rfc(AF_INET, a) == NULL);
}

static void test_reserved_text(void)
{
    char buf[256];
    uint8_t a[16];
    inet_pton(AF_INET, "169.254.169.254", a);
    acmeva_addr_reserved_text(AF_INET, a, buf, sizeof(buf));
    CHECK_STR(buf, "IP address is in a reserved address block: [RFC3927]: Link Local");
    inet_pton(AF_INET, "8.8.8.8", a);
    acmeva_addr_reserved_text(AF_INET, a, buf, sizeof(buf));
    CHECK_STR(buf, "");
    inet_pton(AF_INET, "10.0.0.1", a);
    acmeva_addr_reserved_text(AF_INET, a, buf, 12); /* cut to fit */
    CHECK_STR(buf, "IP address ");
}

/* ---- CIDR ------------------------------------------------------------------------------- */

static void check_cidr_ok(const char *text, int family, const char *net, unsigned bits)
{
    acmeva_cidr c;
    char err[160] = "";
    int rc = acmeva_cidr_parse(text, &c, err, sizeof(err));
    CHECK_MSG(rc == 0, "%s refused: %s", text, err);
    if (rc != 0)
        return;
    uint8_t want[16] = {0};
    CHECK(inet_pton(family, net, want) == 1);
    CHECK_MSG(c.family == family, "%s: family %d", text, c.family);
    CHECK_MSG(c.bits == bits, "%s: bits %u, want %u", text, c.bits, bits);
    CHECK_MSG(memcmp(c.addr, want, family == AF_INET ? 4 : 16) == 0, "%s: network differs", text);
}

static void check_cidr_bad(const char *text, const char *err_part)
{
    acmeva_cidr c;
    char err[160] = "";
    CHECK_MSG(acmeva_cidr_parse(text, &c, err, sizeof(err)) == -1, "%s accepted", text);
    CHECK_MSG(strstr(err, err_part) != NULL, "%s: error \"%s\" lacks \"%s\"", text, err, err_part);
}

static void test_cidr_parse(void)
{
    check_cidr_ok("127.0.0.1/32", AF_INET, "127.0.0.1", 32);
    check_cidr_ok("127.0.0.0/8", AF_INET, "127.0.0.0", 8);
    check_cidr_ok("10.0.0.0/8", AF_INET, "10.0.0.0", 8);
    check_cidr_ok("100.64.0.0/10", AF_INET, "100.64.0.0", 10);
    check_cidr_ok("0.0.0.0/0", AF_INET, "0.0.0.0", 0);
    check_cidr_ok("255.255.255.255/32", AF_INET, "255.255.255.255", 32);
    check_cidr_ok("::1/128", AF_INET6, "::1", 128);
    check_cidr_ok("::/0", AF_INET6, "::", 0);
    check_cidr_ok("fc00::/7", AF_INET6, "fc00::", 7);
    check_cidr_ok("FE80::/10", AF_INET6, "fe80::", 10); /* hex digits in either case */
    check_cidr_ok("64:ff9b::/96", AF_INET6, "64:ff9b::", 96);
    check_cidr_ok("::ffff:127.0.0.0/104", AF_INET6, "::ffff:127.0.0.0", 104);
    check_cidr_ok("2001:db8:0:0:0:0:0:0/32", AF_INET6, "2001:db8::", 32);
    check_cidr_ok("0000:0000:0000:0000:0000:ffff:7f00:0009/128", AF_INET6, "::ffff:127.0.0.9", 128);

    /* A prefix is required: a bare address never implies a range. */
    check_cidr_bad("127.0.0.1", "not ADDRESS/PREFIX");
    check_cidr_bad("::1", "not ADDRESS/PREFIX");
    check_cidr_bad("", "not ADDRESS/PREFIX");
    /* Bad prefixes. */
    check_cidr_bad("127.0.0.1/", "prefix");
    check_cidr_bad("127.0.0.1/33", "longer than 32");
    check_cidr_bad("::1/129", "longer than 128");
    check_cidr_bad("10.0.0.0/08", "prefix"); /* leading zero */
    check_cidr_bad("10.0.0.0/008", "prefix");
    check_cidr_bad("10.0.0.0/+8", "prefix");
    check_cidr_bad("10.0.0.0/-8", "prefix");
    check_cidr_bad("10.0.0.0/ 8", "prefix");
    check_cidr_bad("10.0.0.0/8 ", "prefix");
    check_cidr_bad("10.0.0.0/8/8", "prefix");
    check_cidr_bad("10.0.0.0/0x8", "prefix");
    check_cidr_bad("10.0.0.0/1000", "prefix");
    check_cidr_bad("10.0.0.0/99999999999999999999", "prefix");
    check_cidr_bad("::/1280", "prefix");
    /* Bad addresses. */
    check_cidr_bad("127.1/32", "not an IPv4 or IPv6 address");
    check_cidr_bad("127.0.0.01/32", "not an IPv4 or IPv6 address"); /* leading zero octet */
    check_cidr_bad("010.0.0.0/8", "not an IPv4 or IPv6 address");
    check_cidr_bad("256.0.0.0/8", "not an IPv4 or IPv6 address");
    check_cidr_bad(" 10.0.0.0/8", "not an IPv4 or IPv6 address");
    check_cidr_bad("[::1]/128", "not an IPv4 or IPv6 address");
    check_cidr_bad("fe80::1%lo/128", "not an IPv4 or IPv6 address");
    check_cidr_bad("1:2:3:4:5:6:7:8:9/128", "not an IPv4 or IPv6 address");
    check_cidr_bad("localhost/32", "not an IPv4 or IPv6 address");
    check_cidr_bad("/8", "not an IPv4 or IPv6 address");
    /* Host bits set: refused, naming the network the operator may have meant. */
    check_cidr_bad("10.1.2.3/8", "host bits set: the network is 10.0.0.0/8");
    check_cidr_bad("127.0.0.1/8", "the network is 127.0.0.0/8");
    check_cidr_bad("127.0.0.1/31", "the network is 127.0.0.0/31");
    check_cidr_bad("0.0.0.1/0", "the network is 0.0.0.0/0");
    check_cidr_bad("fc00::1/7", "the network is fc00::/7");
    check_cidr_bad("fd00::/7", "the network is fc00::/7");
    check_cidr_bad("::ffff:1.2.3.4/96", "the network is ::ffff:0.0.0.0/96");
    check_cidr_bad("::1/127", "the network is ::/127");
    /* Longer than any address: refused without being read past the cap. */
    char longtext[300];
    memset(longtext, '1', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    check_cidr_bad(longtext, "not ADDRESS/PREFIX");
    acmeva_cidr c;
    CHECK_INT(acmeva_cidr_parse(NULL, &c, NULL, 0), -1);
}

/* ---- the policy ------------------------------------------------------------------------- */

static void policy_from(acmeva_addr_policy *p, int allow_private, const char *const *cidrs,
                        size_t n)
{
    acmeva_engine_config cfg;
    char err[200] = "";
    memset(&cfg, 0, sizeof(cfg));
    cfg.allow_private = allow_private;
    for (size_t i = 0; i < n; i++)
        cfg.allow_addresses[i] = (char *)cidrs[i];
    cfg.n_allow_addresses = n;
    CHECK_MSG(acmeva_addr_policy_init(p, &cfg, err, sizeof(err)) == 0, "policy: %s", err);
}

static int permits(const acmeva_addr_policy *p, const char *text)
{
    int family = 0;
    uint8_t addr[16];
    if (parse(text, &family, addr) != 0)
        return -1;
    return acmeva_addr_policy_permits(p, family, addr);
}

/* acmeva_addr_policy_permits_sockaddr of the address |text| in a sockaddr_in or _in6. */
static int permits_sockaddr(const acmeva_addr_policy *p, const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1)
        sin6->sin6_family = AF_INET6;
    else
        return -1;
    return acmeva_addr_policy_permits_sockaddr(p, (struct sockaddr *)&ss);
}

static void test_policy(void)
{
    acmeva_addr_policy p;
    /* No exception: every reserved address refused, global ones permitted. */
    policy_from(&p, 0, NULL, 0);
    CHECK_INT(acmeva_addr_policy_refuses_all_reserved(&p), 1);
    CHECK_INT(permits(&p, "127.0.0.1"), 0);
    CHECK_INT(permits(&p, "::1"), 0);
    CHECK_INT(permits(&p, "10.0.0.1"), 0);
    CHECK_INT(permits(&p, "8.8.8.8"), 1);
    CHECK_INT(permits(&p, "2606:4700::1111"), 1);

    /* Exactly the test fixtures' addresses. */
    static const char *const fixtures[] = {"127.0.0.1/32", "::1/128"};
    policy_from(&p, 0, fixtures, 2);
    CHECK_INT(acmeva_addr_policy_refuses_all_reserved(&p), 0);
    CHECK_INT(permits(&p, "127.0.0.1"), 1);
    CHECK_INT(permits(&p, "::1"), 1);
    CHECK_INT(permits(&p, "127.0.0.9"), 0);
    CHECK_INT(permits(&p, "127.0.0.0"), 0);
    CHECK_INT(permits(&p, "::2"), 0);
    CHECK_INT(permits(&p, "0.0.0.0"), 0); /* connects to this host on Linux */
    CHECK_INT(permits(&p, "::"), 0);
    /* The IPv6 forms of an allowed IPv4 address stay refused: mapped (Boulder refuses every
     * mapped address), compatible, NAT64. */
    CHECK_INT(permits(&p, "::ffff:127.0.0.1"), 0);
    CHECK_INT(permits(&p, "::127.0.0.1"), 0);
    CHECK_INT(permits(&p, "64:ff9b::127.0.0.1"), 0);
    CHECK_INT(permits(&p, "64:ff9b:1::7f00:1"), 0);
    CHECK_INT(permits(&p, "8.8.8.8"), 1);
    CHECK_INT(permits(&p, "::ffff:8.8.8.8"), 0);

    /* A wider IPv4 range: still nothing of IPv6, nothing outside it. */
    static const char *const loop8[] = {"127.0.0.0/8"};
    policy_from(&p, 0, loop8, 1);
    CHECK_INT(permits(&p, "127.255.255.255"), 1);
    CHECK_INT(permits(&p, "127.0.0.9"), 1);
    CHECK_INT(permits(&p, "::ffff:127.0.0.9"), 0);
    CHECK_INT(permits(&p, "::1"), 0);
    CHECK_INT(permits(&p, "10.0.0.1"), 0);
    CHECK_INT(permits(&p, "169.254.169.254"), 0);

    /* NAT64 only when an IPv6 range covers it; a mapped form likewise. */
    static const char *const nat64[] = {"64:ff9b::/96", "::ffff:10.0.0.0/104"};
    policy_from(&p, 0, nat64, 2);
    CHECK_INT(permits(&p, "64:ff9b::a00:1"), 1);
    CHECK_INT(permits(&p, "64:ff9b:1::a00:1"), 0); /* the RFC 8215 block is another range */
    CHECK_INT(permits(&p, "::ffff:10.0.0.1"), 1);
    CHECK_INT(permits(&p, "::ffff:11.0.0.1"), 0);
    CHECK_INT(permits(&p, "10.0.0.1"), 0); /* the IPv4 address itself is not covered */

    /* --allow-private-addresses: every reserved range, as before. */
    policy_from(&p, 1, NULL, 0);
    CHECK_INT(acmeva_addr_policy_refuses_all_reserved(&p), 0);
    CHECK_INT(permits(&p, "10.0.0.1"), 1);
    CHECK_INT(permits(&p, "::ffff:10.0.0.1"), 1);
    CHECK_INT(permits(&p, "fc00::1"), 1);
    uint8_t a[16] = {0};
    CHECK_INT(acmeva_addr_policy_permits(&p, AF_UNIX, a), 0); /* never an unknown family */
    CHECK_INT(acmeva_addr_policy_permits(&p, AF_INET, NULL), 0);

    /* The sockaddr form. */
    policy_from(&p, 0, fixtures, 2);
    CHECK_INT(permits_sockaddr(&p, "127.0.0.1"), 1);
    CHECK_INT(permits_sockaddr(&p, "127.0.0.2"), 0);
    CHECK_INT(permits_sockaddr(&p, "::1"), 1);
    CHECK_INT(permits_sockaddr(&p, "::ffff:127.0.0.1"), 0);
    struct sockaddr other;
    memset(&other, 0, sizeof(other));
    other.sa_family = AF_UNIX;
    CHECK_INT(acmeva_addr_policy_permits_sockaddr(&p, &other), 0);
    CHECK_INT(acmeva_addr_policy_permits_sockaddr(&p, NULL), 0);

    /* A bad CIDR in a config built by hand is refused when the policy is built. */
    acmeva_engine_config cfg;
    char err[200] = "";
    memset(&cfg, 0, sizeof(cfg));
    cfg.allow_addresses[0] = (char *)"10.0.0.1/8";
    cfg.n_allow_addresses = 1;
    CHECK_INT(acmeva_addr_policy_init(&p, &cfg, err, sizeof(err)), -1);
    CHECK_MSG(strstr(err, "--allow-address") != NULL, "%s", err);
    cfg.n_allow_addresses = ACMEVA_MAX_ALLOW_ADDRESSES + 1;
    CHECK_INT(acmeva_addr_policy_init(&p, &cfg, err, sizeof(err)), -1);
}

int main(void)
{
    test_vectors();
    test_embedded_ipv4();
    test_global();
    test_bad_input();
    test_sockaddr();
    test_format();
    test_rfc_text();
    test_reserved_text();
    test_cidr_parse();
    test_policy();
    return CHECK_DONE();
}
