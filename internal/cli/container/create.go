package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/spf13/cobra"

	mobyclient "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

func newCreateCommand(copts *client.Options) *cobra.Command {
	o := newCreateOptions()
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := o.parse(cmd.Flags(), args[0], args[1:])
			if err != nil {
				return runError(cmd, err, 125)
			}
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			id, err := createContainer(cmd.Context(), c, cmd.ErrOrStderr(), o, cc)
			if err != nil {
				// docker create reports what the daemon refused as it
				// is, exit 1 (docker run: 125, with the help line).
				return command.DaemonError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// runError is docker's run/create failure shape:
// "berth: <error>\n\nRun 'berth run --help' for more information".
func runError(cmd *cobra.Command, err error, code int) error {
	msg := client.Cause(err).Error()
	var se *command.StatusError
	if errors.As(err, &se) && se.Err != nil {
		msg = se.Err.Error()
	}
	return &command.StatusError{Code: code, Err: fmt.Errorf("%s: %s\n\nRun '%s --help' for more information", cmd.Root().Name(), msg, cmd.CommandPath())}
}

// Argument-count checks with docker's messages (exit 1):
// "berth: 'berth run' requires at least 1 argument", the usage line, and
// where to get help.

func argsError(cmd *cobra.Command, format string, more string, a ...any) error {
	usage := cmd.Use
	if cmd.HasParent() {
		usage = cmd.Parent().CommandPath() + " " + cmd.Use
	}
	msg := fmt.Sprintf(format, a...)
	return &command.StatusError{Code: 1, Err: fmt.Errorf("%s: %s\n\nUsage:  %s\n\n%s '%s --help' for more information", cmd.Root().Name(), msg, usage, more, cmd.CommandPath())}
}

func plural(n int) string {
	if n == 1 {
		return "argument"
	}
	return "arguments"
}

// RequiresMinArgs is docker's cli.RequiresMinArgs.
func RequiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, "'%s' requires at least %d %s", "See", cmd.CommandPath(), n, plural(n))
	}
}

// RequiresMaxArgs is docker's cli.RequiresMaxArgs.
func RequiresMaxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		// "SRun" is docker 28's own spelling here.
		return argsError(cmd, "'%s' requires at most %d %s", "SRun", cmd.CommandPath(), n, plural(n))
	}
}

// RequiresRangeArgs is docker's cli.RequiresRangeArgs.
func RequiresRangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, "'%s' requires at least %d and at most %d %s", "Run", cmd.CommandPath(), lo, hi, plural(hi))
	}
}

// ExactArgs is docker's cli.ExactArgs.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, "'%s' requires %d %s", "Run", cmd.CommandPath(), n, plural(n))
	}
}

// NoArgs is docker's cli.NoArgs: "unknown command" on a group.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return argsError(cmd, "unknown command: %s %s", "Run", cmd.CommandPath(), args[0])
	}
	return argsError(cmd, "'%s' accepts no arguments", "Run", cmd.CommandPath())
}

// createContainer creates the container, pulling the image first when
// --pull says so or the daemon does not have it, prints the daemon's
// warnings, and writes --cidfile.
func createContainer(ctx context.Context, c *client.Client, stderr io.Writer, o *createOptions, cc *containerConfig) (string, error) {
	if o.cidfile != "" {
		if _, err := os.Stat(o.cidfile); err == nil {
			return "", fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", o.cidfile)
		}
	}
	var platform *ocispec.Platform
	if o.platform != "" {
		os_, arch, _ := strings.Cut(o.platform, "/")
		arch, variant, _ := strings.Cut(arch, "/")
		platform = &ocispec.Platform{OS: os_, Architecture: arch, Variant: variant}
	}
	image := cc.Config.Image
	pull := func() error {
		resp, err := c.ImagePull(ctx, fullRef(image), mobyclient.ImagePullOptions{Platforms: platformList(platform), RegistryAuth: RegistryAuth(image)})
		if err != nil {
			return err
		}
		defer resp.Close()
		var out io.Writer = stderr
		if o.quiet {
			out = io.Discard
		}
		return DisplayProgress(resp, out, nil)
	}
	switch o.pull {
	case "always":
		if err := pull(); err != nil {
			return "", err
		}
	case "missing", "never", "":
	default:
		return "", fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, o.pull)
	}
	opts := mobyclient.ContainerCreateOptions{Config: cc.Config, HostConfig: cc.HostConfig, NetworkingConfig: cc.Network, Platform: platform, Name: o.name}
	res, err := c.ContainerCreate(ctx, opts)
	if err != nil && cerrdefs.IsNotFound(err) && o.pull == "missing" && strings.Contains(err.Error(), "image") {
		if !o.quiet {
			fmt.Fprintf(stderr, "Unable to find image '%s' locally\n", familiarRef(image))
		}
		if perr := pull(); perr != nil {
			return "", perr
		}
		res, err = c.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "WARNING: %s\n", w)
	}
	if o.cidfile != "" {
		if err := os.WriteFile(o.cidfile, []byte(res.ID), 0o644); err != nil {
			return "", fmt.Errorf("failed to write the container ID to the file: %w", err)
		}
	}
	return res.ID, nil
}

func platformList(p *ocispec.Platform) []ocispec.Platform {
	if p == nil {
		return nil
	}
	return []ocispec.Platform{*p}
}

// fullRef adds ":latest" to a reference without tag or digest.
func fullRef(s string) string {
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.TagNameOnly(ref).String()
}

// familiarRef is "busybox:latest" for "busybox".
func familiarRef(s string) string {
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.FamiliarString(reference.TagNameOnly(ref))
}
