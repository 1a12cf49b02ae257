// The init image's program (see doc.go): a small static C program that the
// runtime execs as a container's init instead of berth itself. It joins
// the namespaces named in _BERTH_NS, runs the C init when the parent asked
// for it (_BERTH_FASTINIT) and sent a plan, and otherwise execs berth from
// the descriptor in _BERTH_EXE_FD, whose Go init then finds the namespaces
// joined, the plan header read and the config next on the sync socket.
// With _BERTH_PAGECACHE it refreshes berth's page cache instead
// (pagecache.c).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "../../nsenter/nsenter.c"
#include "../../nsenter/fastinit.c"

extern char **environ;

#include "pagecache.c"

int main(int argc, char **argv) {
	(void)argc;
	// ps and top show a process exec'd from a descriptor under the
	// descriptor's number ("32"): named as the memfd is, until the exec of
	// the container's process (or berth's Go init, which names itself).
	prctl(PR_SET_NAME, "berth:[init]", 0, 0, 0);
	berth_pagecache(argv);
	berth_nsenter();
	berth_fastinit();
	const char *s = getenv("_BERTH_EXE_FD");
	char *end = NULL;
	long fd = s != NULL ? strtol(s, &end, 10) : -1;
	if (s == NULL || *s == '\0' || *end != '\0' || fd < 3 || fd > 1 << 20)
		berth_nsenter_fail("exec", "berth: no _BERTH_EXE_FD", EINVAL);
	// Joined already: berth must not join again.
	unsetenv("_BERTH_NS");
	unsetenv("_BERTH_EXE_FD");
	// Closed by the exec itself: the Go init never sees it.
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		berth_nsenter_fail("exec", "berth", errno);
	syscall(SYS_execveat, (int)fd, "", argv, environ, AT_EMPTY_PATH);
	berth_nsenter_fail("exec", "berth", errno);
	return 1;
}
