package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newPsCommand(g *globalOpts) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [flags] <container-id> [ps options]",
		Short: "Display the processes running inside a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Load(args[0])
			if err != nil {
				return g.Fail(err)
			}
			pids, err := c.Processes()
			if err != nil {
				return g.Fail(err)
			}
			switch format {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				b, _ := json.Marshal(pids)
				fmt.Printf("%s\n", b)
				return nil
			case "table":
			default:
				return g.Fail(fmt.Errorf("invalid format option %q", format))
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return g.Fail(fmt.Errorf("ps: %w", err))
			}
			return g.Fail(filterPs(out, pids))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "select one of: table or json")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// filterPs prints ps's header and the lines of the given pids.
func filterPs(out []byte, pids []int) error {
	lines := strings.Split(string(bytes.TrimRight(out, "\n")), "\n")
	if len(lines) == 0 {
		return nil
	}
	pidCol := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return fmt.Errorf("ps output has no PID column")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	fmt.Fprintln(os.Stdout, lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= pidCol {
			continue
		}
		if p, err := strconv.Atoi(f[pidCol]); err == nil && want[p] {
			fmt.Fprintln(os.Stdout, l)
		}
	}
	return nil
}
