package system

import (
	"bytes"
	"errors"
	"fmt"
	"text/template"

	"github.com/docker/go-units"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

// pruneWarning is docker's confirmation text of system prune.
var pruneWarning = template.Must(template.New("").Parse(`WARNING! This will remove:
{{- range .Warnings}}
  - {{.}}
{{- end}}
{{- if .Filters}}

  Items to be pruned will be filtered with:
{{- range .Filters}}
  - {{.}}
{{- end}}
{{- end}}
`))

// newPruneCommand is `system prune`: stopped containers, unused networks,
// dangling (with -a unused) images and build cache, and with --volumes
// unused anonymous volumes, each with its own prune, then the total.
func newPruneCommand(copts *client.Options) *cobra.Command {
	var all, force, volumes bool
	var filters container.FilterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  container.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			parse := func() (mobyclient.Filters, error) { return container.ParseFilters(filters.Values()) }
			f, err := parse()
			if err != nil {
				return err
			}
			if _, ok := f["until"]; ok && volumes {
				return &command.StatusError{Code: 125, Err: errors.New(`ERROR: The "until" filter is not supported with "--volumes"`)}
			}
			if !force {
				warnings := []string{"all stopped containers", "all networks not used by at least one container"}
				if volumes {
					warnings = append(warnings, "all anonymous volumes not used by at least one container")
				}
				if all {
					warnings = append(warnings, "all images without at least one container associated to them", "all build cache")
				} else {
					warnings = append(warnings, "all dangling images", "unused build cache")
				}
				var b bytes.Buffer
				_ = pruneWarning.Execute(&b, map[string]any{"Warnings": warnings, "Filters": filters.Values()})
				if !command.Confirm(cmd, b.String()) {
					return nil // docker's: a "no" ends quietly with exit 0
				}
			}
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			var reclaimed uint64
			section := func(title string, items []string) {
				if len(items) == 0 {
					return
				}
				fmt.Fprintln(out, title)
				for _, it := range items {
					fmt.Fprintln(out, it)
				}
				fmt.Fprintln(out)
			}
			cr, err := c.ContainerPrune(ctx, mobyclient.ContainerPruneOptions{Filters: f})
			if err != nil {
				return command.DaemonError(err)
			}
			reclaimed += cr.Report.SpaceReclaimed
			section("Deleted Containers:", cr.Report.ContainersDeleted)
			f, _ = parse()
			nr, err := c.NetworkPrune(ctx, mobyclient.NetworkPruneOptions{Filters: f})
			if err != nil {
				return command.DaemonError(err)
			}
			section("Deleted Networks:", nr.Report.NetworksDeleted)
			if volumes {
				f, _ = parse()
				vr, err := c.VolumePrune(ctx, mobyclient.VolumePruneOptions{Filters: f})
				if err != nil {
					return command.DaemonError(err)
				}
				reclaimed += vr.Report.SpaceReclaimed
				section("Deleted Volumes:", vr.Report.VolumesDeleted)
			}
			f, _ = parse()
			f.Add("dangling", fmt.Sprint(!all))
			ir, err := c.ImagePrune(ctx, mobyclient.ImagePruneOptions{Filters: f})
			if err != nil {
				return command.DaemonError(err)
			}
			reclaimed += ir.Report.SpaceReclaimed
			var images []string
			for _, d := range ir.Report.ImagesDeleted {
				if d.Untagged != "" {
					images = append(images, "untagged: "+d.Untagged)
				} else {
					images = append(images, "deleted: "+d.Deleted)
				}
			}
			section("Deleted Images:", images)
			f, _ = parse()
			br, err := c.BuildCachePrune(ctx, mobyclient.BuildCachePruneOptions{All: all, Filters: f})
			if err != nil {
				return command.DaemonError(err)
			}
			reclaimed += br.Report.SpaceReclaimed
			section("Deleted build cache objects:", br.Report.CachesDeleted)
			fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	fl.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fl.BoolVar(&volumes, "volumes", false, "Prune anonymous volumes")
	fl.Var(&filters, "filter", `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}
