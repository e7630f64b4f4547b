"""deploy/unbound/unbound.conf: Unbound accepts it, and it says what a perspective's resolver
must (DESIGN.md "DNSSEC", BR 3.2.2.9).

unbound-checkconf reads the file as Unbound would; its -o prints the value Unbound takes for
an option, so the policy is checked on what Unbound understood, not on the text. The one change
made before checking: the root trust anchor path points to a copy of dns-root-data's
root.key, because /var/lib/unbound/root.key exists only once Debian's unbound.service ran.
tests/integration/test_dnssec.py runs Unbound with this file's policy against signed zones.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
import acmevatest as t  # noqa: E402

CONF = os.path.join(t.SOURCE, "deploy", "unbound", "unbound.conf")
ROOT_KEY = "/usr/share/dns/root.key"  # Debian dns-root-data
c = t.Checks()
tmp = tempfile.mkdtemp(prefix="acmeva-unbound-conf-")


def checkconf(path, option=None):
    argv = ["unbound-checkconf"] + (["-o", option] if option else []) + [path]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.strip().splitlines(), p.stderr.strip()


def localised(src, dst):
    """A copy of |src| whose root trust anchor is a copy of dns-root-data's."""
    key = os.path.join(tmp, "root.key")
    shutil.copy(ROOT_KEY, key)
    with open(src) as f:
        text = f.read()
    with open(dst, "w") as f:
        f.write(text.replace("/var/lib/unbound/root.key", key))
    return text


try:
    conf = os.path.join(tmp, "unbound.conf")
    text = localised(CONF, conf)
    rc, out, err = checkconf(conf)
    c.eq(rc, 0, f"unbound-checkconf accepts deploy/unbound/unbound.conf ({err})")

    def value(option):
        rc, out, err = checkconf(conf, option)
        c.eq(rc, 0, f"unbound-checkconf -o {option} ({err})")
        return out

    # DNSSEC validation, with EDE texts for the dns problem details.
    c.eq(value("module-config"), ["validator iterator"], "the validator runs before the iterator")
    c.eq(value("auto-trust-anchor-file"), [os.path.join(tmp, "root.key")],
         "the root trust anchor is tracked (RFC 5011)")
    for option, want in (("val-permissive-mode", "no"), ("harden-dnssec-stripped", "yes"),
                         ("aggressive-nsec", "yes"), ("ede", "yes"), ("val-log-level", "2"),
                         ("qname-minimisation", "yes"), ("serve-expired", "no"),
                         ("use-caps-for-id", "yes"), ("do-not-query-localhost", "yes")):
        c.eq(value(option), [want], f"{option}: {want}")
    c.ok(int(value("ratelimit")[0]) > 0, "queries to one zone are rate limited")
    c.ok(int(value("cache-max-negative-ttl")[0]) <= 300,
         "a negative answer is not kept for long")
    # Only the workers of this host may ask.
    c.eq(sorted(value("interface")), ["127.0.0.1", "::1"], "it listens on loopback only")
    acl = value("access-control")
    c.ok("0.0.0.0/0 refuse" in acl and "::0/0 refuse" in acl, "everyone else is refused", acl)
    allowed = [a.split()[0] for a in acl if a.split()[1] != "refuse"]
    c.eq(sorted(allowed), ["127.0.0.0/8", "::1/128"], "only loopback is allowed")
    c.ok(value("control-interface")[0].startswith("/"), "unbound-control only on a Unix socket")
    # Its own resolution and its own cache (BR 3.2.2.9): no forwarding to a shared resolver.
    clauses = {line.strip() for line in text.splitlines() if line and not line[0].isspace()
               and not line.startswith("#")}
    c.eq(sorted(clauses), ["remote-control:", "server:"], "no forward-zone or stub-zone")

    # The checks can fail: a file Unbound would refuse is refused.
    broken = os.path.join(tmp, "broken.conf")
    with open(broken, "w") as f:
        f.write(open(conf).read().replace("ede: yes", "ede: perhaps"))
    c.ok(checkconf(broken)[0] != 0, "unbound-checkconf refuses a broken copy")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
