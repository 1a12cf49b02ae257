package system

import (
	"fmt"
	"text/tabwriter"

	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

func newDiskUsageCommand(copts *client.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "df",
		Short: "Show berth disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			du, err := c.DiskUsage(cmd.Context(), mobyclient.DiskUsageOptions{Containers: true, Images: true, BuildCache: true, Volumes: true})
			if err != nil {
				return command.DaemonError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 10, 1, 3, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			row := func(name string, total, active, size, reclaim int64) {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", name, total, active, humanSize(size), humanSize(reclaim))
			}
			row("Images", du.Images.TotalCount, du.Images.ActiveCount, du.Images.TotalSize, du.Images.Reclaimable)
			row("Containers", du.Containers.TotalCount, du.Containers.ActiveCount, du.Containers.TotalSize, du.Containers.Reclaimable)
			row("Local Volumes", du.Volumes.TotalCount, du.Volumes.ActiveCount, du.Volumes.TotalSize, du.Volumes.Reclaimable)
			row("Build Cache", du.BuildCache.TotalCount, du.BuildCache.ActiveCount, du.BuildCache.TotalSize, du.BuildCache.Reclaimable)
			return tw.Flush()
		},
	}
}

// humanSize prints a size in decimal units as docker's df does ("0B", "1.98MB").
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}
