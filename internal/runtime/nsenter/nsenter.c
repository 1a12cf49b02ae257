// See doc.go. Runs before the Go runtime; keep it minimal and async-safe.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void writeall(const char *buf, size_t n) {
	while (n > 0) {
		ssize_t w = write(syncfd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
}

static void fail(const char *what, const char *arg, int err) {
	char msg[1024], out[2200];
	size_t j = 0;
	snprintf(msg, sizeof msg, "nsenter: %s %s: %s", what, arg, strerror(err));
	j += (size_t)snprintf(out, sizeof out, "{\"type\":\"error\",\"message\":\"");
	for (const char *p = msg; *p && j < sizeof out - 8; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			out[j++] = '\\';
			out[j++] = (char)c;
		} else if (c < 0x20) {
			out[j++] = ' ';
		} else {
			out[j++] = (char)c;
		}
	}
	j += (size_t)snprintf(out + j, sizeof out - j, "\"}\n");
	writeall(out, j);
	_exit(1);
}

// join_cgroups moves this (still single-threaded) process into each v1
// cgroup directory listed in dirs, one per line, by writing "0" to its tasks
// file: moving only the calling thread needs no global lock, unlike a write
// of a pid to cgroup.procs. It reports the outcome on the sync socket; the
// parent falls back to moving the process itself.
static void join_cgroups(const char *dirs) {
	char path[PATH_MAX], err[600] = "";
	const char *p = dirs;
	while (*p != '\0' && err[0] == '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > 0 && n + sizeof "/tasks" < sizeof path) {
			memcpy(path, p, n);
			strcpy(path + n, "/tasks");
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0", 1) != 1)
				snprintf(err, sizeof err, "join %.500s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	char out[1400];
	size_t j = (size_t)snprintf(out, sizeof out, "{\"type\":\"cgroup\"");
	if (err[0] != '\0') {
		j += (size_t)snprintf(out + j, sizeof out - j, ",\"message\":\"");
		for (const char *q = err; *q && j < sizeof out - 8; q++) {
			if (*q == '"' || *q == '\\')
				out[j++] = '\\';
			out[j++] = (*q < 0x20) ? ' ' : *q;
		}
		out[j++] = '"';
	}
	j += (size_t)snprintf(out + j, sizeof out - j, "}\n");
	writeall(out, j);
}

// wait_parent blocks until the parent sends the byte 'c' on the sync socket:
// it makes the cgroup directories while this binary is being exec'd.
// Anything else (end of file: the parent gave up) ends the process.
static void wait_parent(void) {
	char c = 0;
	ssize_t r;
	do
		r = read(syncfd, &c, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1 || c != 'c')
		_exit(1);
}

void berth_nsenter(void) {
	const char *spec = getenv("_BERTH_NS");
	const char *cg = getenv("_BERTH_CGROUP");
	const char *cgwait = getenv("_BERTH_CGROUP_WAIT");
	if ((spec == NULL || *spec == '\0') && (cg == NULL || *cg == '\0'))
		return;
	const char *s = getenv("_BERTH_SYNC");
	if (s != NULL)
		syncfd = atoi(s);
	if (cg != NULL && *cg != '\0') {
		if (cgwait != NULL && cgwait[0] == '1')
			wait_parent();
		join_cgroups(cg);
	}
	if (spec == NULL || *spec == '\0')
		return;

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
	writeall(out, (size_t)len);
	_exit(0);
}
