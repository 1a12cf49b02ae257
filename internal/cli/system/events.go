package system

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

type eventsOptions struct {
	since, until, format string
	filters              []string
}

func newEventsCommand(copts *client.Options) *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd, copts, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "Show all events created since timestamp")
	f.StringVar(&o.until, "until", "", "Stream events until this timestamp")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

// parseFilters turns repeated --filter name=value flags into filters.
func parseFilters(flags []string) (mobyclient.Filters, error) {
	f := mobyclient.Filters{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, command.UsageError("bad format of filter (expected name=value): %s", kv)
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), v)
	}
	return f, nil
}

func runEvents(cmd *cobra.Command, copts *client.Options, o eventsOptions) error {
	filters, err := parseFilters(o.filters)
	if err != nil {
		return err
	}
	var tmpl *template.Template
	if o.format != "" {
		if tmpl, err = command.ParseFormat(o.format); err != nil {
			return err
		}
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	res := c.Events(cmd.Context(), mobyclient.EventsListOptions{Since: o.since, Until: o.until, Filters: filters})
	out := cmd.OutOrStdout()
	for {
		select {
		case m := <-res.Messages:
			if tmpl != nil {
				if err := command.ExecFormat(out, tmpl, m); err != nil {
					return err
				}
				continue
			}
			printEvent(out, m)
		case err := <-res.Err:
			if err == nil || errors.Is(err, io.EOF) {
				return nil
			}
			if cmd.Context().Err() != nil {
				return nil
			}
			return command.DaemonError(err)
		}
	}
}

// rfc3339NanoFixed is docker's event time layout (nanoseconds always 9 digits).
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// printEvent writes one event as the docker CLI does:
// "<time> <type> <action> <id> (k=v, ...)" with the attributes sorted.
func printEvent(out io.Writer, m events.Message) {
	var b strings.Builder
	switch {
	case m.TimeNano != 0:
		b.WriteString(time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed) + " ")
	case m.Time != 0:
		b.WriteString(time.Unix(m.Time, 0).Format(rfc3339NanoFixed) + " ")
	}
	fmt.Fprintf(&b, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + m.Actor.Attributes[k]
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	fmt.Fprintln(out, b.String())
}
