package volume

import (
	"sort"
	"strconv"
	"strings"

	"github.com/docker/cli/opts"
	"github.com/docker/go-units"
	mvolume "github.com/moby/moby/api/types/volume"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

const (
	defaultListFormat = "table {{.Driver}}\t{{.Name}}"
	quietListFormat   = "{{.Name}}"
)

var listHeaders = map[string]string{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
	"Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS", "ID": "ID",
}

type listOptions struct {
	quiet  bool
	format string
	filter opts.FilterOpt
}

func newListCommand(copts *client.Options) *cobra.Command {
	o := listOptions{filter: opts.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.VolumeList(cmd.Context(), mobyclient.VolumeListOptions{Filters: o.filter.Value()})
				if err != nil {
					return err
				}
				format := o.format
				switch {
				case format == "" || format == "table":
					format = defaultListFormat
					if o.quiet {
						format = quietListFormat
					}
				case format == "raw":
					format = `name: {{.Name}}\ndriver: {{.Driver}}\n`
					if o.quiet {
						format = `name: {{.Name}}`
					}
				}
				items := res.Items
				sort.SliceStable(items, func(i, j int) bool { return command.NaturalLess(items[i].Name, items[j].Name) })
				rows := make([]any, 0, len(items))
				for _, v := range items {
					rows = append(rows, &row{v: v})
				}
				return container.Render(cmd.OutOrStdout(), format, listHeaders, rows)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display volume names")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates")
	f.VarP(&o.filter, "filter", "f", `Provide filter values (e.g. "dangling=true")`)
	return cmd
}

// row is the formatting context of one `volume ls` line, with docker's
// fields.
type row struct{ v mvolume.Volume }

func (r *row) MarshalJSON() ([]byte, error) { return container.MarshalMethods(r) }
func (r *row) Name() string                 { return r.v.Name }
func (r *row) Driver() string               { return r.v.Driver }
func (r *row) Scope() string                { return r.v.Scope }
func (r *row) Mountpoint() string           { return r.v.Mountpoint }
func (r *row) Labels() string {
	if r.v.Labels == nil {
		return ""
	}
	l := make([]string, 0, len(r.v.Labels))
	for k, v := range r.v.Labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}
func (r *row) Label(name string) string { return r.v.Labels[name] }
func (r *row) Links() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return strconv.FormatInt(r.v.UsageData.RefCount, 10)
}
func (r *row) Size() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return units.HumanSize(float64(r.v.UsageData.Size))
}
func (r *row) Group() string        { return "N/A" }
func (r *row) Availability() string { return "N/A" }
func (r *row) Status() string       { return "N/A" }
