package container

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

const defaultPsFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
	"Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
	"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
}

type psOptions struct {
	quiet, size, all, noTrunc, latest bool
	last                              int
	format                            string
	filters                           FilterFlag
}

func newPsCommand(copts *client.Options) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Short:   "List containers",
		Aliases: []string{"ls", "list"},
		Args:    NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPs(cmd, copts, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	f.VarP(&o.filters, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

// ParseFilters turns repeated --filter key=value flags into API filters.
func ParseFilters(args []string) (mobyclient.Filters, error) {
	f := mobyclient.Filters{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, command.UsageError("invalid argument %q for \"-f, --filter\" flag: bad format of filter (expected name=value)", a)
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	return f, nil
}

func runPs(cmd *cobra.Command, copts *client.Options, o psOptions) error {
	filters, err := ParseFilters(o.filters.Values())
	if err != nil {
		return err
	}
	format := o.format
	switch {
	case o.quiet && (format == "" || format == "table"):
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = defaultPsFormat
		if o.size {
			format += `\t{{.Size}}`
		}
	}
	if _, err := parseTemplate(strings.TrimPrefix(format, "table")); err != nil {
		return &command.StatusError{Code: 1, Err: fmt.Errorf("failed to parse template: %v", err)}
	}
	listOpts := mobyclient.ContainerListOptions{All: o.all, Limit: o.last, Filters: filters, Size: o.size || strings.Contains(format, ".Size")}
	if o.latest {
		listOpts.Limit = 1
	}
	if listOpts.Limit != -1 {
		listOpts.All = true
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.ContainerList(cmd.Context(), listOpts)
	if err != nil {
		return command.DaemonError(err)
	}
	rows := make([]any, 0, len(res.Items))
	for _, s := range res.Items {
		rows = append(rows, &psRow{c: s, trunc: !o.noTrunc})
	}
	return Render(cmd.OutOrStdout(), format, psHeaders, rows)
}

// psRow is the formatting context of one `ps` line: its methods are the
// --format fields.
type psRow struct {
	c     container.Summary
	trunc bool
}

func (r *psRow) MarshalJSON() ([]byte, error) { return MarshalMethods(r) }

func (r *psRow) ID() string {
	if r.trunc {
		return TruncateID(r.c.ID)
	}
	return r.c.ID
}

func (r *psRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		name := strings.TrimPrefix(n, "/")
		if r.trunc {
			if !strings.Contains(name, "/") {
				return name
			}
			continue
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

func (r *psRow) Image() string {
	img := r.c.Image
	if img == "" {
		return "<no image>"
	}
	if !r.trunc {
		return img
	}
	if t := TruncateID(r.c.ImageID); t == TruncateID(img) {
		return t
	}
	ref, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return img
	}
	if _, ok := ref.(reference.Digested); ok {
		tag := ""
		if t, ok := ref.(reference.Tagged); ok {
			tag = t.Tag()
		}
		ref = reference.TrimNamed(ref)
		if tag != "" {
			if out, err := reference.WithTag(ref, tag); err == nil {
				ref = out
			}
		}
	}
	return reference.FamiliarString(ref)
}

func (r *psRow) Command() string {
	c := r.c.Command
	if r.trunc {
		c = Ellipsis(c, 20)
	}
	return strconv.Quote(c)
}

func (r *psRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }

func (r *psRow) RunningFor() string {
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.c.Created, 0))) + " ago"
}

func (r *psRow) Platform() any { return nil }

func (r *psRow) Ports() string { return DisplayablePorts(r.c.Ports) }

func (r *psRow) State() string { return string(r.c.State) }

func (r *psRow) Status() string { return r.c.Status }

func (r *psRow) Size() string {
	srw := units.HumanSizeWithPrecision(float64(r.c.SizeRw), 3)
	if r.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, units.HumanSizeWithPrecision(float64(r.c.SizeRootFs), 3))
	}
	return srw
}

func (r *psRow) Labels() string {
	if r.c.Labels == nil {
		return ""
	}
	var kv []string
	for k, v := range r.c.Labels {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// Label is {{.Label "name"}}.
func (r *psRow) Label(name string) string { return r.c.Labels[name] }

func (r *psRow) Mounts() string {
	var ms []string
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = Ellipsis(name, 15)
		}
		ms = append(ms, name)
	}
	return strings.Join(ms, ",")
}

func (r *psRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r *psRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	var ns []string
	for k := range r.c.NetworkSettings.Networks {
		ns = append(ns, k)
	}
	slices.Sort(ns)
	return strings.Join(ns, ",")
}

// TruncateID shortens an ID (with or without "sha256:") to 12 characters.
func TruncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// Ellipsis shortens s to max runes, ending in "…" when cut.
func Ellipsis(s string, max int) string {
	if max <= 0 {
		return ""
	}
	rs := []rune(s)
	if len(rs) == 0 {
		return s
	}
	if max == 1 {
		return string(rs[0])
	}
	width := 0
	for _, r := range rs {
		width += charWidth(r)
	}
	if width <= max {
		return s
	}
	// Keep the runes that fit in max-1 columns, then the ellipsis.
	used := 0
	for i, r := range rs {
		if used+charWidth(r) > max-1 {
			return string(rs[:i]) + "…"
		}
		used += charWidth(r)
	}
	return s
}

// charWidth is the columns r takes on a terminal: 2 for East Asian wide
// and fullwidth characters, 1 otherwise, as docker's formatter counts.
func charWidth(r rune) int {
	if r >= 0x1100 && unicode.Is(eastAsianWide, r) {
		return 2
	}
	return 1
}

// eastAsianWide holds Unicode's East Asian Wide (W) and Fullwidth (F)
// blocks: Hangul Jamo, CJK symbols, kana, ideographs, Hangul syllables,
// compatibility forms, fullwidth forms and the emoji blocks.
var eastAsianWide = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x1100, Hi: 0x115f, Stride: 1},
		{Lo: 0x231a, Hi: 0x231b, Stride: 1},
		{Lo: 0x2329, Hi: 0x232a, Stride: 1},
		{Lo: 0x23e9, Hi: 0x23ec, Stride: 1},
		{Lo: 0x25fd, Hi: 0x25fe, Stride: 1},
		{Lo: 0x2614, Hi: 0x2615, Stride: 1},
		{Lo: 0x2648, Hi: 0x2653, Stride: 1},
		{Lo: 0x2e80, Hi: 0x303e, Stride: 1},
		{Lo: 0x3041, Hi: 0x33ff, Stride: 1},
		{Lo: 0x3400, Hi: 0x4dbf, Stride: 1},
		{Lo: 0x4e00, Hi: 0x9fff, Stride: 1},
		{Lo: 0xa000, Hi: 0xa4cf, Stride: 1},
		{Lo: 0xa960, Hi: 0xa97f, Stride: 1},
		{Lo: 0xac00, Hi: 0xd7a3, Stride: 1},
		{Lo: 0xf900, Hi: 0xfaff, Stride: 1},
		{Lo: 0xfe10, Hi: 0xfe19, Stride: 1},
		{Lo: 0xfe30, Hi: 0xfe6f, Stride: 1},
		{Lo: 0xff00, Hi: 0xff60, Stride: 1},
		{Lo: 0xffe0, Hi: 0xffe6, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x16fe0, Hi: 0x16fe4, Stride: 1},
		{Lo: 0x17000, Hi: 0x18cff, Stride: 1},
		{Lo: 0x1b000, Hi: 0x1b2ff, Stride: 1},
		{Lo: 0x1f300, Hi: 0x1f64f, Stride: 1},
		{Lo: 0x1f680, Hi: 0x1f6ff, Stride: 1},
		{Lo: 0x1f900, Hi: 0x1f9ff, Stride: 1},
		{Lo: 0x1fa70, Hi: 0x1faff, Stride: 1},
		{Lo: 0x20000, Hi: 0x2fffd, Stride: 1},
		{Lo: 0x30000, Hi: 0x3fffd, Stride: 1},
	},
}

// DisplayablePorts is docker's PORTS column: consecutive ports grouped
// into ranges, then host mappings "0.0.0.0:8080->80/tcp".
func DisplayablePorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	groups := map[string]*group{}
	var keys, result, mappings []string
	ps := slices.Clone(ports)
	slices.SortFunc(ps, func(a, b container.PortSummary) int {
		if a.PrivatePort != b.PrivatePort {
			return int(a.PrivatePort) - int(b.PrivatePort)
		}
		if a.IP != b.IP {
			return a.IP.Compare(b.IP)
		}
		if a.PublicPort != b.PublicPort {
			return int(a.PublicPort) - int(b.PublicPort)
		}
		return strings.Compare(a.Type, b.Type)
	})
	form := func(key string, g *group) string {
		ip, typ, ok := strings.Cut(key, "/")
		if !ok {
			typ, ip = ip, ""
		}
		s := strconv.Itoa(int(g.first))
		if g.first != g.last {
			s = fmt.Sprintf("%s-%d", s, g.last)
		}
		if ip != "" {
			s = fmt.Sprintf("%s->%s", net.JoinHostPort(ip, s), s)
		}
		return s + "/" + typ
	}
	for _, p := range ps {
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != p.PrivatePort {
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort))), p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{p.PrivatePort, p.PrivatePort}
			keys = append(keys, key)
			continue
		}
		if p.PrivatePort == g.last+1 {
			g.last = p.PrivatePort
			continue
		}
		result = append(result, form(key, g))
		groups[key] = &group{p.PrivatePort, p.PrivatePort}
	}
	for _, k := range keys {
		result = append(result, form(k, groups[k]))
	}
	return strings.Join(append(result, mappings...), ", ")
}
