package seccomp

import "errors"

// Load installs the filter on the calling process with
// seccomp(SECCOMP_SET_MODE_FILTER), always with SECCOMP_FILTER_FLAG_TSYNC so
// that every thread of the Go process gets it, plus the configured flags.
// The caller must have set no_new_privs (prctl PR_SET_NO_NEW_PRIVS) or hold
// CAP_SYS_ADMIN. A filter with SCMP_ACT_NOTIFY rules needs LoadListener.
func (f *Filter) Load() error {
	if f.notify {
		return errors.New("load seccomp filter: it has SCMP_ACT_NOTIFY rules, use LoadListener")
	}
	_, err := f.load(0)
	return err
}
