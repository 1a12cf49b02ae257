// See doc.go. Runs before the Go runtime; keep it minimal and async-safe.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errwords.h"

#define MAX_NS 16

struct nsdef {
	const char *name;
	int flag;
};

static const struct nsdef nsdefs[] = {
	{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID},   {"cgroup", CLONE_NEWCGROUP},
	{"mnt", CLONE_NEWNS},    {"time", 0x00000080 /* CLONE_NEWTIME */},
};

static int syncfd = 3;

// berth_writeall writes all of buf to fd (also used by fastinit.c).
void berth_writeall(int fd, const char *buf, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
}

// berth_send writes the sync message {"type":type[,"message":msg]} and a
// newline to fd (also used by fastinit.c).
void berth_send(int fd, const char *type, const char *msg) {
	static char out[16448];
	size_t j = (size_t)snprintf(out, sizeof out, "{\"type\":\"%s\"", type);
	if (msg != NULL && *msg != '\0') {
		j += (size_t)snprintf(out + j, sizeof out - j, ",\"message\":\"");
		for (const unsigned char *p = (const unsigned char *)msg; *p && j < sizeof out - 16; p++) {
			if (*p == '"' || *p == '\\') {
				out[j++] = '\\';
				out[j++] = (char)*p;
			} else if (*p < 0x20) {
				j += (size_t)snprintf(out + j, sizeof out - j, "\\u%04x", *p);
			} else {
				out[j++] = (char)*p;
			}
		}
		out[j++] = '"';
	}
	out[j++] = '}';
	out[j++] = '\n';
	berth_writeall(fd, out, j);
}

static void fail(const char *what, const char *arg, int err) {
	char msg[1024];
	// glibc's words (Go's with a capital), whatever the C library.
	const char *w = berth_errno_word(err);
	snprintf(msg, sizeof msg, "nsenter: %s %s: %c%s", what, arg, toupper((unsigned char)w[0]), w[0] ? w + 1 : "");
	berth_send(syncfd, "error", msg);
	_exit(1);
}

// berth_nsenter_fail reports what failed on the sync socket and exits (for
// the init image's main, internal/runtime/initimage).
void berth_nsenter_fail(const char *what, const char *arg, int err) { fail(what, arg, err); }

void berth_nsenter(void) {
	const char *spec = getenv("_BERTH_NS");
	if (spec == NULL || *spec == '\0')
		return;
	const char *s = getenv("_BERTH_SYNC");
	if (s != NULL)
		syncfd = atoi(s);

	char buf[8192];
	if (strlen(spec) >= sizeof buf)
		fail("parse", "_BERTH_NS", E2BIG);
	strcpy(buf, spec);

	int fds[MAX_NS], flags[MAX_NS], n = 0, joinpid = 0;
	const char *names[MAX_NS];
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		if (colon == NULL || n >= MAX_NS)
			fail("parse", tok, EINVAL);
		*colon = '\0';
		const char *path = colon + 1;
		int flag = -1;
		for (size_t i = 0; i < sizeof nsdefs / sizeof nsdefs[0]; i++)
			if (strcmp(tok, nsdefs[i].name) == 0)
				flag = nsdefs[i].flag;
		if (flag < 0)
			fail("unknown namespace type", tok, EINVAL);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail("open namespace", path, errno);
		if (flag == CLONE_NEWPID)
			joinpid = 1;
		fds[n] = fd;
		names[n] = tok;
		flags[n] = flag;
		n++;
	}
	for (int i = 0; i < n; i++) {
		if (setns(fds[i], flags[i]) < 0)
			fail("join namespace", names[i], errno);
		close(fds[i]);
	}
	if (!joinpid)
		return;
	pid_t child = fork();
	if (child < 0)
		fail("fork", "into pid namespace", errno);
	if (child == 0)
		return;
	char out[64];
	int len = snprintf(out, sizeof out, "{\"type\":\"pid\",\"pid\":%d}\n", (int)child);
	berth_writeall(syncfd, out, (size_t)len);
	_exit(0);
}
