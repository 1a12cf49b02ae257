package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	rt "github.com/berth/berth/internal/runtime"
)

// oomPoll is how often events looks for OOM kills between two stats.
const oomPoll = 200 * time.Millisecond

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
			var oomKills uint64
			for first := true; ; first = false {
				s, err := c.Stats()
				if err != nil {
					return g.Fail(err)
				}
				if first {
					oomKills = s.Memory.EventCount.OOMKill
				}
				b, _ := json.Marshal(event{Type: "stats", ID: c.ID(), Data: s})
				fmt.Printf("%s\n", b)
				if stats {
					return nil
				}
				// Between two stats, an "oom" event for each OOM kill in
				// the container's cgroup, as runc reports them.
				for end := time.Now().Add(interval); time.Now().Before(end); {
					time.Sleep(min(oomPoll, time.Until(end)))
					if c.Status() == rt.Stopped {
						return nil
					}
					if now, err := c.Stats(); err == nil && now.Memory.EventCount.OOMKill > oomKills {
						oomKills = now.Memory.EventCount.OOMKill
						b, _ := json.Marshal(event{Type: "oom", ID: c.ID()})
						fmt.Printf("%s\n", b)
					}
				}
			}
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "display the container's stats then exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "set the stats collection interval")
	return cmd
}
