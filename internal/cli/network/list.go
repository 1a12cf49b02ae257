package network

import (
	"sort"
	"strconv"
	"strings"

	"github.com/docker/cli/opts"
	mnetwork "github.com/moby/moby/api/types/network"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

const defaultListFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

var listHeaders = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
	"Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

type listOptions struct {
	quiet, noTrunc bool
	format         string
	filter         opts.FilterOpt
}

func newListCommand(copts *client.Options) *cobra.Command {
	o := listOptions{filter: opts.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.NetworkList(cmd.Context(), mobyclient.NetworkListOptions{Filters: o.filter.Value()})
				if err != nil {
					return err
				}
				items := res.Items
				sort.SliceStable(items, func(i, j int) bool { return command.NaturalLess(items[i].Name, items[j].Name) })
				rows := make([]any, 0, len(items))
				for _, n := range items {
					rows = append(rows, &row{n: n, trunc: !o.noTrunc})
				}
				return container.Render(cmd.OutOrStdout(), listFormat(o.format, o.quiet), listHeaders, rows)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display network IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate the output")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates")
	f.VarP(&o.filter, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}

// listFormat is docker's choice of template: -q applies to the table and
// raw formats only.
func listFormat(format string, quiet bool) string {
	switch format {
	case "", "table":
		if quiet {
			return "{{.ID}}"
		}
		return defaultListFormat
	case "raw":
		if quiet {
			return `network_id: {{.ID}}`
		}
		return `network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n`
	}
	return format
}

// row is the formatting context of one `network ls` line, with docker's
// fields.
type row struct {
	n     mnetwork.Summary
	trunc bool
}

func (r *row) MarshalJSON() ([]byte, error) { return container.MarshalMethods(r) }
func (r *row) ID() string {
	if r.trunc && len(r.n.ID) > 12 {
		return r.n.ID[:12]
	}
	return r.n.ID
}
func (r *row) Name() string      { return r.n.Name }
func (r *row) Driver() string    { return r.n.Driver }
func (r *row) Scope() string     { return r.n.Scope }
func (r *row) IPv4() string      { return strconv.FormatBool(r.n.EnableIPv4) }
func (r *row) IPv6() string      { return strconv.FormatBool(r.n.EnableIPv6) }
func (r *row) Internal() string  { return strconv.FormatBool(r.n.Internal) }
func (r *row) CreatedAt() string { return r.n.Created.String() }
func (r *row) Labels() string {
	if r.n.Labels == nil {
		return ""
	}
	l := make([]string, 0, len(r.n.Labels))
	for k, v := range r.n.Labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}
func (r *row) Label(name string) string { return r.n.Labels[name] }
