package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/runtime/lifecycle"
	rt "github.com/berth/berth/internal/runtime"
)

func newStateCommand(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "state <container-id>",
		Short: "Output the state of a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return lifecycle.State(g, args[0])
		},
	}
}

func newListCommand(g *globalOpts) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List containers started by berth with the given root",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := rt.List(g.Root)
			if err != nil {
				return g.Fail(err)
			}
			if quiet {
				for _, c := range cs {
					fmt.Println(c.ID())
				}
				return nil
			}
			switch format {
			case "json":
				out := make([]lifecycle.StateJSON, 0, len(cs))
				for _, c := range cs {
					out = append(out, listed(g, c))
				}
				b, err := json.Marshal(out)
				if err != nil {
					return err
				}
				fmt.Printf("%s\n", b)
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, c := range cs {
					s := listed(g, c)
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			default:
				return g.Fail(fmt.Errorf("invalid format option %q", format))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "select one of: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "display only container IDs")
	return cmd
}

// listed is c's line of `list`: its state, with runc's owner there, the
// name of the user who owns the container's state directory.
func listed(g *globalOpts, c *rt.Container) lifecycle.StateJSON {
	s := lifecycle.ToStateJSON(c)
	if s.Owner == "" {
		if fi, err := os.Stat(filepath.Join(g.Root, c.ID())); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				uid := strconv.FormatUint(uint64(st.Uid), 10)
				s.Owner = "#" + uid
				if u, err := user.LookupId(uid); err == nil {
					s.Owner = u.Username
				}
			}
		}
	}
	return s
}
