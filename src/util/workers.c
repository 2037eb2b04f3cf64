#include "util/workers.h"
#include "util/error.h"
#include <pthread.h>
#include <unistd.h>

struct pool {
	size_t n;
	size_t next;  /* __atomic */
	int failed;   /* __atomic */
	int (*fn)(void *, size_t);
	void *ctx;
	int demote; /* the caller's report_demote_errors() */
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	report_demote_errors(p->demote);
	for (;;) {
		if (__atomic_load_n(&p->failed, __ATOMIC_RELAXED))
			break;
		size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		if (i >= p->n)
			break;
		if (p->fn(p->ctx, i) < 0)
			__atomic_store_n(&p->failed, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

int workers_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (int)cpus;
}

int workers_run(size_t n, int (*fn)(void *ctx, size_t i), void *ctx, int threads)
{
	struct pool p = { n, 0, 0, fn, ctx, report_demoting() };
	if (threads <= 0)
		threads = workers_count();
	if ((size_t)threads > n / 64 + 1)
		threads = (int)(n / 64 + 1);
	pthread_t tid[WORKERS_MAX];
	int started = 0;
	for (int t = 1; t < threads && t < WORKERS_MAX; t++)
		if (pthread_create(&tid[started], NULL, worker, &p) == 0)
			started++;
	worker(&p);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	return p.failed ? -1 : 0;
}
