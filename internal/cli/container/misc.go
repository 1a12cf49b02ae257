package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/docker/cli/opts"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

// connectDo connects and runs fn; daemon errors exit 1.
func connectDo(copts *client.Options, fn func(c *client.Client) error) error {
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := fn(c); err != nil {
		var se *command.StatusError
		if errors.As(err, &se) {
			return err
		}
		return command.DaemonError(err)
	}
	return nil
}

func newTopCommand(copts *client.Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ContainerTop(cmd.Context(), args[0], mobyclient.ContainerTopOptions{Arguments: args[1:]})
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 20, 1, 3, ' ', 0)
				fmt.Fprintln(w, strings.Join(r.Titles, "\t"))
				for _, p := range r.Processes {
					fmt.Fprintln(w, strings.Join(p, "\t"))
				}
				return w.Flush()
			})
		},
	}
	// Everything after the container is for ps.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func newPortCommand(copts *client.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  RequiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ContainerInspect(cmd.Context(), args[0], mobyclient.ContainerInspectOptions{})
				if err != nil {
					return err
				}
				var lines []string
				ns := r.Container.NetworkSettings
				if ns == nil {
					return nil
				}
				for port, bs := range ns.Ports {
					key := port.String()
					if len(args) == 2 {
						want := args[1]
						if !strings.Contains(want, "/") {
							want += "/tcp"
						}
						if key != want {
							continue
						}
						for _, b := range bs {
							lines = append(lines, joinHostPort(b.HostIP.String(), b.HostPort))
						}
						continue
					}
					for _, b := range bs {
						lines = append(lines, key+" -> "+joinHostPort(b.HostIP.String(), b.HostPort))
					}
				}
				if len(args) == 2 && len(lines) == 0 {
					return &command.StatusError{Code: 1, Err: fmt.Errorf("Error: No public port '%s' published for %s", args[1], args[0])}
				}
				sort.Strings(lines)
				for _, l := range lines {
					fmt.Fprintln(cmd.OutOrStdout(), l)
				}
				return nil
			})
		},
	}
}

func joinHostPort(ip, port string) string {
	if ip == "invalid IP" || ip == "" {
		ip = "0.0.0.0"
	}
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + port
	}
	return ip + ":" + port
}

func newDiffCommand(copts *client.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ContainerDiff(cmd.Context(), args[0], mobyclient.ContainerDiffOptions{})
				if err != nil {
					return err
				}
				for _, ch := range r.Changes {
					k := "C"
					switch ch.Kind {
					case container.ChangeAdd:
						k = "A"
					case container.ChangeDelete:
						k = "D"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", k, ch.Path)
				}
				return nil
			})
		},
	}
}

// outputFile is -o FILE, or stdout when that is not a terminal.
func outputFile(cmd *cobra.Command, path, what string) (io.WriteCloser, error) {
	if path != "" {
		return os.Create(path)
	}
	if _, ok := (streams{out: cmd.OutOrStdout()}).outFd(); ok {
		return nil, &command.StatusError{Code: 1, Err: fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")}
	}
	return nopCloser{cmd.OutOrStdout()}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func newExportCommand(copts *client.Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				w, err := outputFile(cmd, output, "container")
				if err != nil {
					return err
				}
				defer w.Close()
				r, err := c.ContainerExport(cmd.Context(), args[0], mobyclient.ContainerExportOptions{})
				if err != nil {
					return err
				}
				defer r.Close()
				_, err = io.Copy(w, r)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func newPruneCommand(copts *client.Options) *cobra.Command {
	var force bool
	var filters FilterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := ParseFilters(filters.Values())
			if err != nil {
				return err
			}
			if !force && !command.Confirm(cmd, "WARNING! This will remove all stopped containers.") {
				return nil // docker's: a "no" ends quietly with exit 0
			}
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ContainerPrune(cmd.Context(), mobyclient.ContainerPruneOptions{Filters: f})
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if len(r.Report.ContainersDeleted) > 0 {
					fmt.Fprintln(out, "Deleted Containers:")
					for _, id := range r.Report.ContainersDeleted {
						fmt.Fprintln(out, id)
					}
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "Total reclaimed space: %s\n", units.HumanSize(float64(r.Report.SpaceReclaimed)))
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

func newCommitCommand(copts *client.Options) *cobra.Command {
	var o mobyclient.ContainerCommitOptions
	var pause bool
	changes := opts.NewListOpts(nil)
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  RequiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				o.Reference = args[1]
			}
			o.NoPause = !pause
			o.Changes = changes.GetSlice()
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ContainerCommit(cmd.Context(), args[0], o)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), r.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	f.StringVarP(&o.Comment, "message", "m", "", "Commit message")
	f.StringVarP(&o.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.VarP(&changes, "change", "c", "Apply Dockerfile instruction to the created image")
	return cmd
}

func newUpdateCommand(copts *client.Options) *cobra.Command {
	var (
		memory, memRes      opts.MemBytes
		memSwap             opts.MemSwapBytes
		cpus                opts.NanoCPUs
		cpuShares, pids     int64
		cpuPeriod, cpuQuota int64
		cpusetCpus, restart string
		cpusetMems          string
		kernelMemory        opts.MemBytes
	)
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The command's own flags: a global one (-H) is not an update.
			own := 0
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if cmd.LocalFlags().Lookup(f.Name) != nil {
					own++
				}
			})
			if own == 0 {
				return &command.StatusError{Code: 1, Err: errors.New("you must provide one or more flags when using this command")}
			}
			res := &container.Resources{Memory: memory.Value(), MemoryReservation: memRes.Value(), MemorySwap: memSwap.Value(),
				NanoCPUs: cpus.Value(), CPUShares: cpuShares, CpusetCpus: cpusetCpus, CpusetMems: cpusetMems,
				CPUPeriod: cpuPeriod, CPUQuota: cpuQuota}
			if cmd.Flags().Changed("pids-limit") {
				res.PidsLimit = &pids
			}
			uo := mobyclient.ContainerUpdateOptions{Resources: res}
			if cmd.Flags().Changed("restart") {
				rp, err := opts.ParseRestartPolicy(restart)
				if err != nil {
					return &command.StatusError{Code: 1, Err: err}
				}
				uo.RestartPolicy = &rp
			}
			return eachContainer(cmd, copts, args, true, func(ctx context.Context, c *client.Client, name string) error {
				r, err := c.ContainerUpdate(ctx, name, uo)
				for _, w := range r.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), w)
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.VarP(&memory, "memory", "m", "Memory limit")
	f.Var(&memRes, "memory-reservation", "Memory soft limit")
	f.Var(&memSwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Var(&cpus, "cpus", "Number of CPUs")
	f.Int64VarP(&cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Var(&kernelMemory, "kernel-memory", "Kernel memory limit (deprecated)")
	_ = f.MarkDeprecated("kernel-memory", "and no longer supported by the kernel")
	f.Int64Var(&pids, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringVar(&restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}
