package image

import (
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/registry"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

type searchOptions struct {
	noTrunc bool
	limit   int
	format  string
	filters container.FilterFlag
}

// searchHeaders are docker search's columns.
var searchHeaders = map[string]string{"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL"}

const defaultSearchFormat = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"

func newSearchCommand(copts *client.Options) *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search Docker Hub for images",
		Args:  container.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			filters, err := container.ParseFilters(o.filters.Values())
			if err != nil {
				return err
			}
			format := o.format
			if format == "" || format == "table" {
				format = defaultSearchFormat
			}
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.ImageSearch(cmd.Context(), args[0], mobyclient.ImageSearchOptions{Limit: o.limit, Filters: filters})
				if err != nil {
					return err
				}
				rows := make([]any, 0, len(res.Items))
				for _, r := range res.Items {
					rows = append(rows, &searchRow{r: r, trunc: !o.noTrunc})
				}
				return container.Render(cmd.OutOrStdout(), format, searchHeaders, rows)
			})
		},
	}
	f := cmd.Flags()
	f.VarP(&o.filters, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Pretty-print search using a Go template")
	f.IntVar(&o.limit, "limit", 0, "Max number of search results")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	return cmd
}

// searchRow is one result as docker search's template fields see it.
type searchRow struct {
	r     registry.SearchResult
	trunc bool
}

func (s *searchRow) MarshalJSON() ([]byte, error) { return container.MarshalMethods(s) }

func (s *searchRow) Name() string { return s.r.Name }

// Description is on one line, and cut to 45 characters unless --no-trunc.
func (s *searchRow) Description() string {
	d := strings.NewReplacer("\n", " ", "\r", " ").Replace(s.r.Description)
	if s.trunc {
		d = container.Ellipsis(d, 45)
	}
	return d
}

func (s *searchRow) StarCount() string { return strconv.Itoa(s.r.StarCount) }

func (s *searchRow) IsOfficial() string {
	if s.r.IsOfficial {
		return "[OK]"
	}
	return ""
}
