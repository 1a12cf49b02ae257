package image

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

const (
	defaultListFormat       = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
	defaultListDigestFormat = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

var listHeaders = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
	"CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
	"UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

type listOptions struct {
	quiet, all, noTrunc, digests bool
	format                       string
	filters                      container.FilterFlag
}

func newListCommand(copts *client.Options) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  container.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd, copts, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	f.VarP(&o.filters, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func runList(cmd *cobra.Command, copts *client.Options, o listOptions, args []string) error {
	filters, err := container.ParseFilters(o.filters.Values())
	if err != nil {
		return err
	}
	if len(args) == 1 {
		filters.Add("reference", args[0])
	}
	format := o.format
	switch {
	case o.quiet && (format == "" || format == "table"):
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = defaultListFormat
		if o.digests {
			format = defaultListDigestFormat
		}
	case strings.HasPrefix(format, "table") && o.digests && !strings.Contains(format, "{{.Digest}}"):
		format += `\t{{.Digest}}`
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.ImageList(cmd.Context(), mobyclient.ImageListOptions{All: o.all, Filters: filters})
	if err != nil {
		return command.DaemonError(err)
	}
	needDigest := o.digests || strings.Contains(format, "{{.Digest}}")
	// One row per name, also with -q (an image with two tags is listed
	// twice), as the docker CLI does.
	var rows []any
	for _, img := range res.Items {
		for _, r := range imageRows(img, !o.noTrunc, needDigest, o.digests) {
			rows = append(rows, r)
		}
	}
	return container.Render(cmd.OutOrStdout(), format, listHeaders, rows)
}

func isDangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" && len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

// imageRows expands one image into docker's rows: one per repository and
// tag (and digest, when digests are shown).
func imageRows(img image.Summary, trunc, needDigest, showDigests bool) []*listRow {
	if isDangling(img) {
		return []*listRow{{i: img, trunc: trunc, repo: "<none>", tag: "<none>", digest: "<none>"}}
	}
	tags := map[string][]string{}
	digests := map[string][]string{}
	for _, s := range img.RepoTags {
		ref, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			continue
		}
		if nt, ok := ref.(reference.NamedTagged); ok {
			n := reference.FamiliarName(ref)
			tags[n] = append(tags[n], nt.Tag())
		}
	}
	for _, s := range img.RepoDigests {
		ref, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			continue
		}
		if c, ok := ref.(reference.Canonical); ok {
			n := reference.FamiliarName(ref)
			digests[n] = append(digests[n], c.Digest().String())
		}
	}
	var rows []*listRow
	add := func(repo, tag, dg string) {
		rows = append(rows, &listRow{i: img, trunc: trunc, repo: repo, tag: tag, digest: dg})
	}
	for _, repo := range sortedKeys(tags) {
		ds := digests[repo]
		delete(digests, repo)
		if !needDigest {
			ds = nil
		}
		for _, tag := range tags[repo] {
			if len(ds) == 0 {
				add(repo, tag, "<none>")
				continue
			}
			for _, d := range ds {
				add(repo, tag, d)
			}
		}
	}
	for _, repo := range sortedKeys(digests) {
		if showDigests {
			for _, d := range digests[repo] {
				add(repo, "<none>", d)
			}
		} else {
			add(repo, "<none>", "")
		}
	}
	return rows
}

func sortedKeys(m map[string][]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// listRow is the formatting context of one `images` line.
type listRow struct {
	i                 image.Summary
	trunc             bool
	repo, tag, digest string
}

func (r *listRow) MarshalJSON() ([]byte, error) { return container.MarshalMethods(r) }

func (r *listRow) ID() string {
	if r.trunc {
		return container.TruncateID(r.i.ID)
	}
	return r.i.ID
}
func (r *listRow) Repository() string { return r.repo }
func (r *listRow) Tag() string        { return r.tag }
func (r *listRow) Digest() string     { return r.digest }
func (r *listRow) CreatedSince() string {
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.i.Created, 0))) + " ago"
}
func (r *listRow) CreatedAt() string   { return time.Unix(r.i.Created, 0).String() }
func (r *listRow) Size() string        { return units.HumanSizeWithPrecision(float64(r.i.Size), 3) }
func (r *listRow) VirtualSize() string { return units.HumanSize(float64(r.i.Size)) }
func (r *listRow) Containers() string {
	if r.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(r.i.Containers, 10)
}
func (r *listRow) SharedSize() string {
	if r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.SharedSize))
}
func (r *listRow) UniqueSize() string {
	if r.i.Size == -1 || r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.Size - r.i.SharedSize))
}
