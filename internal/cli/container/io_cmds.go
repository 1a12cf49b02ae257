package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/api/pkg/stdcopy"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

func newLogsCommand(copts *client.Options) *cobra.Command {
	var o mobyclient.ContainerLogsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			ins, err := c.ContainerInspect(ctx, args[0], mobyclient.ContainerInspectOptions{})
			if err != nil {
				return command.DaemonError(err)
			}
			o.ShowStdout, o.ShowStderr = true, true
			r, err := c.ContainerLogs(ctx, ins.Container.ID, o)
			if err != nil {
				return command.DaemonError(err)
			}
			defer r.Close()
			if ins.Container.Config.Tty {
				_, err = io.Copy(cmd.OutOrStdout(), r)
			} else {
				_, err = stdcopy.StdCopy(cmd.OutOrStdout(), cmd.ErrOrStderr(), r)
			}
			if err != nil {
				return command.DaemonError(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	f.StringVar(&o.Since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.StringVar(&o.Until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	f.BoolVar(&o.Details, "details", false, "Show extra details provided to logs")
	f.StringVarP(&o.Tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

type execOptions struct {
	detach, interactive, tty, privileged bool
	user, workdir, detachKeys            string
	env, envFile                         []string
}

func newExecCommand(copts *client.Options) *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  RequiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd, copts, o, args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&o.envFile, "env-file", nil, "Read in a file of environment variables")
	return cmd
}

func runExec(cmd *cobra.Command, copts *client.Options, o execOptions, name string, argv []string) error {
	s := streams{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
	if o.tty && o.interactive {
		if _, ok := s.inFd(); !ok {
			return &command.StatusError{Code: 1, Err: errors.New("the input device is not a TTY")}
		}
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	if _, err := c.ContainerInspect(ctx, name, mobyclient.ContainerInspectOptions{}); err != nil {
		return command.DaemonError(err)
	}
	env, err := readEnv(o.envFile, o.env)
	if err != nil {
		return &command.StatusError{Code: 125, Err: err}
	}
	eo := mobyclient.ExecCreateOptions{User: o.user, Privileged: o.privileged, TTY: o.tty, AttachStdin: o.interactive && !o.detach,
		AttachStdout: !o.detach, AttachStderr: !o.detach, DetachKeys: o.detachKeys, Env: env, WorkingDir: o.workdir, Cmd: argv}
	var size mobyclient.ConsoleSize
	if o.tty {
		if fd, ok := s.outFd(); ok {
			if w, h, err := termSize(fd); err == nil {
				size = mobyclient.ConsoleSize{Height: h, Width: w}
				eo.ConsoleSize = size
			}
		}
	}
	ex, err := c.ExecCreate(ctx, name, eo)
	if err != nil {
		return command.DaemonError(err)
	}
	if o.detach {
		if _, err := c.ExecStart(ctx, ex.ID, mobyclient.ExecStartOptions{Detach: true, TTY: o.tty, ConsoleSize: size}); err != nil {
			return command.DaemonError(err)
		}
		return nil
	}
	res, err := c.ExecAttach(ctx, ex.ID, mobyclient.ExecAttachOptions{TTY: o.tty, ConsoleSize: size})
	if err != nil {
		return command.DaemonError(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.tty {
		resizeLoop(sctx, s, func(h, w uint) error {
			_, err := c.ExecResize(ctx, ex.ID, mobyclient.ExecResizeOptions{Height: h, Width: w})
			return err
		})
	}
	keys := o.detachKeys
	if keys == "" {
		keys = DefaultDetachKeys
	}
	dk, err := ParseDetachKeys(keys)
	if err != nil {
		return &command.StatusError{Code: 125, Err: err}
	}
	if err := session(sctx, res.HijackedResponse, s, o.interactive, o.tty, dk); err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return &command.StatusError{Code: 1, Err: err}
	}
	st, err := c.ExecInspect(ctx, ex.ID, mobyclient.ExecInspectOptions{})
	if err != nil {
		return command.DaemonError(err)
	}
	if st.ExitCode != 0 {
		return &command.StatusError{Code: st.ExitCode}
	}
	return nil
}

func readEnv(files, env []string) ([]string, error) {
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		for _, line := range splitLines(string(b)) {
			out = append(out, line)
		}
	}
	for _, e := range env {
		if _, _, ok := cut(e, "="); !ok {
			if v, ok := os.LookupEnv(e); ok {
				e = e + "=" + v
			} else {
				continue
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func newAttachCommand(copts *client.Options) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			wait := c.ContainerWait(wctx, args[0], mobyclient.ContainerWaitOptions{})
			ins, err := c.ContainerInspect(ctx, args[0], mobyclient.ContainerInspectOptions{})
			if err != nil {
				return command.DaemonError(err)
			}
			ctr := ins.Container
			if !ctr.State.Running {
				return &command.StatusError{Code: 1, Err: errors.New("You cannot attach to a stopped container, start it first")}
			}
			if ctr.State.Paused {
				return &command.StatusError{Code: 1, Err: errors.New("You cannot attach to a paused container, unpause it first")}
			}
			stdin := !noStdin && ctr.Config.OpenStdin
			s := streams{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
			if ctr.Config.Tty && stdin {
				if _, ok := s.inFd(); !ok {
					return &command.StatusError{Code: 1, Err: errors.New("the input device is not a TTY")}
				}
			}
			keys := detachKeys
			if keys == "" {
				keys = DefaultDetachKeys
			}
			dk, err := ParseDetachKeys(keys)
			if err != nil {
				return &command.StatusError{Code: 1, Err: err}
			}
			res, err := c.ContainerAttach(ctx, ctr.ID, mobyclient.ContainerAttachOptions{Stream: true, Stdin: stdin, Stdout: true, Stderr: true, DetachKeys: detachKeys})
			if err != nil {
				return command.DaemonError(err)
			}
			if ctr.Config.Tty {
				resizeLoop(wctx, s, func(h, w uint) error {
					_, err := c.ContainerResize(ctx, ctr.ID, mobyclient.ContainerResizeOptions{Height: h, Width: w})
					return err
				})
			} else if sigProxy {
				proxySignals(wctx, c, ctr.ID)
			}
			if err := session(wctx, res.HijackedResponse, s, stdin, ctr.Config.Tty, dk); err != nil {
				return &command.StatusError{Code: 1, Err: err}
			}
			return waitStatus(wait)
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}
