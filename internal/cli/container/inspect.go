package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"

	cerrdefs "github.com/containerd/errdefs"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

// Inspected is one object found by an inspect lookup: its typed value
// (what --format templates see) and the daemon's raw JSON (what the
// default output prints, so no field is lost).
type Inspected struct {
	Value any
	Raw   []byte
}

// Lookup finds one object by name or ID.
type Lookup func(ctx context.Context, c *client.Client, name string) (Inspected, error)

// ContainerLookup inspects a container.
func ContainerLookup(size bool) Lookup {
	return func(ctx context.Context, c *client.Client, name string) (Inspected, error) {
		r, err := c.ContainerInspect(ctx, name, mobyclient.ContainerInspectOptions{Size: size})
		return Inspected{Value: r.Container, Raw: r.Raw}, err
	}
}

// ImageLookup inspects an image.
func ImageLookup(ctx context.Context, c *client.Client, name string) (Inspected, error) {
	var raw bytes.Buffer
	r, err := c.ImageInspect(ctx, name, mobyclient.ImageInspectWithRawResponse(&raw))
	return Inspected{Value: r.InspectResponse, Raw: raw.Bytes()}, err
}

func networkLookup(ctx context.Context, c *client.Client, name string) (Inspected, error) {
	r, err := c.NetworkInspect(ctx, name, mobyclient.NetworkInspectOptions{})
	return Inspected{Value: r.Network, Raw: r.Raw}, err
}

func volumeLookup(ctx context.Context, c *client.Client, name string) (Inspected, error) {
	r, err := c.VolumeInspect(ctx, name, mobyclient.VolumeInspectOptions{})
	return Inspected{Value: r.Volume, Raw: r.Raw}, err
}

// RunInspect is docker's inspect output for every kind: a JSON array of
// the objects found, indented by four spaces ("[]" when none), or one
// --format line per object; the errors of names not found follow on
// stderr and make the exit code 1.
func RunInspect(cmd *cobra.Command, copts *client.Options, format string, names []string, lookup Lookup) error {
	var tmpl *template.Template
	if format != "" {
		t, err := parseTemplate(format)
		if err != nil {
			// docker exits 64 here.
			return &command.StatusError{Code: 64, Err: fmt.Errorf("template parsing error: %v", err)}
		}
		tmpl = t
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	var found []Inspected
	var errs []string
	for _, n := range names {
		obj, err := lookup(cmd.Context(), c, n)
		if err != nil {
			var ue *client.UnreachableError
			if errors.As(err, &ue) {
				return command.DaemonError(err)
			}
			errs = append(errs, client.Cause(err).Error())
			continue
		}
		found = append(found, obj)
	}
	out := cmd.OutOrStdout()
	if tmpl != nil {
		for _, obj := range found {
			if err := execInspectFormat(out, tmpl, obj); err != nil {
				return err
			}
		}
	} else if err := writeIndented(out, found); err != nil {
		return err
	}
	if len(errs) > 0 {
		return &command.StatusError{Code: 1, Err: errors.New(strings.Join(errs, "\n"))}
	}
	return nil
}

// execInspectFormat runs the template on the typed value, falling back to
// the raw JSON as a map when a field is not in the type (as docker does).
func execInspectFormat(out io.Writer, tmpl *template.Template, obj Inspected) error {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, obj.Value); err != nil {
		var m any
		dec := json.NewDecoder(bytes.NewReader(obj.Raw))
		dec.UseNumber()
		if derr := dec.Decode(&m); derr != nil {
			return &command.StatusError{Code: 1, Err: fmt.Errorf("template: %v", err)}
		}
		b.Reset()
		if err := tmpl.Execute(&b, m); err != nil {
			return &command.StatusError{Code: 1, Err: fmt.Errorf("template: %v", err)}
		}
	}
	_, err := fmt.Fprintln(out, b.String())
	return err
}

func writeIndented(out io.Writer, found []Inspected) error {
	if len(found) == 0 {
		_, err := io.WriteString(out, "[]\n")
		return err
	}
	var all bytes.Buffer
	all.WriteString("[")
	for i, obj := range found {
		raw := obj.Raw
		if len(raw) == 0 {
			b, err := json.Marshal(obj.Value)
			if err != nil {
				return err
			}
			raw = b
		}
		if i > 0 {
			all.WriteString(",")
		}
		all.Write(bytes.TrimSpace(raw))
	}
	all.WriteString("]")
	var ind bytes.Buffer
	if err := json.Indent(&ind, all.Bytes(), "", "    "); err != nil {
		return err
	}
	ind.WriteString("\n")
	_, err := ind.WriteTo(out)
	return err
}

func newContainerInspectCommand(copts *client.Options) *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunInspect(cmd, copts, format, args, ContainerLookup(size))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// NewInspectCommand is the top-level `berth inspect`: without --type it
// tries a container, an image, a network and a volume, in docker's order.
func NewInspectCommand(copts *client.Options) *cobra.Command {
	var format, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Berth objects",
		Args:  RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kinds := map[string]Lookup{"container": ContainerLookup(size), "image": ImageLookup, "network": networkLookup, "volume": volumeLookup}
			order := []string{"container", "image", "network", "volume"}
			if typ != "" {
				if _, ok := kinds[typ]; !ok {
					return &command.StatusError{Code: 1, Err: fmt.Errorf("%q is not a valid value for --type", typ)}
				}
				order = []string{typ}
			}
			return RunInspect(cmd, copts, format, args, func(ctx context.Context, c *client.Client, name string) (Inspected, error) {
				for _, k := range order {
					obj, err := kinds[k](ctx, c, name)
					if err == nil {
						return obj, nil
					}
					if !cerrdefs.IsNotFound(err) {
						var ue *client.UnreachableError
						if errors.As(err, &ue) || typ != "" {
							return obj, err
						}
					}
					if typ != "" {
						return obj, err
					}
				}
				return Inspected{}, fmt.Errorf("Error: No such object: %s", name)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	cmd.Flags().StringVar(&typ, "type", "", "Only inspect objects of the given type")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}
