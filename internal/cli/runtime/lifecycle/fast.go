package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	rt "github.com/berth/berth/internal/runtime"
	// The C init, as the embedded image or linked in with cgo (whichever
	// this build has): set up by their packages' init, which must run
	// before this package's init runs a command.
	_ "github.com/berth/berth/internal/runtime/initimage"
	_ "github.com/berth/berth/internal/runtime/nsenter"
)

func init() {
	if len(os.Args) < 3 || os.Args[1] != "runtime" {
		return
	}
	cmd, ok := parseFast(os.Args[2:])
	if !ok {
		return // main's command tree
	}
	if cmd.name == "run" && !cmd.detach {
		// As early as can be: catching them takes a while (NotifySignals),
		// and Create waits for it before it starts the init.
		earlySigs = NotifySignals()
	}
	// Not on this goroutine: it is locked to the main thread while
	// packages are initialised (see doc.go).
	go func() {
		// A time slice of its own first: run next after this goroutine
		// blocks, it would inherit this one's, which began with the
		// package initialisers, and Go's sysmon preempts a slice over 10
		// ms; the command, put back on the global queue, then waited for
		// an idle P's thread to wake (0.8 ms under PVM, in a third of the
		// runs there, by the execution tracer).
		runtime.Gosched()
		code := cmd.run()
		// Once per binary and boot: the binary's page cache back in 2 MB
		// folios, by a refresher that waits for this process to exit.
		rt.KeepBinaryCached(false)
		os.Exit(code)
	}()
	select {}
}

// fastCmd is one parsed fast-path command line.
type fastCmd struct {
	g      *Global
	name   string
	args   []string
	create CreateOpts
	detach bool // run
	keep   bool // run
	force  bool // delete
	all    bool // kill
}

// parseFast parses args (after "runtime") when they are a fast-path
// command line; ok is false for anything else.
func parseFast(args []string) (c *fastCmd, ok bool) {
	c = &fastCmd{g: NewGlobal(), create: CreateOpts{Bundle: "."}}
	// Global flags, then the command.
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		var dst *string
		switch name {
		case "--root":
			dst = &c.g.Root
		case "--log":
			dst = &c.g.Log
		case "--log-format":
			dst = &c.g.LogFormat
		case "--debug":
			if hasVal && val != "true" && val != "false" {
				return nil, false
			}
			c.g.Debug = !hasVal || val == "true"
			continue
		default:
			return nil, false
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, false
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	if i >= len(args) || c.g.Check() != nil {
		return nil, false
	}
	c.name = args[i]
	var known map[string]any
	switch c.name {
	case "create":
		known = c.createFlags()
	case "run":
		known = c.createFlags()
		known["--detach"], known["-d"], known["--keep"] = &c.detach, &c.detach, &c.keep
	case "delete":
		known = map[string]any{"--force": &c.force, "-f": &c.force}
	case "kill":
		known = map[string]any{"--all": &c.all, "-a": &c.all}
	case "start", "state":
		known = map[string]any{}
	default:
		return nil, false
	}
	// The command's flags may come before or after its arguments, as
	// the command tree (pflag) allows.
	for i++; i < len(args); i++ {
		a := args[i]
		if a == "-" || !strings.HasPrefix(a, "-") {
			c.args = append(c.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		dst, ok := known[name]
		if !ok { // unknown, --help, "--"
			return nil, false
		}
		if b, isBool := dst.(*bool); isBool {
			if hasVal && val != "true" && val != "false" {
				return nil, false
			}
			*b = !hasVal || val == "true"
			continue
		}
		if !hasVal { // --flag value
			if i+1 >= len(args) {
				return nil, false
			}
			i++
			val = args[i]
		}
		switch dst := dst.(type) {
		case *string:
			*dst = val
		case *int:
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, false
			}
			*dst = n
		}
	}
	want := 1
	if c.name == "kill" && len(c.args) == 2 {
		want = 2
	}
	if len(c.args) != want {
		return nil, false
	}
	return c, true
}

func (c *fastCmd) createFlags() map[string]any {
	o := &c.create
	return map[string]any{
		"--bundle": &o.Bundle, "-b": &o.Bundle,
		"--console-socket": &o.ConsoleSocket,
		"--pid-file":       &o.PidFile,
		"--no-pivot":       &o.NoPivot,
		"--no-new-keyring": &o.NoNewKeyring,
		"--preserve-fds":   &o.PreserveFds,
	}
}

// run runs the command and returns the process's exit status, printing
// errors as the command tree does.
func (c *fastCmd) run() int {
	id := c.args[0]
	var err error
	switch c.name {
	case "create":
		err = Create(c.g, &c.create, id)
	case "start":
		err = Start(c.g, id)
	case "run":
		var code int
		code, err = Run(c.g, &c.create, id, c.detach, c.keep)
		if err == nil && code != 0 {
			err = &ExitError{Code: code}
		} else {
			err = c.g.Fail(err)
		}
	case "state":
		err = State(c.g, id)
	case "kill":
		sig := ""
		if len(c.args) == 2 {
			sig = c.args[1]
		}
		err = Kill(c.g, id, sig, c.all)
	case "delete":
		err = Delete(c.g, id, c.force)
	}
	return ExitCode(err)
}

// ExitCode prints err as `berth runtime` does and returns the exit status:
// an ExitError's code, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(os.Stderr, "berth:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(os.Stderr, "berth:", err)
	return 1
}
