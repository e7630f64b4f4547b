/*
 * acmeva-healthcheck: the container's HEALTHCHECK. The runtime image holds nothing but the
 * daemons and their libraries (no shell, no curl), so this small static program asks the
 * daemon's operations server (--metrics-listen, DESIGN.md "Operations") for a path and exits
 * 0 when the answer is "HTTP/1.x 200", 1 otherwise.
 *
 *   acmeva-healthcheck IPV4:PORT [PATH]     (PATH defaults to /healthz)
 *
 * Loopback or a literal IPv4 address only (no name resolution); 2 s for everything. It runs
 * once per probe and exits, so it may block.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 2000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd waits until |fd| is ready for |events| before |deadline|. Returns 0 or -1. */
static int wait_fd(int fd, short events, long long deadline)
{
    long long left = deadline - now_ms();
    if (left <= 0)
        return -1;
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, (int)left) == 1 ? 0 : -1;
}

static int parse_addr(const char *arg, struct sockaddr_in *sa)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(arg, ':');
    if (colon == NULL || (size_t)(colon - arg) >= sizeof(host))
        return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    const char *path = argc > 2 ? argv[2] : "/healthz";
    if (argc < 2 || argc > 3 || parse_addr(argv[1], &sa) != 0 || path[0] != '/' ||
        strlen(path) > 256 || strpbrk(path, " \r\n") != NULL) {
        fprintf(stderr, "usage: acmeva-healthcheck IPV4:PORT [/PATH]\n");
        return 2;
    }
    long long deadline = now_ms() + TIMEOUT_MS;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    int ok = 0, err = 0;
    socklen_t len = sizeof(err);
    size_t got = 0;
    char req[320], resp[16];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, argv[1]);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
        (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 0))
        goto out;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        goto out;
    for (int off = 0; off < n;) {
        if (wait_fd(fd, POLLOUT, deadline))
            goto out;
        ssize_t w = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            goto out;
        off += (int)w;
    }
    /* "HTTP/1.1 200" is all that is needed: read the first 12 bytes at most. */
    while (got < 12) {
        if (wait_fd(fd, POLLIN, deadline))
            goto out;
        ssize_t r = recv(fd, resp + got, 12 - got, 0);
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    ok = memcmp(resp, "HTTP/1.", 7) == 0 && memcmp(resp + 8, " 200", 4) == 0;
out:
    close(fd);
    return ok ? 0 : 1;
}
