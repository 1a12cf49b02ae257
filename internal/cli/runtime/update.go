package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

type updateOpts struct {
	resources                        string
	memory, memorySwap, memoryReserv string
	cpuShares, cpuQuota, cpuPeriod   string
	cpusetCpus, cpusetMems           string
	pidsLimit                        int64
	blkioWeight                      uint16
}

func newUpdateCommand(g *globalOpts) *cobra.Command {
	o := &updateOpts{}
	cmd := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "Update container resource constraints",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Load(args[0])
			if err != nil {
				return g.Fail(err)
			}
			r, err := o.build(cmd)
			if err != nil {
				return g.Fail(err)
			}
			return g.Fail(c.Update(r))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.resources, "resources", "r", "", "path to a file with the resources to update (linux.resources JSON), or - for stdin")
	f.StringVar(&o.memory, "memory", "", "memory limit (in bytes, or with a suffix k, m, g)")
	f.StringVar(&o.memorySwap, "memory-swap", "", "total memory plus swap limit; -1 for unlimited")
	f.StringVar(&o.memoryReserv, "memory-reservation", "", "memory reservation or soft limit")
	f.StringVar(&o.cpuShares, "cpu-shares", "", "CPU shares (relative weight)")
	f.StringVar(&o.cpuShares, "cpu-share", "", "CPU shares (relative weight), runc's spelling")
	f.StringVar(&o.cpuQuota, "cpu-quota", "", "CPU CFS quota in microseconds")
	f.StringVar(&o.cpuPeriod, "cpu-period", "", "CPU CFS period in microseconds")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "memory nodes in which to allow execution")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "maximum number of pids allowed in the container")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "block IO weight, 10 to 1000")
	return cmd
}

func (o *updateOpts) build(cmd *cobra.Command) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if o.resources != "" {
		var b []byte
		var err error
		if o.resources == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(o.resources)
		}
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		if err := json.Unmarshal(b, r); err != nil {
			return nil, fmt.Errorf("--resources: invalid JSON: %w", err)
		}
	}
	set := cmd.Flags().Changed
	mem := func(name, v string) (*int64, error) {
		if v == "-1" {
			n := int64(-1)
			return &n, nil
		}
		n, err := parseBytes(v)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", name, v, err)
		}
		return &n, nil
	}
	var err error
	if set("memory") || set("memory-swap") || set("memory-reservation") {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if set("memory") {
			if r.Memory.Limit, err = mem("memory", o.memory); err != nil {
				return nil, err
			}
		}
		if set("memory-swap") {
			if r.Memory.Swap, err = mem("memory-swap", o.memorySwap); err != nil {
				return nil, err
			}
		}
		if set("memory-reservation") {
			if r.Memory.Reservation, err = mem("memory-reservation", o.memoryReserv); err != nil {
				return nil, err
			}
		}
	}
	if set("cpu-shares") || set("cpu-share") || set("cpu-quota") || set("cpu-period") || set("cpuset-cpus") || set("cpuset-mems") {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if set("cpu-shares") || set("cpu-share") {
			v, err := strconv.ParseUint(o.cpuShares, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--cpu-shares %q: %w", o.cpuShares, err)
			}
			r.CPU.Shares = &v
		}
		if set("cpu-quota") {
			v, err := strconv.ParseInt(o.cpuQuota, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--cpu-quota %q: %w", o.cpuQuota, err)
			}
			r.CPU.Quota = &v
		}
		if set("cpu-period") {
			v, err := strconv.ParseUint(o.cpuPeriod, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--cpu-period %q: %w", o.cpuPeriod, err)
			}
			r.CPU.Period = &v
		}
		if set("cpuset-cpus") {
			r.CPU.Cpus = o.cpusetCpus
		}
		if set("cpuset-mems") {
			r.CPU.Mems = o.cpusetMems
		}
	}
	if set("pids-limit") {
		lim := o.pidsLimit
		r.Pids = &specs.LinuxPids{Limit: &lim}
	}
	if set("blkio-weight") {
		w := o.blkioWeight
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return r, nil
}

// parseBytes parses 1024, 10k, 64m, 1g (binary multiples, as runc and docker).
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case 'b', 'B':
	default:
		mult = 0
	}
	num := s
	if mult != 0 {
		num = s[:len(s)-1]
	} else {
		mult = 1
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size")
	}
	return n * mult, nil
}
