// The container's init in C, for the specs it covers: what the Go init
// (internal/runtime, init_linux.go) does, without starting a Go runtime.
// See fastinit.go and internal/runtime/fastinit_linux.go, which encodes the
// plan this reads. Runs from a constructor, before the Go runtime, in a
// single-threaded process; it never returns once a plan arrived: it execs
// the container's process or reports its error and exits.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

#include "errwords.h"

// Messages are cut to their buffers on purpose.
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define PLAN_MAGIC 0x31494642u /* "BFI1" little-endian */
#define PLAN_MAX (64u << 20)

#ifndef MOUNT_ATTR_RDONLY
struct mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#define ST_NOSYMFOLLOW_ 0x2000
#define RAMFS_MAGIC_ 0x858458f6

enum { CREATE_NONE, CREATE_DIR, CREATE_FILE };
enum { M_BIND = 1, M_FS, M_CG1, M_CG2BIND };

static int fi_sync = 3;
static const char *fi_ctx; // prefix of every error message, or NULL
static char fi_err[8192];

// berth_writeall and berth_send are in nsenter.c.
extern void berth_writeall(int fd, const char *buf, size_t n);
extern void berth_send(int fd, const char *type, const char *msg);

// fi_send writes {"type":type[,"message":msg]} and a newline to the sync socket.
static void fi_send(const char *type, const char *msg) { berth_send(fi_sync, type, msg); }

__attribute__((noreturn)) static void fi_die(void) {
	fi_send("error", fi_err);
	_exit(1);
}

// FAIL reports a formatted error (after the context) and exits.
#define FAIL(...)                                                                             \
	do {                                                                                  \
		size_t n_ = 0;                                                                \
		if (fi_ctx != NULL)                                                           \
			n_ = (size_t)snprintf(fi_err, sizeof fi_err, "%s: ", fi_ctx);         \
		snprintf(fi_err + n_, sizeof fi_err - n_, __VA_ARGS__);                      \
		fi_die();                                                                     \
	} while (0)

// estr is what Go's syscall.Errno says of e.
static const char *estr(int e) { return berth_errno_word(e); }

// The plan: little-endian u32/u64 and strings (u32 length, bytes, NUL).
struct rd {
	unsigned char *p, *end;
};

__attribute__((noreturn)) static void badplan(void) {
	fi_ctx = NULL;
	FAIL("init: malformed plan from the parent");
}

static uint32_t r32(struct rd *r) {
	uint32_t v;
	if (r->end - r->p < 4)
		badplan();
	memcpy(&v, r->p, 4);
	r->p += 4;
	return v;
}

static uint64_t r64(struct rd *r) {
	uint64_t v;
	if (r->end - r->p < 8)
		badplan();
	memcpy(&v, r->p, 8);
	r->p += 8;
	return v;
}

static char *rstr(struct rd *r) {
	uint32_t n = r32(r);
	if ((size_t)(r->end - r->p) < (size_t)n + 1 || r->p[n] != '\0')
		badplan();
	char *s = (char *)r->p;
	r->p += n + 1;
	return s;
}

static void readfull(int fd, void *buf, size_t n) {
	unsigned char *b = buf;
	while (n > 0) {
		ssize_t got = read(fd, b, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			_exit(1); // the parent is gone: nobody to report to
		b += got;
		n -= (size_t)got;
	}
}

// expect_continue reads one message from the parent and exits unless it is
// {"type":"continue"}, as the parent writes it. It reads no further than
// that message's length (another may follow it), in one read as a rule.
static void expect_continue(void) {
	static const char want[] = "{\"type\":\"continue\"}\n";
	char got[sizeof want - 1];
	size_t n = 0;
	while (n < sizeof got) {
		ssize_t r = read(fi_sync, got + n, sizeof got - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(1);
		n += (size_t)r;
		if (n < sizeof got && memchr(got, '\n', n) != NULL)
			_exit(1); // a shorter message: not ours
	}
	if (memcmp(got, want, sizeof got) != 0)
		_exit(1);
}

static char fdpathbuf[4][64];
static int fdpathk;
static int procfd_ok = 1; // after pivot_root: is /proc/self/fd there?

// target names the file behind fd for mount(2): /proc/self/fd/N, or the
// cleaned path p when the container has no /proc (after pivot_root).
static const char *target(int fd, const char *p) {
	if (!procfd_ok)
		return p;
	char *b = fdpathbuf[fdpathk++ % 4];
	snprintf(b, sizeof fdpathbuf[0], "/proc/self/fd/%d", fd);
	return b;
}

// walk_in_root resolves p under rootfd one component at a time, never
// letting the kernel follow a symlink, creating what is missing as asked
// (rootfs_resolve_linux.go's walkInRoot).
static int walk_in_root(int rootfd, const char *p, int create) {
	int stack[256], depth = 0, links = 0;
	char rem[8192], tmp[8192];
	stack[depth++] = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (stack[0] < 0)
		return -1;
	if (snprintf(rem, sizeof rem, "%s", p) >= (int)sizeof rem) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	for (;;) {
		char *s = rem;
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		char *slash = strchr(s, '/');
		char part[4096];
		size_t plen = slash ? (size_t)(slash - s) : strlen(s);
		if (plen >= sizeof part) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(part, s, plen);
		part[plen] = '\0';
		memmove(rem, s + plen, strlen(s + plen) + 1);
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			if (depth > 1)
				close(stack[--depth]);
			continue;
		}
		// last: nothing but slashes and "." remain
		int last = 1;
		for (char *q = rem; *q;) {
			while (*q == '/')
				q++;
			if (*q == '\0')
				break;
			if (q[0] == '.' && (q[1] == '/' || q[1] == '\0')) {
				q++;
				continue;
			}
			last = 0;
			break;
		}
		int cur = stack[depth - 1];
		int next = openat(cur, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create != CREATE_NONE) {
			if (create == CREATE_FILE && last) {
				int f = openat(cur, part, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0644);
				if (f >= 0)
					close(f);
				else if (errno != EEXIST)
					goto fail;
			} else if (mkdirat(cur, part, 0755) < 0 && errno != EEXIST) {
				goto fail;
			}
			next = openat(cur, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0)
			goto fail;
		struct stat st;
		if (fstat(next, &st) < 0) {
			close(next);
			goto fail;
		}
		if (S_ISLNK(st.st_mode)) {
			char link[4096];
			ssize_t n = readlinkat(next, "", link, sizeof link - 1);
			close(next);
			if (n < 0)
				goto fail;
			link[n] = '\0';
			if (++links > 40) {
				errno = ELOOP;
				goto fail;
			}
			if (link[0] == '/') {
				while (depth > 1)
					close(stack[--depth]);
			}
			if (snprintf(tmp, sizeof tmp, "%s/%s", link, rem) >= (int)sizeof tmp) {
				errno = ENAMETOOLONG;
				goto fail;
			}
			memcpy(rem, tmp, strlen(tmp) + 1);
		} else if (S_ISDIR(st.st_mode) || last) {
			if (depth == (int)(sizeof stack / sizeof stack[0])) {
				close(next);
				errno = ENAMETOOLONG;
				goto fail;
			}
			stack[depth++] = next;
		} else {
			close(next);
			errno = ENOTDIR;
			goto fail;
		}
	}
	{
		int fd = stack[depth - 1];
		for (int i = 0; i < depth - 1; i++)
			close(stack[i]);
		return fd;
	}
fail: {
	int e = errno;
	while (depth > 0)
		close(stack[--depth]);
	errno = e;
	return -1;
}
}

// in_root opens p resolved inside rootfd (openat2 RESOLVE_IN_ROOT), creating
// what is missing as asked; an O_PATH descriptor, or -1 with the error
// reported as "resolve P in root ROOT: openat2 P: ERR".
static int in_root(int rootfd, const char *rootname, const char *p, int create) {
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	const char *rel = p;
	while (*rel == '/')
		rel++;
	if (*rel == '\0')
		rel = ".";
	int fd = -1;
	for (int i = 0; i < 16; i++) {
		fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
			break;
	}
	if (fd >= 0)
		return fd;
	const char *op = "openat2";
	if (errno == ENOENT && create != CREATE_NONE) {
		fd = walk_in_root(rootfd, p, create);
		if (fd >= 0)
			return fd;
		op = "open";
	}
	int e = errno; // the callers test it (missing paths)
	snprintf(fi_err, sizeof fi_err, "resolve %s in root %s: %s %s: %s", p, rootname, op, p, estr(e));
	errno = e;
	return -1;
}

// FAILR reports the error in_root left in fi_err, after a prefix.
#define FAILR(...)                                                \
	do {                                                      \
		char m_[sizeof fi_err];                           \
		snprintf(m_, sizeof m_, "%s", fi_err);            \
		char p_[2048];                                    \
		snprintf(p_, sizeof p_, __VA_ARGS__);             \
		FAIL("%s%s%s", p_, p_[0] ? ": " : "", m_);        \
	} while (0)

static int open_root(const char *dir) {
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		FAIL("open root %s: %s", dir, estr(errno));
	return fd;
}

static unsigned long statfs_flags(unsigned long f) {
	unsigned long ms = 0;
	if (f & ST_RDONLY)
		ms |= MS_RDONLY;
	if (f & ST_NOSUID)
		ms |= MS_NOSUID;
	if (f & ST_NODEV)
		ms |= MS_NODEV;
	if (f & ST_NOEXEC)
		ms |= MS_NOEXEC;
	if (f & ST_NOATIME)
		ms |= MS_NOATIME;
	if (f & ST_NODIRATIME)
		ms |= MS_NODIRATIME;
	if (f & ST_RELATIME)
		ms |= MS_RELATIME;
	if (f & ST_NOSYMFOLLOW_)
		ms |= MS_NOSYMFOLLOW;
	return ms;
}

#define ATIME_FLAGS (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)

// remount_bind sets flags on the bind mount at t, keeping those the mount
// has unless cleared (remountBind).
static int remount_bind(const char *t, unsigned long flags, unsigned long cleared, int atime) {
	struct statfs st;
	if (statfs(t, &st) < 0) {
		snprintf(fi_err, sizeof fi_err, "statfs bind mount: %s", estr(errno));
		return -1;
	}
	unsigned long keep = statfs_flags((unsigned long)st.f_flags) & ~cleared;
	if (atime)
		keep &= ~(unsigned long)ATIME_FLAGS;
	flags = (flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT)) | keep;
	if (mount("", t, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0) {
		snprintf(fi_err, sizeof fi_err, "remount bind mount with flags %#lx: %s", flags, estr(errno));
		return -1;
	}
	return 0;
}

static int needs_remount(unsigned long flags, unsigned long cleared) {
	return (flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT)) != 0 || cleared != 0;
}

// The process's own cgroups, from /proc/self/cgroup: sorted controller
// list -> path.
#define MAX_CG 32
static char cg_keys[MAX_CG][256], cg_paths[MAX_CG][4096];
static int cg_n = -1;

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void sort_list(char *list) {
	char *parts[64], copy[256];
	int n = 0;
	snprintf(copy, sizeof copy, "%s", list);
	for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
		parts[n++] = t;
	qsort(parts, (size_t)n, sizeof parts[0], cmpstr);
	char out[256];
	size_t j = 0;
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		j += (size_t)snprintf(out + j, sizeof out - j, "%s%s", i ? "," : "", parts[i]);
	snprintf(list, 256, "%s", out);
}

static const char *own_cgroup(const char *key) {
	if (cg_n < 0) {
		cg_n = 0;
		FILE *f = fopen("/proc/self/cgroup", "re");
		if (f == NULL)
			FAIL("read own cgroups: open /proc/self/cgroup: %s", estr(errno));
		char line[4500];
		while (fgets(line, sizeof line, f) && cg_n < MAX_CG) {
			line[strcspn(line, "\n")] = '\0';
			char *c1 = strchr(line, ':');
			char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c2 == NULL)
				continue;
			*c2 = '\0';
			snprintf(cg_keys[cg_n], sizeof cg_keys[0], "%s", c1 + 1);
			sort_list(cg_keys[cg_n]);
			snprintf(cg_paths[cg_n], sizeof cg_paths[0], "%s", c2 + 1);
			cg_n++;
		}
		fclose(f);
	}
	for (int i = 0; i < cg_n; i++)
		if (strcmp(cg_keys[i], key) == 0)
			return cg_paths[i];
	return NULL;
}

// with_ordinary_dir opens dest for a proc or sysfs mount: its last
// component must be a real directory, never a symlink (withOrdinaryDir).
static int ordinary_dir(int rootfd, const char *rootname, const char *dest) {
	const char *slash = strrchr(dest, '/');
	const char *name = slash ? slash + 1 : dest;
	if (*name == '\0') {
		snprintf(fi_err, sizeof fi_err, "%s is the root", dest);
		return -1;
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s", (int)(name - dest), dest);
	int parent = in_root(rootfd, rootname, dir, CREATE_DIR);
	if (parent < 0)
		return -1;
	if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
		snprintf(fi_err, sizeof fi_err, "mkdir %s: %s", dest, estr(errno));
		close(parent);
		return -1;
	}
	int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	close(parent);
	if (fd < 0) {
		snprintf(fi_err, sizeof fi_err, "open %s: %s", dest, estr(e));
		return -1;
	}
	struct stat st = {0};
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(fi_err, sizeof fi_err, "%s must be an ordinary directory (mode %#o)", dest, st.st_mode);
		close(fd);
		return -1;
	}
	return fd;
}

static void finish_mount(int rootfd, const char *rootname, const char *dest, uint64_t rset, uint64_t rclr,
			 uint32_t nprop, const uint64_t *props) {
	if (rset != 0 || rclr != 0) {
		int fd = in_root(rootfd, rootname, dest, CREATE_NONE);
		if (fd < 0)
			FAILR("set recursive mount attributes");
		struct mount_attr attr = {.attr_set = rset, .attr_clr = rclr};
		if (syscall(SYS_mount_setattr, AT_FDCWD, target(fd, dest), AT_RECURSIVE, &attr, sizeof attr) < 0)
			FAIL("set recursive mount attributes: %s", estr(errno));
		close(fd);
	}
	for (uint32_t i = 0; i < nprop; i++) {
		int fd = in_root(rootfd, rootname, dest, CREATE_NONE);
		if (fd < 0)
			FAILR("set propagation");
		if (mount("", target(fd, dest), NULL, (unsigned long)props[i], NULL) < 0)
			FAIL("set propagation: %s", estr(errno));
		close(fd);
	}
}

// bind_mount binds src onto dest in the root, then applies the flags with a
// remount when there are some (mountBind).
static void bind_mount(int rootfd, const char *rootfs, const char *dest, const char *src, int create,
		       unsigned long flags, unsigned long cleared, int atime) {
	int fd = in_root(rootfd, rootfs, dest, create);
	if (fd < 0)
		FAILR("bind %s", src);
	if (mount(src, target(fd, dest), NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
		FAIL("bind %s: %s", src, estr(errno));
	close(fd);
	if (needs_remount(flags, cleared)) {
		fd = in_root(rootfd, rootfs, dest, CREATE_NONE);
		if (fd < 0 || remount_bind(target(fd, dest), flags, cleared, atime) < 0)
			FAILR("%s", "");
		close(fd);
	}
}

// do_mount performs one entry of the spec's mounts (mountSpecEntry).
static void do_mount(struct rd *r, const char *rootfs) {
	uint32_t kind = r32(r);
	fi_ctx = rstr(r);
	const char *dest = rstr(r);
	int rootfd = open_root(rootfs);
	switch (kind) {
	case M_BIND: {
		const char *src = rstr(r);
		uint32_t create = r32(r);
		unsigned long flags = (unsigned long)r64(r), cleared = (unsigned long)r64(r);
		int atime = (int)r32(r);
		bind_mount(rootfd, rootfs, dest, src, (int)create, flags, cleared, atime);
		break;
	}
	case M_FS: {
		const char *fstype = rstr(r), *source = rstr(r);
		unsigned long flags = (unsigned long)r64(r);
		const char *data = rstr(r);
		uint32_t ordinary = r32(r);
		int fd = ordinary ? ordinary_dir(rootfd, rootfs, dest) : in_root(rootfd, rootfs, dest, CREATE_DIR);
		if (fd < 0)
			FAILR("mount %s", fstype);
		if (mount(source, target(fd, dest), fstype, flags, data) < 0)
			FAIL("mount %s: %s", fstype, estr(errno));
		close(fd);
		break;
	}
	case M_CG2BIND: {
		const char *base = rstr(r);
		unsigned long flags = (unsigned long)r64(r), cleared = (unsigned long)r64(r);
		int atime = (int)r32(r);
		const char *own = own_cgroup("");
		if (own == NULL)
			FAIL("no unified cgroup in /proc/self/cgroup");
		char src[8192];
		snprintf(src, sizeof src, "%s%s%s", base, own[0] == '/' ? "" : "/", own);
		bind_mount(rootfd, rootfs, dest, src, CREATE_DIR, flags, cleared, atime);
		break;
	}
	case M_CG1: {
		unsigned long flags = (unsigned long)r64(r), cleared = (unsigned long)r64(r);
		int atime = (int)r32(r);
		uint32_t ownns = r32(r), nh = r32(r);
		int fd = in_root(rootfd, rootfs, dest, CREATE_DIR);
		if (fd < 0)
			FAILR("mount tmpfs for cgroup hierarchies");
		if (mount("tmpfs", target(fd, dest), "tmpfs", flags & ~(unsigned long)MS_RDONLY, "mode=755") < 0)
			FAIL("mount tmpfs for cgroup hierarchies: %s", estr(errno));
		close(fd);
		int tmpfs = in_root(rootfd, rootfs, dest, CREATE_NONE);
		if (tmpfs < 0)
			FAILR("%s", "");
		for (uint32_t i = 0; i < nh; i++) {
			const char *ctrls = rstr(r), *mp = rstr(r), *mroot = rstr(r), *name = rstr(r);
			const char *cg = own_cgroup(ctrls);
			if (cg == NULL)
				continue;
			const char *rel = cg;
			if (!ownns && strcmp(mroot, "/") != 0) {
				size_t rl = strlen(mroot);
				if (strncmp(cg, mroot, rl) != 0 || (cg[rl] != '/' && cg[rl] != '\0'))
					continue; // our cgroup is outside what this host mount shows
				rel = cg + rl;
			}
			if (mkdirat(tmpfs, name, 0755) < 0 && errno != EEXIST)
				FAIL("cgroup hierarchy %s: mkdir %s: %s", ctrls, name, estr(errno));
			int d = openat(tmpfs, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
			if (d < 0)
				FAIL("cgroup hierarchy %s: open %s: %s", ctrls, name, estr(errno));
			if (ownns) {
				if (mount("cgroup", target(d, name), "cgroup", flags, ctrls) < 0)
					FAIL("cgroup hierarchy %s: %s", ctrls, estr(errno));
				close(d);
			} else {
				char src[8192];
				snprintf(src, sizeof src, "%s/%s", mp, rel[0] == '/' ? rel + 1 : rel);
				size_t sl = strlen(src);
				if (sl > 1 && src[sl - 1] == '/')
					src[sl - 1] = '\0';
				if (mount(src, target(d, name), NULL, MS_BIND, NULL) < 0)
					FAIL("cgroup hierarchy %s: %s", ctrls, estr(errno));
				close(d);
				d = openat(tmpfs, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
				if (d < 0)
					FAIL("cgroup hierarchy %s: open %s: %s", ctrls, name, estr(errno));
				if (remount_bind(target(d, name), flags, cleared, atime) < 0)
					FAILR("cgroup hierarchy %s", ctrls);
				close(d);
			}
			if (strchr(name, ',') != NULL) {
				char copy[256];
				snprintf(copy, sizeof copy, "%s", name);
				for (char *save = NULL, *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save))
					if (symlinkat(name, tmpfs, c) < 0 && errno != EEXIST)
						FAIL("symlink %s -> %s: %s", c, name, estr(errno));
			}
		}
		if (flags & MS_RDONLY) {
			if (mount("", target(tmpfs, dest), NULL, MS_REMOUNT | flags, "mode=755") < 0)
				FAIL("remount cgroup tmpfs read-only: %s", estr(errno));
		}
		close(tmpfs);
		break;
	}
	default:
		badplan();
	}
	uint64_t rset = r64(r), rclr = r64(r);
	uint32_t nprop = r32(r);
	uint64_t props[16];
	if (nprop > 16)
		badplan();
	for (uint32_t i = 0; i < nprop; i++)
		props[i] = r64(r);
	finish_mount(rootfd, rootfs, dest, rset, rclr, nprop, props);
	close(rootfd);
	fi_ctx = NULL;
}

// mknod_device creates one device node (mknodDevice); -1 with errno EPERM
// asks for the bind fallback.
static int mknod_device(int rootfd, const char *rootfs, const char *p, uint32_t typ, uint64_t major,
			uint64_t minor, uint32_t perm, uint32_t uid, uint32_t gid) {
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", p);
	char *slash = strrchr(dir, '/');
	slash[1] = '\0';
	const char *name = p + (slash - dir) + 1;
	int parent = in_root(rootfd, rootfs, dir, CREATE_DIR);
	if (parent < 0)
		FAILR("create device %s", p);
	dev_t rdev = makedev((unsigned)major, (unsigned)minor);
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if ((st.st_mode & S_IFMT) == typ && (typ == S_IFIFO || st.st_rdev == rdev)) {
			close(parent);
			return 0;
		}
		if (S_ISDIR(st.st_mode))
			FAIL("create device %s: a directory is in the way", p);
		if (unlinkat(parent, name, 0) < 0) {
			if (errno == EBUSY) {
				close(parent);
				return 0;
			}
			FAIL("create device %s: remove what is in the way: %s", p, estr(errno));
		}
	} else if (errno != ENOENT) {
		FAIL("create device %s: %s", p, estr(errno));
	}
	if (mknodat(parent, name, typ | perm, rdev) < 0) {
		int e = errno;
		close(parent);
		if (e == EPERM) {
			errno = EPERM;
			return -1;
		}
		FAIL("create device %s: %s", p, estr(e));
	}
	if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		FAIL("create device %s: chown: %s", p, estr(errno));
	int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		FAIL("create device %s: %s", p, estr(errno));
	if (fstat(fd, &st) < 0)
		FAIL("create device %s: %s", p, estr(errno));
	if ((st.st_mode & S_IFMT) != typ)
		FAIL("create device %s: replaced while being created", p);
	char pp[64];
	snprintf(pp, sizeof pp, "/proc/self/fd/%d", fd);
	if (chmod(pp, perm) < 0)
		FAIL("create device %s: chmod: %s", p, estr(errno));
	close(fd);
	close(parent);
	return 0;
}

static void do_devices(struct rd *r, const char *rootfs) {
	int rootfd = open_root(rootfs);
	uint32_t n = r32(r);
	int bind = 0;
	for (uint32_t i = 0; i < n; i++) {
		const char *p = rstr(r);
		uint32_t typ = r32(r);
		uint64_t major = r64(r), minor = r64(r);
		uint32_t perm = r32(r), uid = r32(r), gid = r32(r);
		if (!bind) {
			if (mknod_device(rootfd, rootfs, p, typ, major, minor, perm, uid, gid) == 0)
				continue;
			bind = 1;
		}
		int fd = in_root(rootfd, rootfs, p, CREATE_FILE);
		if (fd < 0)
			FAILR("bind device %s from the host", p);
		if (mount(p, target(fd, p), NULL, MS_BIND, NULL) < 0)
			FAIL("bind device %s from the host: %s", p, estr(errno));
		close(fd);
	}
	int dev = in_root(rootfd, rootfs, "/dev", CREATE_DIR);
	if (dev < 0)
		FAILR("%s", "");
	uint32_t nl = r32(r);
	for (uint32_t i = 0; i < nl; i++) {
		const char *to = rstr(r), *name = rstr(r);
		if (symlinkat(to, dev, name) < 0 && errno != EEXIST)
			FAIL("symlink /dev/%s -> %s: %s", name, to, estr(errno));
	}
	if (r32(r)) {
		if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
			FAIL("remove /dev/ptmx: %s", estr(errno));
		if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
			FAIL("symlink /dev/ptmx -> pts/ptmx: %s", estr(errno));
	}
	close(dev);
	close(rootfd);
}

static void pivot(const char *rootfs) {
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		FAIL("pivot_root: open old root: %s", estr(errno));
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		FAIL("pivot_root: open new root %s: %s", rootfs, estr(errno));
	if (fchdir(newroot) < 0)
		FAIL("pivot_root: chdir %s: %s", rootfs, estr(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		FAIL("pivot_root %s: %s", rootfs, estr(errno));
	if (fchdir(oldroot) < 0)
		FAIL("pivot_root: chdir old root: %s", estr(errno));
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		FAIL("pivot_root: make old root rslave: %s", estr(errno));
	if (umount2(".", MNT_DETACH) < 0)
		FAIL("pivot_root: detach old root: %s", estr(errno));
	if (chdir("/") < 0)
		FAIL("pivot_root: chdir /: %s", estr(errno));
	close(oldroot);
	close(newroot);
	procfd_ok = access("/proc/self/fd", F_OK) == 0;
}

static int missing(int e) { return e == ENOENT || e == ENOTDIR; }

static void readonly_path(int root, const char *p) {
	int fd = in_root(root, "/", p, CREATE_NONE);
	if (fd < 0) {
		if (missing(errno))
			return;
		FAILR("linux.readonlyPaths %s", p);
	}
	if (mount(target(fd, p), target(fd, p), NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (missing(errno)) {
			close(fd);
			return;
		}
		FAIL("linux.readonlyPaths %s: bind onto itself: %s", p, estr(errno));
	}
	close(fd);
	fd = in_root(root, "/", p, CREATE_NONE);
	if (fd < 0)
		FAILR("linux.readonlyPaths %s", p);
	if (remount_bind(target(fd, p), MS_RDONLY, 0, 0) < 0)
		FAILR("linux.readonlyPaths %s", p);
	struct mount_attr attr = {.attr_set = 0x1 /* MOUNT_ATTR_RDONLY */};
	if (syscall(SYS_mount_setattr, AT_FDCWD, target(fd, p), AT_RECURSIVE, &attr, sizeof attr) < 0 && errno != ENOSYS)
		FAIL("linux.readonlyPaths %s: make mounts beneath read-only: %s", p, estr(errno));
	close(fd);
}

static void mask_path(int root, const char *p) {
	int fd = in_root(root, "/", p, CREATE_NONE);
	if (fd < 0) {
		if (missing(errno))
			return;
		FAILR("linux.maskedPaths %s", p);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		FAIL("linux.maskedPaths %s: stat: %s", p, estr(errno));
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", target(fd, p), "tmpfs", MS_RDONLY, NULL) < 0)
			FAIL("linux.maskedPaths %s: cover with tmpfs: %s", p, estr(errno));
	} else {
		int null = in_root(root, "/", "/dev/null", CREATE_NONE);
		if (null < 0)
			FAILR("linux.maskedPaths %s", p);
		if (fstat(null, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
			FAIL("linux.maskedPaths %s: cannot mask: /dev/null in the container is not the null device", p);
		if (mount(target(null, "/dev/null"), target(fd, p), NULL, MS_BIND, NULL) < 0)
			FAIL("linux.maskedPaths %s: cover with /dev/null: %s", p, estr(errno));
		close(null);
	}
	close(fd);
}

// quote writes s as Go's %q would for printable ASCII.
static const char *quote(const char *s) {
	static char buf[2][4200];
	static int k;
	char *b = buf[k++ % 2];
	size_t j = 0;
	b[j++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && j < sizeof buf[0] - 8; p++) {
		if (*p == '"' || *p == '\\') {
			b[j++] = '\\';
			b[j++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			j += (size_t)snprintf(b + j, sizeof buf[0] - j, "\\x%02x", *p);
		} else {
			b[j++] = (char)*p;
		}
	}
	b[j++] = '"';
	b[j] = '\0';
	return b;
}

// check_exec is checkExecutable: 0, or -1 with a message in msg.
static int check_exec(const char *p, char *msg, size_t n, int *enoent) {
	struct stat st;
	*enoent = 0;
	if (stat(p, &st) < 0) {
		*enoent = errno == ENOENT;
		snprintf(msg, n, "stat %s: %s", p, estr(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(msg, n, "is a directory");
		return -1;
	}
	if ((st.st_mode & 0111) == 0) {
		snprintf(msg, n, "permission denied");
		return -1;
	}
	return 0;
}

// look_path finds name in PATH as lookPath does.
static const char *look_path(const char *name, char **env) {
	static char found[4200];
	char msg[4200], first[4200];
	int enoent;
	if (strchr(name, '/') != NULL) {
		if (check_exec(name, msg, sizeof msg, &enoent) < 0)
			FAIL("exec: %s: %s", quote(name), msg);
		return name;
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (char **e = env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	first[0] = '\0';
	const char *p = path;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char dir[4096];
		if (len == 0)
			snprintf(dir, sizeof dir, ".");
		else
			snprintf(dir, sizeof dir, "%.*s", (int)len, p);
		// path.Join(dir, name): dir cleaned; "." + name is name
		if (strcmp(dir, ".") == 0)
			snprintf(found, sizeof found, "%s", name);
		else
			snprintf(found, sizeof found, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
		if (check_exec(found, msg, sizeof msg, &enoent) == 0)
			return found;
		if (first[0] == '\0' && !enoent)
			snprintf(first, sizeof first, "%s", msg);
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	if (first[0] != '\0')
		FAIL("exec: %s: %s", quote(name), first);
	FAIL("exec: %s: executable file not found in $PATH", quote(name));
}

// home_of returns uid's home in /etc/passwd, or "/" (envWithHome).
static const char *home_of(uint32_t uid) {
	static char home[4096];
	snprintf(home, sizeof home, "/");
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return home;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return home;
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return home;
	}
	char line[4096];
	long total = 0;
	while (fgets(line, sizeof line, f) && total < (16 << 20)) {
		total += (long)strlen(line);
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		size_t l = strlen(s);
		while (l > 0 && isspace((unsigned char)s[l - 1]))
			s[--l] = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		char *fld[8];
		int n = 0;
		fld[n++] = s;
		for (char *c = s; *c && n < 8; c++)
			if (*c == ':') {
				*c = '\0';
				fld[n++] = c + 1;
			}
		if (n < 4)
			continue;
		char *end;
		errno = 0;
		unsigned long u = strtoul(fld[2], &end, 10);
		if (*fld[2] == '\0' || *end != '\0' || errno != 0 || u > 0xffffffffUL || fld[2][0] == '-' || fld[2][0] == '+')
			continue;
		unsigned long g = strtoul(fld[3], &end, 10);
		if (*fld[3] == '\0' || *end != '\0' || g > 0xffffffffUL || fld[3][0] == '-' || fld[3][0] == '+')
			continue;
		if ((uint32_t)u != uid)
			continue;
		if (n > 5 && fld[5][0] != '\0')
			snprintf(home, sizeof home, "%s", fld[5]);
		break;
	}
	fclose(f);
	return home;
}

static void join_keyring(const char *name, int userns) {
	long ring = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name);
	if (ring < 0) {
		if (errno == ENOSYS)
			return;
		FAIL("join session keyring: %s", estr(errno));
	}
	char desc[512];
	long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, ring, desc, sizeof desc);
	if (n < 0)
		FAIL("session keyring: describe: %s", estr(errno));
	desc[sizeof desc - 1] = '\0';
	char *f = desc;
	for (int i = 0; i < 3 && f; i++) {
		f = strchr(f, ';');
		if (f)
			f++;
	}
	if (f == NULL)
		FAIL("session keyring: description %s", quote(desc));
	unsigned long perm = strtoul(f, NULL, 16);
	perm |= userns ? 0x00000008 : 0x00080000;
	if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, ring, perm) < 0)
		FAIL("session keyring: set permissions: %s", estr(errno));
}

struct seccomp_plan {
	uint32_t len, flags;
	struct sock_filter *prog;
};

static void load_seccomp(struct seccomp_plan *s) {
	struct sock_fprog prog = {.len = (unsigned short)s->len, .filter = s->prog};
	unsigned int flags = s->flags | SECCOMP_FILTER_FLAG_TSYNC;
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0) {
		if (errno == EACCES)
			FAIL("load seccomp filter: %s (no_new_privs is not set and CAP_SYS_ADMIN is missing)", estr(errno));
		FAIL("load seccomp filter (%u instructions, flags %#x): %s", s->len, flags, estr(errno));
	}
}

static int is_tty_major(unsigned int m) { return (m >= 136 && m <= 143) || m == 4 || m == 5; }

static void chown_stdio(uint32_t uid) {
	struct stat null;
	int nullok = stat("/dev/null", &null) == 0;
	for (int fd = 0; fd <= 2; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			if (errno == EBADF)
				continue;
			FAIL("chown stdio: fstat fd %d: %s", fd, estr(errno));
		}
		if (st.st_uid == uid)
			continue;
		if (S_ISCHR(st.st_mode)) {
			if ((nullok && st.st_rdev == null.st_rdev) || !is_tty_major(major(st.st_rdev)))
				continue;
		} else if (!S_ISFIFO(st.st_mode)) {
			continue;
		}
		if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
			FAIL("chown stdio: fd %d to uid %u: %s", fd, uid, estr(errno));
	}
}

static void berth_fastinit_run(struct rd *r) {
	// A `run`: exec the process as soon as ready is sent, not on start.
	uint32_t start_now = r32(r);
	// cgroup v1 tasks files, joined first (joinCgroupTasks)
	uint32_t ncg = r32(r);
	char joinmsg[4200] = "";
	for (uint32_t i = 0; i < ncg; i++) {
		const char *p = rstr(r);
		if (joinmsg[0] != '\0')
			continue;
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			snprintf(joinmsg, sizeof joinmsg, "join %s: %s", p, estr(errno));
		if (fd >= 0)
			close(fd);
	}
	if (ncg > 0) {
		fi_send("cgroup", joinmsg);
		if (joinmsg[0] != '\0')
			expect_continue();
	}
	if (setsid() < 0)
		FAIL("setsid: %s", estr(errno));
	if (r32(r) && unshare(CLONE_NEWCGROUP) < 0)
		FAIL("unshare cgroup namespace: %s", estr(errno));

	// prepareRootfs
	const char *rootfs = rstr(r);
	unsigned long prop = (unsigned long)r64(r);
	if (mount("", "/", NULL, prop, NULL) < 0)
		FAIL("prepare rootfs: set propagation of /: %s", estr(errno));
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		FAIL("prepare rootfs: bind %s onto itself: %s", rootfs, estr(errno));
	uint32_t nm = r32(r);
	for (uint32_t i = 0; i < nm; i++)
		do_mount(r, rootfs);
	const char *mkcwd = rstr(r);
	if (*mkcwd) {
		int rootfd = open_root(rootfs);
		int fd = in_root(rootfd, rootfs, mkcwd, CREATE_DIR);
		if (fd < 0)
			FAILR("process.cwd %s", mkcwd);
		close(fd);
		close(rootfd);
	}
	if (r32(r))
		do_devices(r, rootfs);

	pivot(rootfs);

	uint32_t nsys = r32(r);
	for (uint32_t i = 0; i < nsys; i++) {
		const char *key = rstr(r), *file = rstr(r), *val = rstr(r);
		int fd = open(file, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			FAIL("sysctl %s: open %s: %s", quote(key), file, estr(errno));
		size_t len = strlen(val);
		ssize_t w = write(fd, val, len);
		if (w < 0 || (size_t)w != len) {
			int e = w < 0 ? errno : EIO;
			FAIL("sysctl %s = %s: write %s: %s", quote(key), quote(val), file, estr(e));
		}
		if (close(fd) < 0)
			FAIL("sysctl %s = %s: close %s: %s", quote(key), quote(val), file, estr(errno));
	}

	// finalizeRootfs
	int root = open_root("/");
	uint32_t nro = r32(r);
	for (uint32_t i = 0; i < nro; i++)
		readonly_path(root, rstr(r));
	uint32_t nmask = r32(r);
	for (uint32_t i = 0; i < nmask; i++)
		mask_path(root, rstr(r));
	close(root);
	if (r32(r) && remount_bind("/", MS_RDONLY, 0, 0) < 0)
		FAILR("root.readonly");
	unsigned long fprop = (unsigned long)r64(r);
	const char *fpropname = rstr(r);
	if (fprop != 0 && mount("", "/", NULL, fprop, NULL) < 0)
		FAIL("linux.rootfsPropagation %s: %s", fpropname, estr(errno));
	if (r32(r)) {
		const char *h = rstr(r), *d = rstr(r);
		if (*h && sethostname(h, strlen(h)) < 0)
			FAIL("sethostname: %s", estr(errno));
		if (*d && setdomainname(d, strlen(d)) < 0)
			FAIL("setdomainname: %s", estr(errno));
	}

	// prepareExec
	const char *cwd = rstr(r);
	if (chdir(cwd) < 0)
		FAIL("process.cwd %s: %s", cwd, estr(errno));
	uint32_t nargs = r32(r);
	if (nargs == 0)
		badplan();
	char **args = calloc(nargs + 1, sizeof *args);
	for (uint32_t i = 0; i < nargs; i++)
		args[i] = rstr(r);
	uint32_t nenv = r32(r);
	char **env = calloc(nenv + 2, sizeof *env);
	// envWithHome: the first HOME decides; an empty one counts as none.
	uint32_t k = 0;
	int home = 0; // 0 none seen, 1 set, 2 removed an empty one
	for (uint32_t i = 0; i < nenv; i++) {
		char *e = rstr(r);
		if (home == 0 && strncmp(e, "HOME=", 5) == 0) {
			if (e[5] != '\0') {
				home = 1;
			} else {
				home = 2;
				continue;
			}
		}
		env[k++] = e;
	}
	uint32_t uid = r32(r), gid = r32(r);
	if (home != 1) {
		const char *h = home_of(uid);
		char *he = malloc(strlen(h) + 6);
		strcpy(he, "HOME=");
		strcat(he, h);
		env[k++] = he;
	}
	env[k] = NULL;
	const char *path = look_path(args[0], env);
	uint32_t ngids = r32(r);
	if (ngids > 65536)
		badplan();
	gid_t *gids = calloc(ngids + 1, sizeof *gids);
	char gidlist[4096] = "[";
	for (uint32_t i = 0; i < ngids; i++) {
		gids[i] = r32(r);
		size_t l = strlen(gidlist);
		snprintf(gidlist + l, sizeof gidlist - l, "%s%u", i ? " " : "", gids[i]);
	}
	strncat(gidlist, "]", sizeof gidlist - strlen(gidlist) - 1);
	uint32_t umask_ = r32(r), nnp = r32(r);
	if (r32(r)) {
		const char *name = rstr(r);
		join_keyring(name, (int)r32(r));
	}
	// Read now, applied after seccomp as the Go init does.
	uint32_t nrl = r32(r);
	if (nrl > 64)
		badplan();
	struct {
		const char *name;
		int res;
		struct rlimit lim;
	} rls[64];
	for (uint32_t i = 0; i < nrl; i++) {
		rls[i].name = rstr(r);
		rls[i].res = (int)r32(r);
		rls[i].lim.rlim_cur = r64(r);
		rls[i].lim.rlim_max = r64(r);
	}
	uint64_t bounding = r64(r), eff = r64(r), perm = r64(r), inh = r64(r), amb = r64(r);
	uint32_t caplast = r32(r);
	struct seccomp_plan sc = {.len = r32(r)};
	if (sc.len > 0) {
		sc.flags = r32(r);
		if (sc.len > 65535 || (size_t)(r->end - r->p) < (size_t)sc.len * sizeof(struct sock_filter))
			badplan();
		sc.prog = malloc(sc.len * sizeof(struct sock_filter));
		memcpy(sc.prog, r->p, sc.len * sizeof(struct sock_filter));
		r->p += sc.len * sizeof(struct sock_filter);
	}
	int execsock = (int)r32(r);
	if (r->p != r->end)
		badplan();

	// dropPrivileges: seccomp unless no_new_privs lets it wait, then
	// finalizeProcess: rlimits, bounding set, user, capabilities.
	if (sc.len > 0 && !nnp)
		load_seccomp(&sc);
	for (uint32_t i = 0; i < nrl; i++) {
		struct rlimit lim = rls[i].lim;
		if (prlimit(0, rls[i].res, &lim, NULL) < 0) {
			int e = errno;
			struct rlimit cur;
			if (e == EPERM && prlimit(0, rls[i].res, NULL, &cur) == 0 && lim.rlim_max > cur.rlim_max)
				FAIL("set rlimit %s to soft %llu hard %llu: hard limit above the current hard limit %llu needs CAP_SYS_RESOURCE: %s",
				     rls[i].name, (unsigned long long)lim.rlim_cur, (unsigned long long)lim.rlim_max,
				     (unsigned long long)cur.rlim_max, estr(e));
			FAIL("set rlimit %s to soft %llu hard %llu: %s", rls[i].name, (unsigned long long)lim.rlim_cur,
			     (unsigned long long)lim.rlim_max, estr(e));
		}
	}
	for (uint32_t n = 0; n <= caplast; n++) {
		if (bounding >> n & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, n, 0, 0, 0) < 0 && errno != EINVAL)
			FAIL("drop capability %u from the bounding set: %s", n, estr(errno));
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		FAIL("set keep capabilities: %s", estr(errno));
	chown_stdio(uid);
	if (syscall(SYS_setgroups, (size_t)ngids, gids) < 0)
		FAIL("process.user.additionalGids: setgroups %s: %s", gidlist, estr(errno));
	if (syscall(SYS_setgid, gid) < 0)
		FAIL("process.user.gid: setgid %u: %s%s", gid, estr(errno),
		     errno == EINVAL ? " (the id is not mapped in the user namespace)" : "");
	if (syscall(SYS_setuid, uid) < 0)
		FAIL("process.user.uid: setuid %u: %s%s", uid, estr(errno),
		     errno == EINVAL ? " (the id is not mapped in the user namespace)" : "");
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		FAIL("clear keep capabilities: %s", estr(errno));
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {
	    {.effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh},
	    {.effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32), .inheritable = (uint32_t)(inh >> 32)},
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		FAIL("set capabilities (capset effective=%#llx permitted=%#llx inheritable=%#llx): %s",
		     (unsigned long long)eff, (unsigned long long)perm, (unsigned long long)inh, estr(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		if (!(amb == 0 && errno == EINVAL))
			FAIL("clear ambient capabilities: %s", estr(errno));
	} else {
		uint64_t raise = amb & perm & inh;
		for (uint32_t n = 0; n <= caplast; n++)
			if ((raise >> n & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n, 0, 0) < 0)
				FAIL("process.capabilities.ambient: raise capability %u: %s", n, estr(errno));
	}
	umask((mode_t)umask_);
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		FAIL("process.noNewPrivileges: set no_new_privs: %s", estr(errno));

	fi_send("ready", NULL);
	// A `run` execs now, once the parent says the limits it wrote while we
	// worked are in place (usually said before we get here).
	if (start_now)
		expect_continue();
	// The start's connection, where an exec that fails says why; a `run`
	// has none: the parent reads the sync socket to its end instead.
	int conn = -1;
	while (!start_now) {
		conn = accept4(execsock, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0 && errno == EINTR)
			continue;
		if (conn < 0)
			FAIL("wait for start: %s", estr(errno));
		break;
	}
	close(execsock);
	if (conn >= 0 && write(conn, "0", 1) != 1)
		FAIL("start: %s", estr(errno));
	char msg[sizeof fi_err];
	if (sc.len > 0 && nnp) {
		struct sock_fprog prog = {.len = (unsigned short)sc.len, .filter = sc.prog};
		unsigned int flags = sc.flags | SECCOMP_FILTER_FLAG_TSYNC;
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0) {
			int e = errno;
			if (e == EACCES)
				snprintf(msg, sizeof msg, "load seccomp filter: %s (no_new_privs is not set and CAP_SYS_ADMIN is missing)", estr(e));
			else
				snprintf(msg, sizeof msg, "load seccomp filter (%u instructions, flags %#x): %s", sc.len, flags, estr(e));
			goto execfail;
		}
	}
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	execve(path, args, env);
	snprintf(msg, sizeof msg, "exec %s: %s", args[0], estr(errno));
execfail:
	if (conn >= 0)
		berth_writeall(conn, msg, strlen(msg));
	snprintf(fi_err, sizeof fi_err, "%s", msg);
	fi_die();
}

// berth_fastinit runs when the environment holds _BERTH_FASTINIT: the
// parent's first bytes on the sync socket say whether a plan follows (then
// this never returns) or the Go init is to do the work (then it returns
// and the Go runtime starts as usual).
void berth_fastinit(void) {
	if (getenv("_BERTH_FASTINIT") == NULL)
		return;
	unsetenv("_BERTH_FASTINIT");
	const char *s = getenv("_BERTH_SYNC");
	if (s != NULL)
		fi_sync = atoi(s);
	uint32_t head[2];
	readfull(fi_sync, head, sizeof head);
	if (head[0] != PLAN_MAGIC) {
		snprintf(fi_err, sizeof fi_err, "init: bad plan header from the parent");
		fi_die();
	}
	if (head[1] == 0)
		return;
	// Keep the container's processes away from /proc/<init>/exe and our
	// memory until the exec resets this.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (head[1] > PLAN_MAX)
		badplan();
	unsigned char *buf = malloc(head[1]);
	if (buf == NULL)
		FAIL("init: %s", estr(ENOMEM));
	readfull(fi_sync, buf, head[1]);
	struct rd r = {buf, buf + head[1]};
	berth_fastinit_run(&r);
	_exit(1);
}
