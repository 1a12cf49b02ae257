package runtime

import (
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// sysctlFile returns the /proc/sys file of a sysctl key. Keys use dots as
// separators ("net.ipv4.ip_forward"); a key that contains a slash uses
// slashes as separators, so that dots can appear inside a component
// ("net/ipv4/conf/eth0.100/forwarding"), as sysctl(8) accepts.
func sysctlFile(key string) (string, error) {
	sep := "."
	if strings.Contains(key, "/") {
		sep = "/"
	}
	parts := strings.Split(key, sep)
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.Contains(p, "/") {
			return "", fmt.Errorf("sysctl %q: invalid key", key)
		}
	}
	return "/proc/sys/" + strings.Join(parts, "/"), nil
}

// sysctlKey returns key in its dotted form, for the namespace rules.
func sysctlKey(key string) string {
	if strings.Contains(key, "/") {
		return strings.ReplaceAll(strings.Trim(key, "/"), "/", ".")
	}
	return key
}

// applySysctl writes each sysctl to /proc/sys, in key order. It runs in the
// init after pivot_root, with the container's /proc mounted.
func applySysctl(sysctl map[string]string) error {
	keys := make([]string, 0, len(sysctl))
	for k := range sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		path, err := sysctlFile(k)
		if err != nil {
			return err
		}
		// O_NOFOLLOW: /proc/sys has no symlinks; refuse one planted there.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return fmt.Errorf("sysctl %q: %w", k, err)
		}
		_, werr := f.WriteString(sysctl[k])
		cerr := f.Close()
		if werr != nil {
			return fmt.Errorf("sysctl %q = %q: %w", k, sysctl[k], werr)
		}
		if cerr != nil {
			return fmt.Errorf("sysctl %q = %q: %w", k, sysctl[k], cerr)
		}
	}
	return nil
}

// ipcSysctls are the sysctls outside fs.mqueue.* that belong to the IPC
// namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax":          true,
	"kernel.msgmnb":          true,
	"kernel.msgmni":          true,
	"kernel.sem":             true,
	"kernel.shmall":          true,
	"kernel.shmmax":          true,
	"kernel.shmmni":          true,
	"kernel.shm_rmid_forced": true,
}

// validateSysctl checks that every sysctl belongs to a namespace the
// container does not share with the host, following runc's rules: IPC
// sysctls need an IPC namespace, net.* a network namespace other than the
// caller's, kernel.domainname a UTS namespace, and kernel.hostname is refused
// because the hostname field sets it.
func validateSysctl(spec *specs.Spec, _ string) error {
	if spec.Linux == nil {
		return nil
	}
	keys := make([]string, 0, len(spec.Linux.Sysctl))
	for k := range spec.Linux.Sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, raw := range keys {
		field := fmt.Sprintf("linux.sysctl[%q]", raw)
		if _, err := sysctlFile(raw); err != nil {
			return fmt.Errorf("%s: invalid key", field)
		}
		k := sysctlKey(raw)
		switch {
		case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
			if !specHasNamespace(spec, specs.IPCNamespace) {
				return fmt.Errorf("%s: not allowed in the host's ipc namespace (add an ipc namespace)", field)
			}
		case strings.HasPrefix(k, "net."):
			path, ok := specNamespace(spec, specs.NetworkNamespace)
			if !ok {
				return fmt.Errorf("%s: not allowed in the host's network namespace (add a network namespace)", field)
			}
			if path != "" {
				same, err := sameNamespaceFile(path, "/proc/self/ns/net")
				if err != nil {
					return fmt.Errorf("%s: check network namespace %s: %w", field, path, err)
				}
				if same {
					return fmt.Errorf("%s: not allowed in the host's network namespace (%s is the caller's)", field, path)
				}
			}
		case k == "kernel.domainname" && specHasNamespace(spec, specs.UTSNamespace):
		case k == "kernel.hostname" && specHasNamespace(spec, specs.UTSNamespace):
			return fmt.Errorf("%s: not allowed, it conflicts with the hostname field", field)
		default:
			return fmt.Errorf("%s: not in a separate kernel namespace of the container", field)
		}
	}
	return nil
}

// specHasNamespace reports whether spec lists a namespace of type typ (new or
// joined by path).
func specHasNamespace(spec *specs.Spec, typ specs.LinuxNamespaceType) bool {
	_, ok := specNamespace(spec, typ)
	return ok
}

// specNamespace returns the path of the namespace of type typ ("" for a new
// one) and whether spec lists one.
func specNamespace(spec *specs.Spec, typ specs.LinuxNamespaceType) (string, bool) {
	if spec.Linux == nil {
		return "", false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == typ {
			return ns.Path, true
		}
	}
	return "", false
}

// sameNamespaceFile reports whether two namespace files refer to the same
// namespace (same device and inode).
func sameNamespaceFile(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, &os.PathError{Op: "stat", Path: a, Err: err}
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, &os.PathError{Op: "stat", Path: b, Err: err}
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}
