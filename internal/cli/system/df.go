package system

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	containercli "github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

type dfOptions struct {
	verbose bool
	format  string
}

func newDiskUsageCommand(copts *client.Options) *cobra.Command {
	var o dfOptions
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiskUsage(cmd, copts, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.verbose, "verbose", "v", false, "Show detailed information on space usage")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

const dfTableFormat = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

var dfHeaders = map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}

func runDiskUsage(cmd *cobra.Command, copts *client.Options, o dfOptions) error {
	if o.verbose && o.format != "" && o.format != "table" {
		return &command.StatusError{Code: 125, Err: fmt.Errorf("--format is not supported with --verbose by berth")}
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	du, err := c.DiskUsage(cmd.Context(), mobyclient.DiskUsageOptions{Containers: true, Images: true, BuildCache: true, Volumes: true, Verbose: o.verbose})
	if err != nil {
		return command.DaemonError(err)
	}
	w := cmd.OutOrStdout()
	if o.verbose {
		return writeDiskUsageVerbose(w, du, time.Now())
	}
	format := o.format
	if format == "" || format == "table" {
		format = dfTableFormat
	}
	rows := []any{
		&dfRow{kind: "Images", total: du.Images.TotalCount, active: du.Images.ActiveCount, size: du.Images.TotalSize, reclaimable: du.Images.Reclaimable, percent: true},
		&dfRow{kind: "Containers", total: du.Containers.TotalCount, active: du.Containers.ActiveCount, size: du.Containers.TotalSize, reclaimable: du.Containers.Reclaimable, percent: true},
		&dfRow{kind: "Local Volumes", total: du.Volumes.TotalCount, active: du.Volumes.ActiveCount, size: du.Volumes.TotalSize, reclaimable: du.Volumes.Reclaimable, percent: true},
		&dfRow{kind: "Build Cache", total: du.BuildCache.TotalCount, active: du.BuildCache.ActiveCount, size: du.BuildCache.TotalSize, reclaimable: du.BuildCache.Reclaimable},
	}
	return containercli.Render(w, format, dfHeaders, rows)
}

// dfRow is one line of the summary: docker's diskUsage*Context.
type dfRow struct {
	kind                             string
	total, active, size, reclaimable int64
	percent                          bool // the build cache line has none
}

func (r *dfRow) MarshalJSON() ([]byte, error) { return containercli.MarshalMethods(r) }
func (r *dfRow) Type() string                 { return r.kind }
func (r *dfRow) TotalCount() string           { return strconv.FormatInt(r.total, 10) }
func (r *dfRow) Active() string               { return strconv.FormatInt(r.active, 10) }
func (r *dfRow) Size() string                 { return units.HumanSize(float64(r.size)) }

func (r *dfRow) Reclaimable() string {
	if r.percent && r.size > 0 {
		return fmt.Sprintf("%s (%v%%)", units.HumanSize(float64(r.reclaimable)), (r.reclaimable*100)/r.size)
	}
	return units.HumanSize(float64(r.reclaimable))
}

// writeDiskUsageVerbose prints docker's `system df -v`: a table per kind.
func writeDiskUsageVerbose(w io.Writer, du mobyclient.DiskUsageResult, now time.Time) error {
	ago := func(t time.Time) string { return units.HumanDuration(now.UTC().Sub(t)) + " ago" }

	var rows []any
	for _, img := range du.Images.Items {
		r := &dfImageRow{i: img, repo: "<none>", tag: "<none>", ago: ago}
		if len(img.RepoTags) > 0 && !isDangling(img) {
			ref, err := reference.ParseNormalizedNamed(img.RepoTags[0])
			if err != nil {
				continue
			}
			if nt, ok := ref.(reference.NamedTagged); ok {
				r.repo, r.tag = reference.FamiliarName(ref), nt.Tag()
			}
		}
		rows = append(rows, r)
	}
	fmt.Fprint(w, "Images space usage:\n\n")
	if err := containercli.Render(w, "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
		map[string]string{"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}, rows); err != nil {
		return err
	}

	rows = nil
	for _, c := range du.Containers.Items {
		rows = append(rows, &dfContainerRow{c: c, ago: ago})
	}
	fmt.Fprint(w, "\nContainers space usage:\n\n")
	if err := containercli.Render(w, "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
		map[string]string{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"}, rows); err != nil {
		return err
	}

	rows = nil
	for _, v := range du.Volumes.Items {
		rows = append(rows, &dfVolumeRow{v: v})
	}
	fmt.Fprint(w, "\nLocal Volumes space usage:\n\n")
	if err := containercli.Render(w, "table {{.Name}}\t{{.Links}}\t{{.Size}}",
		map[string]string{"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}, rows); err != nil {
		return err
	}

	rows = nil
	cache := append([]build.CacheRecord(nil), du.BuildCache.Items...)
	sortBuildCache(cache)
	for _, b := range cache {
		rows = append(rows, &dfCacheRow{b: b, ago: ago})
	}
	fmt.Fprintf(w, "\nBuild cache usage: %s\n\n", units.HumanSize(float64(du.BuildCache.TotalSize)))
	return containercli.Render(w, "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
		map[string]string{"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"}, rows)
}

// sortBuildCache orders entries as docker's df -v: never used first,
// then by last use, oldest first.
func sortBuildCache(c []build.CacheRecord) {
	sort.SliceStable(c, func(i, j int) bool {
		a, b := c[i].LastUsedAt, c[j].LastUsedAt
		switch {
		case a == nil:
			return b != nil
		case b == nil:
			return false
		}
		return a.Before(*b)
	})
}

func isDangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" && len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

type dfImageRow struct {
	i         image.Summary
	repo, tag string
	ago       func(time.Time) string
}

func (r *dfImageRow) MarshalJSON() ([]byte, error) { return containercli.MarshalMethods(r) }
func (r *dfImageRow) Repository() string           { return r.repo }
func (r *dfImageRow) Tag() string                  { return r.tag }
func (r *dfImageRow) ID() string                   { return containercli.TruncateID(r.i.ID) }
func (r *dfImageRow) CreatedSince() string         { return r.ago(time.Unix(r.i.Created, 0)) }
func (r *dfImageRow) Size() string                 { return units.HumanSizeWithPrecision(float64(r.i.Size), 3) }

func (r *dfImageRow) SharedSize() string {
	if r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.SharedSize))
}

func (r *dfImageRow) UniqueSize() string {
	if r.i.Size == -1 || r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.Size - r.i.SharedSize))
}

func (r *dfImageRow) Containers() string {
	if r.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(r.i.Containers, 10)
}

type dfContainerRow struct {
	c   container.Summary
	ago func(time.Time) string
}

func (r *dfContainerRow) MarshalJSON() ([]byte, error) { return containercli.MarshalMethods(r) }
func (r *dfContainerRow) ID() string                   { return containercli.TruncateID(r.c.ID) }
func (r *dfContainerRow) RunningFor() string           { return r.ago(time.Unix(r.c.Created, 0)) }
func (r *dfContainerRow) Status() string               { return r.c.Status }
func (r *dfContainerRow) Size() string                 { return units.HumanSizeWithPrecision(float64(r.c.SizeRw), 3) }
func (r *dfContainerRow) Command() string {
	return strconv.Quote(containercli.Ellipsis(r.c.Command, 20))
}

func (r *dfContainerRow) Image() string {
	img := r.c.Image
	if img == "" {
		return "<no image>"
	}
	if t := containercli.TruncateID(r.c.ImageID); t == containercli.TruncateID(img) {
		return t
	}
	ref, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return img
	}
	if nt, ok := ref.(reference.NamedTagged); ok {
		if out, err := reference.WithTag(reference.TrimNamed(nt), nt.Tag()); err == nil {
			return reference.FamiliarString(out)
		}
	}
	return reference.FamiliarString(reference.TrimNamed(ref))
}

func (r *dfContainerRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r *dfContainerRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		n = strings.TrimPrefix(n, "/")
		if !strings.Contains(n, "/") {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

type dfVolumeRow struct{ v volume.Volume }

func (r *dfVolumeRow) MarshalJSON() ([]byte, error) { return containercli.MarshalMethods(r) }
func (r *dfVolumeRow) Name() string                 { return r.v.Name }

func (r *dfVolumeRow) Links() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return strconv.FormatInt(r.v.UsageData.RefCount, 10)
}

func (r *dfVolumeRow) Size() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return units.HumanSize(float64(r.v.UsageData.Size))
}

type dfCacheRow struct {
	b   build.CacheRecord
	ago func(time.Time) string
}

func (r *dfCacheRow) MarshalJSON() ([]byte, error) { return containercli.MarshalMethods(r) }
func (r *dfCacheRow) CacheType() string            { return r.b.Type }
func (r *dfCacheRow) Size() string                 { return units.HumanSizeWithPrecision(float64(r.b.Size), 3) }
func (r *dfCacheRow) CreatedSince() string         { return r.ago(r.b.CreatedAt) }
func (r *dfCacheRow) UsageCount() string           { return strconv.Itoa(r.b.UsageCount) }
func (r *dfCacheRow) Shared() string               { return strconv.FormatBool(r.b.Shared) }

func (r *dfCacheRow) ID() string {
	id := containercli.TruncateID(r.b.ID)
	if r.b.InUse {
		id += "*"
	}
	return id
}

func (r *dfCacheRow) LastUsedSince() string {
	if r.b.LastUsedAt == nil {
		return ""
	}
	return r.ago(*r.b.LastUsedAt)
}
