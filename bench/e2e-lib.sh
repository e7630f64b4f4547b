# Shared by the end-to-end bench scripts (tls-e2e.sh, mpic-e2e.sh); sourced, not run.

# e2e_ports N: prints N ports that are free on 127.0.0.1 for both TCP and UDP at the moment of
# asking (the responder's DNS port takes both).
e2e_ports() {
    python3 - "$1" <<'PY'
import socket, sys
ports = []
while len(ports) < int(sys.argv[1]):
    s, u = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    try:
        u.bind(("127.0.0.1", p))
        if p not in ports:
            ports.append(p)
    except OSError:
        pass
    s.close(); u.close()
print(*ports)
PY
}

# e2e_wait_ready RESPONDER_OUT REDIS_PORT: waits (at most 5 s) until acmeva-responder printed
# its ready line to RESPONDER_OUT and redis-server answers PING on REDIS_PORT.
e2e_wait_ready() {
    for _ in $(seq 50); do
        grep -q ready "$1" 2>/dev/null && redis-cli -p "$2" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
