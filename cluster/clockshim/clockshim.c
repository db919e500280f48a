/*
 * clockshim: an LD_PRELOAD library that moves one process's wall clock.
 *
 * Why not libfaketime: Debian's redis-server is linked with jemalloc, and
 * libfaketime deadlocks at start-up with jemalloc (libfaketime issue #130,
 * unfixed upstream: jemalloc calls clock_gettime while initialising, and
 * libfaketime's lazy initialisation allocates). This shim never allocates:
 * it resolves the real clock_gettime in a constructor and falls back to the
 * raw system call until then.
 *
 * The control file (path in LOCKBENCH_CLOCK_FILE) holds three integers:
 *   offset_ns rate_ppm anchor_ns
 * and the faked wall clock is
 *   real + offset_ns + (real - anchor_ns) * (rate_ppm - 1e6) / 1e6
 * so a rate change starts at anchor_ns instead of rescaling the past. The
 * file is re-read at most every 20 ms of real time. CLOCK_MONOTONIC and
 * friends are never touched: NTP steps the wall clock, not the monotonic one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime;
/* A copy: Redis overwrites its environment strings to set its process title. */
static char control_path[4096];
static long long offset_ns, rate_ppm = 1000000, anchor_ns;
static long long next_read_ns;

__attribute__((constructor)) static void clockshim_init(void) {
	const char *p = getenv("LOCKBENCH_CLOCK_FILE");
	if (p) {
		size_t i = 0;
		for (; p[i] && i < sizeof(control_path) - 1; i++)
			control_path[i] = p[i];
		control_path[i] = 0;
	}
	real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
}

static int raw_clock_gettime(clockid_t clk, struct timespec *ts) {
	clock_gettime_fn f = __atomic_load_n(&real_clock_gettime, __ATOMIC_ACQUIRE);
	if (f)
		return f(clk, ts);
	return (int)syscall(SYS_clock_gettime, clk, ts);
}

static long long parse_int(const char **p) {
	long long v = 0;
	int neg = 0;
	while (**p == ' ' || **p == '\n' || **p == '\t')
		(*p)++;
	if (**p == '-') {
		neg = 1;
		(*p)++;
	} else if (**p == '+') {
		(*p)++;
	}
	while (**p >= '0' && **p <= '9') {
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	return neg ? -v : v;
}

static void maybe_reload(long long mono_ns) {
	if (!control_path[0] || mono_ns < __atomic_load_n(&next_read_ns, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&next_read_ns, mono_ns + 20000000LL, __ATOMIC_RELAXED);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, control_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[128];
	long n = (long)syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	const char *p = buf;
	long long off = parse_int(&p), rate = parse_int(&p), anchor = parse_int(&p);
	if (rate <= 0)
		return;
	__atomic_store_n(&offset_ns, off, __ATOMIC_RELAXED);
	__atomic_store_n(&rate_ppm, rate, __ATOMIC_RELAXED);
	__atomic_store_n(&anchor_ns, anchor, __ATOMIC_RELAXED);
}

static long long fake_ns(long long real) {
	struct timespec m;
	if (raw_clock_gettime(CLOCK_MONOTONIC, &m) == 0)
		maybe_reload((long long)m.tv_sec * 1000000000LL + m.tv_nsec);
	long long off = __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
	long long rate = __atomic_load_n(&rate_ppm, __ATOMIC_RELAXED);
	long long anchor = __atomic_load_n(&anchor_ns, __ATOMIC_RELAXED);
	long long fast = 0;
	if (rate != 1000000 && real > anchor)
		fast = (long long)((double)(real - anchor) * (double)(rate - 1000000) / 1e6);
	return real + off + fast;
}

static int is_wall(clockid_t clk) {
	return clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE;
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
	int rc = raw_clock_gettime(clk, ts);
	if (rc != 0 || !is_wall(clk))
		return rc;
	long long ns = fake_ns((long long)ts->tv_sec * 1000000000LL + ts->tv_nsec);
	ts->tv_sec = ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
	return 0;
}

int gettimeofday(struct timeval *tv, void *tz) {
	struct timespec ts;
	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec; /* glibc declares tv nonnull */
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t time(time_t *t) {
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (time_t)-1;
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
