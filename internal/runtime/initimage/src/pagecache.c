// The init image's other job: keep berth's binary cached in 2 MB folios
// (docs/runtime.md, "The binary's page cache"). Started by berth with
// _BERTH_PAGECACHE set and the binary open on a descriptor; it maps
// nothing of berth itself, so it can drop the binary's cached pages that no
// process maps and read them back through a MADV_HUGEPAGE mapping, which
// the kernel fills with 2 MB folios where the file system supports them.
//
// _BERTH_PAGECACHE is "wait:PID" (started detached by a short-lived berth
// process, the binary on descriptor 3: fork once more, so that berth reaps
// the first child at once, and work after PID has exited and unmapped its
// pages) or "exec:FD" (exec'd in place of a starting daemon, argv being the
// daemon's and the binary on FD: refresh, then exec berth from FD with the
// same arguments and _BERTH_PAGECACHE=done). Anything else is not ours:
// the init's work goes on. Every failure is silent: the refresh is an
// optimisation, and in the exec case berth must start regardless.
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define PMD_SIZE (2UL << 20)

// pmd_mapped returns how many bytes of the mapping at addr
// /proc/self/smaps reports as FilePmdMapped, or -1. (No stdio: it would
// make the image, which every run copies, a sixth bigger.)
static long pmd_mapped(void *addr) {
	static char buf[1 << 16];
	char want[24];
	int n = 0;
	for (unsigned long a = (unsigned long)addr; a != 0 || n == 0; a >>= 4)
		want[n++] = "0123456789abcdef"[a & 15];
	for (int i = 0; i < n / 2; i++) {
		char c = want[i];
		want[i] = want[n - 1 - i];
		want[n - 1 - i] = c;
	}
	want[n++] = '-';
	want[n] = '\0';
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (ssize_t r; len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0;)
		len += r;
	close(fd);
	buf[len] = '\0';
	char *m = buf;
	while (m != NULL && strncmp(m, want, n) != 0) {
		m = strchr(m, '\n');
		if (m != NULL)
			m++;
	}
	if (m == NULL)
		return -1;
	// The mapping's lines follow, up to the next mapping's (a line that
	// starts with a hex digit, where every key starts upper-case).
	const char key[] = "FilePmdMapped:";
	for (m = strchr(m, '\n'); m != NULL && *++m != '\0'; m = strchr(m, '\n')) {
		if ((*m >= '0' && *m <= '9') || (*m >= 'a' && *m <= 'f'))
			return -1;
		if (strncmp(m, key, sizeof key - 1) == 0)
			return strtol(m + sizeof key - 1, NULL, 10) * 1024;
	}
	return -1;
}

// populate maps the file 2 MB-aligned, marks the mapping MADV_HUGEPAGE,
// faults every page in (the kernel reads what is not cached in 2 MB
// folios), and returns whether every whole 2 MB of the file came out
// mapped in 2 MB pages.
static int populate(int fd, size_t size) {
	size_t full = size & ~(PMD_SIZE - 1);
	char *r = mmap(NULL, size + PMD_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return 0;
	char *p = (char *)(((unsigned long)r + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
	int ok = 0;
	if (mmap(p, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) != MAP_FAILED) {
		madvise(p, size, MADV_HUGEPAGE);
		madvise(p, size, MADV_POPULATE_READ);
		long pmd = pmd_mapped(p);
		ok = pmd >= 0 && (size_t)pmd >= full;
	}
	munmap(r, size + PMD_SIZE);
	return ok;
}

static void refresh(int fd) {
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)PMD_SIZE)
		return;
	// Cached in 2 MB folios already (hack/build.sh wrote it so): done,
	// nothing dropped.
	if (populate(fd, st.st_size))
		return;
	// Drops what no process maps (and is not dirty: written back first);
	// the rest stays as it is.
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	populate(fd, st.st_size);
}

static void berth_pagecache(char **argv) {
	const char *mode = getenv("_BERTH_PAGECACHE");
	if (mode == NULL)
		return;
	if (strncmp(mode, "exec:", 5) == 0) {
		prctl(PR_SET_NAME, "berth:[cache]", 0, 0, 0);
		char *end = NULL;
		long fd = strtol(mode + 5, &end, 10);
		if (*end != '\0' || fd < 0 || fd > 1 << 20)
			_exit(127);
		refresh((int)fd);
		// "exec:FD" becomes "done" in place (no setenv, which would make
		// the image bigger): the daemon finds it and carries on.
		for (char **e = environ; *e != NULL; e++)
			if (strncmp(*e, "_BERTH_PAGECACHE=exec:", 22) == 0)
				strcpy(*e + 17, "done");
		// Closed by the exec itself, as main's exec of berth does.
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		syscall(SYS_execveat, (int)fd, "", argv, environ, AT_EMPTY_PATH);
		_exit(127);
	}
	if (strncmp(mode, "wait:", 5) != 0)
		return; // "done", or not ours: the init's work as always
	prctl(PR_SET_NAME, "berth:[cache]", 0, 0, 0);
	long pid = strtol(mode + 5, NULL, 10);
	pid_t child = fork();
	if (child != 0)
		_exit(child < 0 ? 1 : 0);
	int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pfd >= 0) {
		// The process that started us exits within its command; a
		// minute is a bound, not a wait anyone should see.
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		if (poll(&p, 1, 60 * 1000) != 1)
			_exit(0);
		close(pfd);
	}
	refresh(3);
	_exit(0);
}
