#include "proxy/ev.h"
#include "util/error.h"
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int ev_init(struct ev_loop *l)
{
	l->stop = 0;
	l->now = ev_now_ms();
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return error_errno("cannot create epoll instance");
	return 0;
}

void ev_release(struct ev_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static uint32_t to_epoll(int mask)
{
	return (mask & EV_READ ? EPOLLIN : 0) | (mask & EV_WRITE ? EPOLLOUT : 0);
}

int ev_set(struct ev_loop *l, struct ev_handler *h, int mask)
{
	struct epoll_event e = { .events = to_epoll(mask), .data.ptr = h };
	/* mask -1 marks "not registered"; 0 is registered with no interest */
	if (h->mask == mask)
		return 0;
	int op = h->mask < 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(l->epfd, op, h->fd, &e) < 0)
		return error_errno("cannot watch descriptor %d", h->fd);
	h->mask = mask;
	return 0;
}

void ev_del(struct ev_loop *l, struct ev_handler *h)
{
	if (h->mask >= 0 && h->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->mask = -1;
}

int ev_run_once(struct ev_loop *l, int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(l->epfd, evs, ARRAY_SIZE(evs), timeout_ms);
	l->now = ev_now_ms();
	if (n < 0)
		return errno == EINTR ? 0 : error_errno("epoll_wait failed");
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = evs[i].data.ptr;
		uint32_t e = evs[i].events;
		int mask = (e & EPOLLIN ? EV_READ : 0) | (e & EPOLLOUT ? EV_WRITE : 0) |
			   (e & (EPOLLERR | EPOLLHUP) ? EV_ERROR : 0);
		/*
		 * A handler may close another one that is later in this batch
		 * (a client closing its upstream). Closed handlers are only freed
		 * after the batch and have fn set to NULL, so they are skipped.
		 */
		if (h->fn)
			h->fn(h, mask);
	}
	return n;
}

ssize_t io_read(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_AGAIN;
		return IO_ERROR;
	}
}

ssize_t io_write(int fd, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_AGAIN;
		if (errno == ENOTSOCK) {
			n = write(fd, buf, len);
			if (n >= 0)
				return n;
			if (errno == EAGAIN)
				return IO_AGAIN;
		}
		return IO_ERROR;
	}
}

int64_t ev_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
