package container

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

const defaultStatsFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeaders = map[string]string{"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}

func newStatsCommand(copts *client.Options) *cobra.Command {
	var noStream, noTrunc, all bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" || format == "table" {
				format = defaultStatsFormat
			}
			return connectDo(copts, func(c *client.Client) error {
				ctx := cmd.Context()
				names := args
				if len(names) == 0 {
					l, err := c.ContainerList(ctx, mobyclient.ContainerListOptions{All: all})
					if err != nil {
						return err
					}
					for _, s := range l.Items {
						names = append(names, s.ID)
					}
				}
				if !noStream {
					return streamStats(cmd, c, names, format, !noTrunc)
				}
				var rows []any
				for _, n := range names {
					r, err := c.ContainerStats(ctx, n, mobyclient.ContainerStatsOptions{Stream: false, IncludePreviousSample: true})
					if err != nil {
						return err
					}
					var st container.StatsResponse
					err = json.NewDecoder(r.Body).Decode(&st)
					r.Body.Close()
					if err != nil {
						return fmt.Errorf("stats of %s: %w", n, err)
					}
					rows = append(rows, &statsRow{s: st, arg: n, trunc: !noTrunc})
				}
				return Render(cmd.OutOrStdout(), format, statsHeaders, rows)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

// streamStats redraws the table in place as docker does (cursor home,
// erase to end of line and below) each time a sample arrives, until every stream ends or the command is
// interrupted.
func streamStats(cmd *cobra.Command, c *client.Client, names []string, format string, trunc bool) error {
	ctx := cmd.Context()
	type sample struct {
		i int
		s container.StatsResponse
	}
	ch := make(chan sample)
	ended := make(chan error, len(names))
	for i, n := range names {
		r, err := c.ContainerStats(ctx, n, mobyclient.ContainerStatsOptions{Stream: true})
		if err != nil {
			return err
		}
		go func() {
			defer r.Body.Close()
			dec := json.NewDecoder(r.Body)
			for {
				var st container.StatsResponse
				if err := dec.Decode(&st); err != nil {
					ended <- nil
					return
				}
				select {
				case ch <- sample{i, st}:
				case <-ctx.Done():
					ended <- nil
					return
				}
			}
		}()
	}
	rows := make([]*statsRow, len(names))
	for i, n := range names {
		rows[i] = &statsRow{arg: n, trunc: trunc}
		rows[i].s.ID, rows[i].s.Name = n, n
	}
	live := len(names)
	for live > 0 {
		select {
		case s := <-ch:
			rows[s.i].s = s.s
			var out []any
			for _, r := range rows {
				out = append(out, r)
			}
			var b strings.Builder
			if err := Render(&b, format, statsHeaders, out); err != nil {
				return err
			}
			// Home, each line then erase to its end, erase below.
			frame := "\x1b[H" + strings.ReplaceAll(b.String(), "\n", "\x1b[K\n") + "\x1b[J"
			if _, err := io.WriteString(cmd.OutOrStdout(), frame); err != nil {
				return err
			}
		case <-ended:
			live--
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

type statsRow struct {
	s     container.StatsResponse
	arg   string
	trunc bool
}

func (r *statsRow) MarshalJSON() ([]byte, error) { return MarshalMethods(r) }
func (r *statsRow) Container() string            { return r.arg }
func (r *statsRow) Name() string                 { return strings.TrimPrefix(r.s.Name, "/") }
func (r *statsRow) ID() string {
	if r.trunc {
		return TruncateID(r.s.ID)
	}
	return r.s.ID
}
func (r *statsRow) CPUPerc() string {
	cpu := float64(r.s.CPUStats.CPUUsage.TotalUsage) - float64(r.s.PreCPUStats.CPUUsage.TotalUsage)
	sys := float64(r.s.CPUStats.SystemUsage) - float64(r.s.PreCPUStats.SystemUsage)
	n := float64(r.s.CPUStats.OnlineCPUs)
	if n == 0 {
		n = float64(len(r.s.CPUStats.CPUUsage.PercpuUsage))
	}
	p := 0.0
	if sys > 0 && cpu > 0 {
		p = cpu / sys * n * 100
	}
	return fmt.Sprintf("%.2f%%", p)
}
func (r *statsRow) mem() float64 {
	m := float64(r.s.MemoryStats.Usage)
	if v, ok := r.s.MemoryStats.Stats["total_inactive_file"]; ok && float64(v) < m {
		m -= float64(v)
	} else if v, ok := r.s.MemoryStats.Stats["inactive_file"]; ok && float64(v) < m {
		m -= float64(v)
	}
	return m
}
func (r *statsRow) MemUsage() string {
	return units.BytesSize(r.mem()) + " / " + units.BytesSize(float64(r.s.MemoryStats.Limit))
}
func (r *statsRow) MemPerc() string {
	if r.s.MemoryStats.Limit == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", r.mem()/float64(r.s.MemoryStats.Limit)*100)
}
func (r *statsRow) NetIO() string {
	var rx, tx float64
	for _, n := range r.s.Networks {
		rx += float64(n.RxBytes)
		tx += float64(n.TxBytes)
	}
	return units.HumanSizeWithPrecision(rx, 3) + " / " + units.HumanSizeWithPrecision(tx, 3)
}
func (r *statsRow) BlockIO() string {
	var rd, wr float64
	for _, e := range r.s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			rd += float64(e.Value)
		case "write":
			wr += float64(e.Value)
		}
	}
	return units.HumanSizeWithPrecision(rd, 3) + " / " + units.HumanSizeWithPrecision(wr, 3)
}
func (r *statsRow) PIDs() string { return fmt.Sprint(r.s.PidsStats.Current) }

var _ = command.UsageError
