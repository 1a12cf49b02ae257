package container

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

type runOptions struct {
	*createOptions
	detach     bool
	sigProxy   bool
	detachKeys string
}

func newRunCommand(copts *client.Options) *cobra.Command {
	o := runOptions{createOptions: newCreateOptions()}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, copts, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	o.addFlags(f)
	return cmd
}

func runRun(cmd *cobra.Command, copts *client.Options, o runOptions, args []string) error {
	cc, err := o.parse(cmd.Flags(), args[0], args[1:])
	if err != nil {
		return runError(cmd, err, 125)
	}
	cfg := cc.Config
	s := streams{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
	if o.detach {
		if o.attach.Len() > 0 {
			return &command.StatusError{Code: 1, Err: errors.New("conflicting options: cannot specify both --attach and --detach")}
		}
		cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr, cfg.StdinOnce = false, false, false, false
	}
	if cfg.Tty && cfg.AttachStdin {
		if _, ok := s.inFd(); !ok {
			return &command.StatusError{Code: 1, Err: errors.New("the input device is not a TTY")}
		}
	}
	if cfg.Tty {
		o.sigProxy = false
		if fd, ok := s.outFd(); ok {
			if w, h, err := termSize(fd); err == nil {
				cc.HostConfig.ConsoleSize = [2]uint{h, w}
			}
		}
	}
	keys := DefaultDetachKeys
	if o.detachKeys != "" {
		keys = o.detachKeys
	}
	detachKeys, err := ParseDetachKeys(keys)
	if err != nil {
		return runError(cmd, err, 125)
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	id, err := createContainer(ctx, c, s.err, o.createOptions, cc)
	if err != nil {
		return runError(cmd, err, 125)
	}
	if o.detach {
		if _, err := c.ContainerStart(ctx, id, mobyclient.ContainerStartOptions{}); err != nil {
			return startError(cmd, err)
		}
		fmt.Fprintln(s.out, id)
		return nil
	}
	attached := cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr
	var hr mobyclient.HijackedResponse
	if attached {
		res, err := c.ContainerAttach(ctx, id, mobyclient.ContainerAttachOptions{Stream: true, Stdin: cfg.AttachStdin, Stdout: cfg.AttachStdout, Stderr: cfg.AttachStderr, DetachKeys: o.detachKeys})
		if err != nil {
			return runError(cmd, err, 125)
		}
		hr = res.HijackedResponse
	}
	cond := container.WaitConditionNextExit
	if cc.HostConfig.AutoRemove {
		cond = container.WaitConditionRemoved
	}
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	wait := c.ContainerWait(waitCtx, id, mobyclient.ContainerWaitOptions{Condition: cond})
	if _, err := c.ContainerStart(ctx, id, mobyclient.ContainerStartOptions{}); err != nil {
		if attached {
			hr.Close()
		}
		if cc.HostConfig.AutoRemove {
			<-wait.Result
		}
		return startError(cmd, err)
	}
	sessCtx, cancelSess := context.WithCancel(ctx)
	defer cancelSess()
	if cfg.Tty {
		resizeLoop(sessCtx, s, func(h, w uint) error {
			_, err := c.ContainerResize(ctx, id, mobyclient.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	}
	if o.sigProxy {
		proxySignals(sessCtx, c, id)
	}
	if attached {
		if err := session(sessCtx, hr, s, cfg.AttachStdin, cfg.Tty, detachKeys); err != nil {
			if errors.Is(err, errDetached) {
				return nil
			}
			return &command.StatusError{Code: 1, Err: err}
		}
	}
	select {
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return &command.StatusError{Code: 125, Err: errors.New(r.Error.Message)}
		}
		if r.StatusCode != 0 {
			return &command.StatusError{Code: int(r.StatusCode)}
		}
		return nil
	case err := <-wait.Error:
		return &command.StatusError{Code: 125, Err: client.Cause(err)}
	}
}

// startError is docker's mapping of a failed start: 127 when the command
// does not exist, 126 when it cannot be run, 125 otherwise.
func startError(cmd *cobra.Command, err error) error {
	msg := client.Cause(err).Error()
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		code = 127
	case strings.Contains(msg, syscall.EACCES.Error()) || strings.Contains(msg, syscall.EISDIR.Error()):
		code = 126
	}
	return runError(cmd, err, code)
}
