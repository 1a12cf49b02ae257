package build

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/cli/opts"
	"github.com/docker/go-units"
	mcontainer "github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

// AddCommands adds `build`, `image build` and `builder prune` to root.
// opts holds the global -H and TLS flags.
func AddCommands(root *cobra.Command, opts *client.Options) {
	b := newBuildCommand(opts)
	command.DockerHelp(b)
	root.AddCommand(b)
	if img, _, err := root.Find([]string{"image"}); err == nil && img != root {
		ib := newBuildCommand(opts)
		command.DockerHelp(ib)
		img.AddCommand(ib)
	}
	group := &cobra.Command{
		Use:   "builder",
		Short: "Manage builds",
		Args:  container.NoArgs,
		RunE:  command.ShowHelp,
	}
	p := newPruneCommand(opts)
	command.DockerHelp(p)
	group.AddCommand(p)
	command.DockerHelp(group)
	root.AddCommand(group)
}

type buildOptions struct {
	tags       []string
	dockerfile string
	buildArgs  []string
	labels     []string
	target     string
	noCache    bool
	pull       bool
	quiet      bool
	network    string
	addHosts   []string
	iidfile    string
	platform   string
	rm         bool
	forceRm    bool
	// The RUN containers' limits.
	memory, shmSize                      opts.MemBytes
	memorySwap                           opts.MemSwapBytes
	cpuShares, cpuPeriod, cpuQuota       int64
	cpusetCpus, cpusetMems, cgroupParent string
	ulimits                              *opts.UlimitOpt
	cacheFrom, securityOpt               []string
	isolation                            string
	compress, squash, noContentTrust     bool
}

func newBuildCommand(copts *client.Options) *cobra.Command {
	o := buildOptions{ulimits: opts.NewUlimitOpt(nil)}
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  container.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, copts, &o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	f.StringVarP(&o.dockerfile, "file", "f", "", `Name of the Dockerfile (Default is "PATH/Dockerfile")`)
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image")
	f.StringVar(&o.target, "target", "", "Set the target build stage to build.")
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&o.pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.StringVar(&o.network, "network", "default", "Set the networking mode for the RUN instructions during build")
	f.StringSliceVar(&o.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (\"host:ip\")")
	f.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to the file")
	f.StringVar(&o.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	f.BoolVar(&o.rm, "rm", true, "Remove intermediate containers after a successful build")
	f.BoolVar(&o.forceRm, "force-rm", false, "Always remove intermediate containers")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit the CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit the CPU CFS (Completely Fair Scheduler) quota")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cgroupParent, "cgroup-parent", "", `Set the parent cgroup for the "RUN" instructions during build`)
	f.Var(o.ulimits, "ulimit", "Ulimit options")
	f.StringSliceVar(&o.cacheFrom, "cache-from", nil, "Images to consider as cache sources")
	f.StringSliceVar(&o.securityOpt, "security-opt", nil, "Security options")
	f.StringVar(&o.isolation, "isolation", "", "Container isolation technology")
	f.BoolVar(&o.compress, "compress", false, "Compress the build context using gzip")
	f.BoolVar(&o.squash, "squash", false, "Squash newly built layers into a single new layer")
	f.BoolVar(&o.noContentTrust, "disable-content-trust", true, "Skip image verification")
	return cmd
}

// buildArgs turns --build-arg K=V (or K, taken from the environment, or
// left unset when the environment has no K) into the API's map.
func buildArgs(list []string) map[string]*string {
	out := map[string]*string{}
	for _, a := range list {
		k, v, ok := strings.Cut(a, "=")
		if ok {
			out[k] = &v
			continue
		}
		if ev, ok := os.LookupEnv(k); ok {
			out[k] = &ev
		} else {
			out[k] = nil
		}
	}
	return out
}

func runBuild(cmd *cobra.Command, copts *client.Options, o *buildOptions, path string) error {
	if o.iidfile != "" {
		if err := os.WriteFile(o.iidfile, nil, 0o644); err != nil {
			return &command.StatusError{Code: 1, Err: fmt.Errorf("removing image ID file: %w", err)}
		}
	}
	cs, err := prepareContext(path, o.dockerfile, cmd.InOrStdin())
	if err != nil {
		return &command.StatusError{Code: 1, Err: err}
	}
	labels := map[string]string{}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	opts := mobyclient.ImageBuildOptions{
		Tags:           o.tags,
		SuppressOutput: o.quiet,
		NoCache:        o.noCache,
		Remove:         o.rm,
		ForceRemove:    o.forceRm,
		PullParent:     o.pull,
		NetworkMode:    o.network,
		ExtraHosts:     o.addHosts,
		Dockerfile:     cs.dockerfile,
		BuildArgs:      buildArgs(o.buildArgs),
		Labels:         labels,
		Target:         o.target,
		AuthConfigs:    registryAuths(cmd.ErrOrStderr()),
		Memory:         o.memory.Value(),
		MemorySwap:     o.memorySwap.Value(),
		ShmSize:        o.shmSize.Value(),
		CPUShares:      o.cpuShares,
		CPUPeriod:      o.cpuPeriod,
		CPUQuota:       o.cpuQuota,
		CPUSetCPUs:     o.cpusetCpus,
		CPUSetMems:     o.cpusetMems,
		CgroupParent:   o.cgroupParent,
		Ulimits:        o.ulimits.GetList(),
		CacheFrom:      o.cacheFrom,
		SecurityOpt:    o.securityOpt,
		Isolation:      mcontainer.Isolation(o.isolation),
		Squash:         o.squash,
	}
	if o.platform != "" {
		p, err := parsePlatform(o.platform)
		if err != nil {
			return command.UsageError("%v", err)
		}
		opts.Platforms = []ocispec.Platform{p}
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	copts = cs.offerDir(copts)
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()

	pr, pw := io.Pipe()
	counter := &countWriter{w: pw}
	sent := make(chan struct{})
	var sendErr error
	go func() {
		defer close(sent)
		if o.compress {
			// --compress: the context goes gzipped (the daemon reads it).
			zw := gzip.NewWriter(counter)
			if sendErr = cs.writeTo(zw); sendErr == nil {
				sendErr = zw.Close()
			}
		} else {
			sendErr = cs.writeTo(counter)
		}
		pw.CloseWithError(sendErr)
	}()
	resp, err := c.ImageBuild(cmd.Context(), pr, opts)
	pr.CloseWithError(errors.New("build request ended"))
	if err != nil {
		<-sent
		return command.DaemonError(err)
	}
	defer resp.Body.Close()
	select {
	case <-sent:
		// Not when the daemon read the directory in place: the
		// writer then ended on the closed pipe, having sent nothing.
		if !o.quiet && sendErr == nil {
			fmt.Fprintf(out, "Sending build context to Docker daemon  %s\n", units.HumanSizeWithPrecision(float64(counter.n), 4))
		}
	default:
	}
	var id string
	progressOut := out
	// Quiet, the daemon's output is held: on success it is the image ID
	// (what dockerd sends then, with or without an aux ID), on failure the
	// steps' output, shown before the error, as the docker CLI does.
	var held bytes.Buffer
	if o.quiet {
		progressOut = &held
	}
	err = container.DisplayProgress(resp.Body, progressOut, func(aux json.RawMessage) {
		var r struct{ ID string }
		if json.Unmarshal(aux, &r) == nil && r.ID != "" {
			id = r.ID
		}
	})
	if err != nil && o.quiet {
		_, _ = errOut.Write(held.Bytes())
	}
	if err == nil && o.quiet && id == "" {
		if s := strings.TrimSpace(held.String()); strings.HasPrefix(s, "sha256:") && !strings.ContainsAny(s, " \n") {
			id = s
		}
	}
	if err != nil {
		var pe *container.ProgressError
		if errors.As(err, &pe) {
			code := pe.Code
			if code == 0 {
				code = 1
			}
			return &command.StatusError{Code: code, Err: errors.New(pe.Message)}
		}
		return command.DaemonError(err)
	}
	if o.quiet && id != "" {
		fmt.Fprintln(out, id)
	}
	if o.iidfile != "" && id != "" {
		if err := os.WriteFile(o.iidfile, []byte(id), 0o644); err != nil {
			fmt.Fprintf(errOut, "failed to write image ID to %s: %v\n", o.iidfile, err)
			return &command.StatusError{Code: 1, Err: errors.New("")}
		}
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// parsePlatform reads os/arch[/variant].
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func newPruneCommand(copts *client.Options) *cobra.Command {
	var all, force bool
	var filters container.FilterFlag
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  container.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := container.ParseFilters(filters.Values())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !force {
				warning := "WARNING! This will remove all dangling build cache."
				if all {
					warning = "WARNING! This will remove all build cache."
				}
				if !command.Confirm(cmd, warning) {
					return nil // docker's: a "no" ends quietly with exit 0
				}
			}
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := c.BuildCachePrune(cmd.Context(), mobyclient.BuildCachePruneOptions{All: all, Filters: f})
			if err != nil {
				return command.DaemonError(err)
			}
			if len(r.Report.CachesDeleted) > 0 {
				fmt.Fprintln(out, "Deleted build cache objects:")
				for _, id := range r.Report.CachesDeleted {
					fmt.Fprintln(out, id)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", units.HumanSize(float64(r.Report.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filters, "filter", `Provide filter values (e.g. "until=24h")`)
	return cmd
}
