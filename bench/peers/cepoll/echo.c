#define _GNU_SOURCE
/* echo: a minimal single-threaded epoll echo server, the near-physical-limit
 * reference. Level-triggered; read, write back at once; write interest only
 * while output is pending (a per-connection buffer of what did not fit).
 *
 *   gcc -O2 -o echo echo.c && ./echo 127.0.0.1:7000
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	char *pending; /* bytes not yet written */
	size_t len;
};

static struct conn *conns;
static int nconns;

static void die(const char *what) { perror(what); exit(1); }

static void closeconn(int ep, int fd) {
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	free(conns[fd].pending);
	conns[fd].pending = NULL;
	conns[fd].len = 0;
	close(fd);
}

/* send writes buf, keeping what does not fit; returns -1 on error. */
static int sendall(int ep, int fd, const char *buf, size_t n) {
	struct conn *c = &conns[fd];
	if (c->len == 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w < 0)
			w = 0;
		buf += w;
		n -= (size_t)w;
		if (n == 0)
			return 0;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
		epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
	}
	c->pending = realloc(c->pending, c->len + n);
	memcpy(c->pending + c->len, buf, n);
	c->len += n;
	return 0;
}

static int flush(int ep, int fd) {
	struct conn *c = &conns[fd];
	ssize_t w = write(fd, c->pending, c->len);
	if (w < 0)
		return errno == EAGAIN ? 0 : -1;
	memmove(c->pending, c->pending + w, c->len - (size_t)w);
	c->len -= (size_t)w;
	if (c->len == 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 2 || !strchr(argv[1], ':')) {
		fprintf(stderr, "usage: echo HOST:PORT\n");
		return 2;
	}
	char host[256];
	snprintf(host, sizeof host, "%s", argv[1]);
	char *colon = strrchr(host, ':');
	*colon = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "echo: %s: not an IPv4 address\n", host);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	nconns = 1 << 16;
	conns = calloc((size_t)nconns, sizeof *conns);
	int ln = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ln < 0 || bind(ln, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ln, 4096) < 0)
		die("listen");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ln};
	epoll_ctl(ep, EPOLL_CTL_ADD, ln, &ev);
	static struct epoll_event events[512];
	static char buf[64 * 1024];
	for (;;) {
		int n = epoll_wait(ep, events, 512, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == ln) {
				for (;;) {
					int c = accept4(ln, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0)
						break;
					if (c >= nconns) {
						close(c);
						continue;
					}
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			if (events[i].events & EPOLLOUT && conns[fd].len > 0 && flush(ep, fd) < 0) {
				closeconn(ep, fd);
				continue;
			}
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = read(fd, buf, sizeof buf);
				if (r < 0 && errno == EAGAIN)
					continue;
				if (r <= 0 || sendall(ep, fd, buf, (size_t)r) < 0)
					closeconn(ep, fd);
			}
		}
	}
}
