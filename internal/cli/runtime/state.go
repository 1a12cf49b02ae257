package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	rt "github.com/berth/berth/internal/runtime"
)

// stateJSON is `state` output, with runc's field names.
type stateJSON struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func toStateJSON(c *rt.Container) stateJSON {
	st := c.OCIState()
	return stateJSON{
		OCIVersion:  st.Version,
		ID:          st.ID,
		Pid:         st.Pid,
		Status:      string(st.Status),
		Bundle:      st.Bundle,
		Rootfs:      c.State.Rootfs,
		Created:     c.State.Created,
		Owner:       c.State.Owner,
		Annotations: st.Annotations,
	}
}

func newStateCommand(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "state <container-id>",
		Short: "Output the state of a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return g.fail(err)
			}
			b, err := json.MarshalIndent(toStateJSON(c), "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "%s\n", b)
			return nil
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
			cs, err := rt.List(g.root)
			if err != nil {
				return g.fail(err)
			}
			if quiet {
				for _, c := range cs {
					fmt.Println(c.ID())
				}
				return nil
			}
			switch format {
			case "json":
				out := make([]stateJSON, 0, len(cs))
				for _, c := range cs {
					out = append(out, toStateJSON(c))
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
					s := toStateJSON(c)
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			default:
				return g.fail(fmt.Errorf("invalid format option %q", format))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "select one of: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "display only container IDs")
	return cmd
}
