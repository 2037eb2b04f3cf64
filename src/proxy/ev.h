#ifndef CUTOVER_PROXY_EV_H
#define CUTOVER_PROXY_EV_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A thin event loop over epoll (redis ae.c, nginx ngx_epoll_module.c).
 * Everything that owns a file descriptor embeds a struct ev_handler and
 * registers it; the loop calls handler->fn with the ready events. The
 * rest of the proxy never sees epoll.
 */
enum {
	EV_READ = 1,
	EV_WRITE = 2,
	EV_ERROR = 4, /* hang-up or error: the handler should read to find out */
};

struct ev_handler {
	void (*fn)(struct ev_handler *h, int events);
	int fd;
	int mask; /* what is registered now, so that ev_set is a no-op when nothing changes */
};

struct ev_loop {
	int epfd;
	int stop;
	int64_t now; /* ev_now_ms() when the last wait returned */
};

int ev_init(struct ev_loop *l);
void ev_release(struct ev_loop *l);
/* Register, change or drop interest (mask of EV_READ|EV_WRITE, 0 keeps the
 * fd registered with no interest). Returns 0 or -1 (reported). */
int ev_set(struct ev_loop *l, struct ev_handler *h, int mask);
/* Forget the handler; call before closing its fd. */
void ev_del(struct ev_loop *l, struct ev_handler *h);
/* Wait up to timeout_ms and dispatch what is ready. Returns the number of
 * events dispatched, or -1 on a failure other than EINTR. */
int ev_run_once(struct ev_loop *l, int timeout_ms);

/*
 * Non-blocking I/O with a distinct "would block" result (nginx NGX_AGAIN):
 * > 0 bytes moved, 0 end of file (read only), IO_AGAIN, or IO_ERROR with errno set.
 */
#define IO_AGAIN (-2)
#define IO_ERROR (-1)
ssize_t io_read(int fd, void *buf, size_t len);
ssize_t io_write(int fd, const void *buf, size_t len);

/* Monotonic milliseconds. */
int64_t ev_now_ms(void);

#endif
