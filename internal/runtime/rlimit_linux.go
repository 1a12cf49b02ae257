package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rlimitByName maps the rlimit types of runtime-spec (getrlimit(2) names) to
// their resource numbers.
var rlimitByName = map[string]int{
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
}

// parseRlimit returns the resource number of an rlimit type such as
// "RLIMIT_NOFILE".
func parseRlimit(typ string) (int, error) {
	r, ok := rlimitByName[typ]
	if !ok {
		return 0, fmt.Errorf("unknown rlimit type %q", typ)
	}
	return r, nil
}

// setRlimits applies rlimits to the calling process with prlimit(2) on its
// own pid. Raising a hard limit above the current one needs CAP_SYS_RESOURCE
// (which the hosts Berth runs on may not grant); the error then names the
// rlimit and the current hard limit.
func setRlimits(rlimits []specs.POSIXRlimit) error {
	for i, rl := range rlimits {
		res, err := parseRlimit(rl.Type)
		if err != nil {
			return fmt.Errorf("process.rlimits[%d].type: %w", i, err)
		}
		lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := unix.Prlimit(0, res, &lim, nil); err != nil {
			var cur unix.Rlimit
			if gerr := unix.Prlimit(0, res, nil, &cur); gerr == nil && err == unix.EPERM && rl.Hard > cur.Max {
				return fmt.Errorf("set rlimit %s to soft %d hard %d: hard limit above the current hard limit %d needs CAP_SYS_RESOURCE: %w",
					rl.Type, rl.Soft, rl.Hard, cur.Max, err)
			}
			return fmt.Errorf("set rlimit %s to soft %d hard %d: %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}
