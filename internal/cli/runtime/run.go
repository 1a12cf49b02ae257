package runtime

import (
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	rt "github.com/berth/berth/internal/runtime"
)

func newRunCommand(g *globalOpts) *cobra.Command {
	o := &createOpts{}
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "Create and run a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runContainer(g, o, args[0], detach, keep)
			if err != nil {
				return g.fail(err)
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "detach from the container's process")
	cmd.Flags().BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	return cmd
}

// runContainer is create + start, and unless detached, wait + delete with
// signals forwarded and the terminal (when asked for) relayed.
func runContainer(g *globalOpts, o *createOpts, id string, detach, keep bool) (int, error) {
	ro := o.runtimeOpts(g, id)
	var console *consoleRelay
	if !detach {
		// We wait for the init, so it must stay our descendant.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		// config.json is read once, here; a bundle that cannot be read
		// is left to Create, which reports it in its usual order.
		spec, err := rt.LoadBundleSpec(o.bundle)
		if err == nil {
			ro.Spec = spec
		}
		terminal := spec != nil && spec.Process != nil && spec.Process.Terminal
		if terminal && o.consoleSocket == "" {
			console, err = newConsoleRelay()
			if err != nil {
				return 0, err
			}
			defer console.Close()
			ro.ConsoleConn = console.remote
		}
	}
	// Forward signals from the moment the init exists.
	sigc := make(chan os.Signal, 64)
	if !detach {
		signal.Notify(sigc)
		defer signal.Stop(sigc)
	}
	c, err := rt.Create(ro)
	if err != nil {
		return 0, err
	}
	if console != nil {
		if err := console.receive(); err != nil {
			_ = c.Delete(true)
			return 0, err
		}
	}
	if err := c.Start(); err != nil {
		_ = c.Delete(true)
		return 0, err
	}
	if detach {
		return 0, nil
	}
	if console != nil {
		console.start()
	}
	stop := forwardSignals(sigc, console, func(sig unix.Signal) { _ = c.Signal(sig, false) })
	code, werr := c.Wait()
	stop()
	if console != nil {
		console.drain()
	}
	if !keep {
		if err := c.Delete(true); err != nil && werr == nil {
			werr = err
		}
	}
	return code, werr
}

// forwardSignals relays what arrives on sigc to send, follows window size
// changes for console, and ignores the signals that are ours (SIGCHLD, the
// Go runtime's SIGURG, SIGPIPE). stop ends it.
func forwardSignals(sigc chan os.Signal, console *consoleRelay, send func(unix.Signal)) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigc:
				sig := s.(unix.Signal)
				switch sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				case unix.SIGWINCH:
					if console != nil {
						console.resize()
					}
				default:
					send(sig)
				}
			}
		}
	}()
	return func() { close(done) }
}
