package container

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

// eachContainer runs fn for every argument, printing the argument after
// each success as docker does; failures are collected into one error
// (exit 1), one line per container.
func eachContainer(cmd *cobra.Command, copts *client.Options, args []string, printName bool, fn func(ctx context.Context, c *client.Client, name string) error) error {
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	var errs []string
	for _, name := range args {
		if err := fn(cmd.Context(), c, name); err != nil {
			var ue *client.UnreachableError
			if errors.As(err, &ue) {
				return command.DaemonError(err)
			}
			var tol tolerated
			if errors.As(err, &tol) {
				fmt.Fprintln(cmd.ErrOrStderr(), tol.error)
				continue
			}
			errs = append(errs, err.Error())
			continue
		}
		if printName {
			fmt.Fprintln(cmd.OutOrStdout(), name)
		}
	}
	if len(errs) > 0 {
		return &command.StatusError{Code: 1, Err: errors.New(strings.Join(errs, "\n"))}
	}
	return nil
}

// tolerated is an error a command prints and does not fail for (rm -f of
// a container that does not exist, as docker's).
type tolerated struct{ error }

func newStopCommand(copts *client.Options, restart bool) *cobra.Command {
	var (
		signal  string
		timeout int
	)
	use, short := "stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers"
	if restart {
		use, short = "restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *int
			if cmd.Flags().Changed("timeout") {
				t = &timeout
			}
			return eachContainer(cmd, copts, args, true, func(ctx context.Context, c *client.Client, name string) error {
				if restart {
					_, err := c.ContainerRestart(ctx, name, mobyclient.ContainerRestartOptions{Signal: signal, Timeout: t})
					return err
				}
				_, err := c.ContainerStop(ctx, name, mobyclient.ContainerStopOptions{Signal: signal, Timeout: t})
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	_ = cmd.Flags().MarkHidden("time")
	return cmd
}

func newKillCommand(copts *client.Options) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, copts, args, true, func(ctx context.Context, c *client.Client, name string) error {
				_, err := c.ContainerKill(ctx, name, mobyclient.ContainerKillOptions{Signal: signal})
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func newPauseCommand(copts *client.Options, unpause bool) *cobra.Command {
	use, short := "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers"
	if unpause {
		use, short = "unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, copts, args, true, func(ctx context.Context, c *client.Client, name string) error {
				if unpause {
					_, err := c.ContainerUnpause(ctx, name, mobyclient.ContainerUnpauseOptions{})
					return err
				}
				_, err := c.ContainerPause(ctx, name, mobyclient.ContainerPauseOptions{})
				return err
			})
		},
	}
}

func newRmCommand(copts *client.Options) *cobra.Command {
	var force, volumes, link bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Remove one or more containers",
		Aliases: []string{"remove"},
		Args:    RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, copts, args, true, func(ctx context.Context, c *client.Client, name string) error {
				name = strings.Trim(name, "/")
				if name == "" {
					return errors.New("container name cannot be empty")
				}
				_, err := c.ContainerRemove(ctx, name, mobyclient.ContainerRemoveOptions{Force: force, RemoveVolumes: volumes, RemoveLinks: link})
				if err != nil && force && cerrdefs.IsNotFound(err) {
					return tolerated{err}
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	cmd.Flags().BoolVarP(&link, "link", "l", false, "Remove the specified link")
	return cmd
}

func newWaitCommand(copts *client.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, copts, args, false, func(ctx context.Context, c *client.Client, name string) error {
				w := c.ContainerWait(ctx, name, mobyclient.ContainerWaitOptions{})
				select {
				case r := <-w.Result:
					if r.Error != nil && r.Error.Message != "" {
						return errors.New(r.Error.Message)
					}
					fmt.Fprintln(cmd.OutOrStdout(), r.StatusCode)
					return nil
				case err := <-w.Error:
					return err
				}
			})
		},
	}
}

func newRenameCommand(copts *client.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			old, nn := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
			if old == "" || nn == "" {
				return &command.StatusError{Code: 1, Err: errors.New("Error: Neither old nor new names may be empty")}
			}
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.ContainerRename(cmd.Context(), old, mobyclient.ContainerRenameOptions{NewName: nn}); err != nil {
				return &command.StatusError{Code: 1, Err: fmt.Errorf("%v\nError: failed to rename container named %s", client.Cause(err), old)}
			}
			return nil
		},
	}
}

func newStartCommand(copts *client.Options) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (attach || interactive) && len(args) > 1 {
				return &command.StatusError{Code: 1, Err: errors.New("you cannot start and attach multiple containers at once")}
			}
			if attach || interactive {
				return startAttached(cmd, copts, args[0], attach, interactive, detachKeys)
			}
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			var failed []string
			for _, name := range args {
				if _, err := c.ContainerStart(cmd.Context(), name, mobyclient.ContainerStartOptions{}); err != nil {
					var ue *client.UnreachableError
					if errors.As(err, &ue) {
						return command.DaemonError(err)
					}
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					failed = append(failed, name)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if len(failed) > 0 {
				return &command.StatusError{Code: 1, Err: fmt.Errorf("Error: failed to start containers: %s", strings.Join(failed, ", "))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// startAttached is `start -a [-i]`: attach, wait for the next exit, start,
// exit with the container's code.
func startAttached(cmd *cobra.Command, copts *client.Options, name string, attach, interactive bool, keys string) error {
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	ins, err := c.ContainerInspect(ctx, name, mobyclient.ContainerInspectOptions{})
	if err != nil {
		return command.DaemonError(err)
	}
	ctr := ins.Container
	cfg := ctr.Config
	stdin := interactive && cfg.OpenStdin
	s := streams{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
	dk := keys
	if dk == "" {
		dk = DefaultDetachKeys
	}
	detach, err := ParseDetachKeys(dk)
	if err != nil {
		return &command.StatusError{Code: 1, Err: err}
	}
	res, err := c.ContainerAttach(ctx, ctr.ID, mobyclient.ContainerAttachOptions{Stream: true, Stdin: stdin, Stdout: true, Stderr: true, DetachKeys: keys})
	if err != nil {
		return command.DaemonError(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wait := c.ContainerWait(wctx, ctr.ID, mobyclient.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := c.ContainerStart(ctx, ctr.ID, mobyclient.ContainerStartOptions{}); err != nil {
		res.Close()
		return command.DaemonError(err)
	}
	if cfg.Tty {
		resizeLoop(wctx, s, func(h, w uint) error {
			_, err := c.ContainerResize(ctx, ctr.ID, mobyclient.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	} else {
		proxySignals(wctx, c, ctr.ID)
	}
	if err := session(wctx, res.HijackedResponse, s, stdin, cfg.Tty, detach); err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return &command.StatusError{Code: 1, Err: err}
	}
	return waitStatus(wait)
}

// waitStatus turns a wait answer into the command's exit.
func waitStatus(wait mobyclient.ContainerWaitResult) error {
	select {
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return &command.StatusError{Code: 1, Err: errors.New(r.Error.Message)}
		}
		if r.StatusCode != 0 {
			return &command.StatusError{Code: int(r.StatusCode)}
		}
		return nil
	case err := <-wait.Error:
		return command.DaemonError(err)
	}
}
