package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	rt "github.com/berth/berth/internal/runtime"
)

type event struct {
	Type string      `json:"type"`
	ID   string      `json:"id"`
	Data interface{} `json:"data,omitempty"`
}

func newEventsCommand(g *globalOpts) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [flags] <container-id>",
		Short: "Display container events such as OOM notifications and resource usage statistics",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return g.Fail(errors.New("duration interval must be greater than 0"))
			}
			c, err := g.Load(args[0])
			if err != nil {
				return g.Fail(err)
			}
			if c.Status() == rt.Stopped {
				return g.Fail(fmt.Errorf("container with id %s is not running", args[0]))
			}
			for {
				s, err := c.Stats()
				if err != nil {
					return g.Fail(err)
				}
				b, _ := json.Marshal(event{Type: "stats", ID: c.ID(), Data: s})
				fmt.Printf("%s\n", b)
				if stats {
					return nil
				}
				time.Sleep(interval)
				if c.Status() == rt.Stopped {
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "display the container's stats then exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "set the stats collection interval")
	return cmd
}
