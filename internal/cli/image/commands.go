package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

// connectDo connects and runs fn; errors that are not already a
// StatusError are daemon errors (exit 1).
func connectDo(copts *client.Options, fn func(c *client.Client) error) error {
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := fn(c); err != nil {
		var se *command.StatusError
		if errors.As(err, &se) {
			return err
		}
		return command.DaemonError(err)
	}
	return nil
}

func newInspectCommand(copts *client.Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  container.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return container.RunInspect(cmd, copts, format, args, container.ImageLookup)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

func newTagCommand(copts *client.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  container.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				_, err := c.ImageTag(cmd.Context(), mobyclient.ImageTagOptions{Source: args[0], Target: args[1]})
				return err
			})
		},
	}
}

func newRemoveCommand(copts *client.Options) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  container.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			var errs []string
			fatal := false
			for _, name := range args {
				res, err := c.ImageRemove(cmd.Context(), name, mobyclient.ImageRemoveOptions{Force: force, PruneChildren: !noPrune})
				if err != nil {
					var ue *client.UnreachableError
					if errors.As(err, &ue) {
						return command.DaemonError(err)
					}
					// As docker's: -f tolerates images that do not exist
					// (printed, exit 0), not other errors.
					fatal = fatal || !force || !cerrdefs.IsNotFound(err)
					errs = append(errs, err.Error())
					continue
				}
				printDeleted(cmd.OutOrStdout(), res.Items, "Untagged", "Deleted")
			}
			if len(errs) > 0 {
				if !fatal {
					fmt.Fprintln(cmd.ErrOrStderr(), strings.Join(errs, "\n"))
					return nil
				}
				return &command.StatusError{Code: 1, Err: errors.New(strings.Join(errs, "\n"))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func printDeleted(w io.Writer, items []image.DeleteResponse, untagged, deleted string) {
	for _, d := range items {
		if d.Untagged != "" {
			fmt.Fprintf(w, "%s: %s\n", untagged, d.Untagged)
		} else {
			fmt.Fprintf(w, "%s: %s\n", deleted, d.Deleted)
		}
	}
}

const defaultHistoryFormat = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

var historyHeaders = map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

func newHistoryCommand(copts *client.Options) *cobra.Command {
	var human, quiet, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  container.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case quiet && (format == "" || format == "table"):
				format = "{{.ID}}"
			case format == "" || format == "table":
				format = defaultHistoryFormat
			}
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.ImageHistory(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				var rows []any
				for _, h := range res.Items {
					rows = append(rows, &historyRow{h: h, trunc: !noTrunc, human: human})
				}
				return container.Render(cmd.OutOrStdout(), format, historyHeaders, rows)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

type historyRow struct {
	h            image.HistoryResponseItem
	trunc, human bool
}

func (r *historyRow) MarshalJSON() ([]byte, error) { return container.MarshalMethods(r) }
func (r *historyRow) ID() string {
	if r.h.ID == "<missing>" || r.h.ID == "" {
		return "<missing>"
	}
	if r.trunc {
		return container.TruncateID(r.h.ID)
	}
	return r.h.ID
}
func (r *historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.h.Created, 0))) + " ago"
}
func (r *historyRow) CreatedAt() string {
	if r.human {
		return time.Unix(r.h.Created, 0).Format(time.RFC3339)
	}
	return time.Unix(r.h.Created, 0).Format(time.RFC3339)
}
func (r *historyRow) CreatedBy() string {
	s := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.trunc {
		return container.Ellipsis(s, 45)
	}
	return s
}
func (r *historyRow) Size() string {
	if r.human {
		return units.HumanSizeWithPrecision(float64(r.h.Size), 3)
	}
	return fmt.Sprint(r.h.Size)
}
func (r *historyRow) Comment() string { return r.h.Comment }

// transferRef is pull's and push's reference: normalised, with docker's
// "Using default tag: latest" when it names no tag (unless all or quiet).
func transferRef(arg string, all, quiet bool, out io.Writer) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(arg)
	if err != nil {
		return nil, &command.StatusError{Code: 1, Err: err}
	}
	if !all && reference.IsNameOnly(ref) {
		ref = reference.TagNameOnly(ref)
		if !quiet {
			fmt.Fprintln(out, "Using default tag: latest")
		}
	}
	return ref, nil
}

// showTransfer shows a pull's or push's progress stream (nothing when
// quiet); an error in the stream exits 1.
func showTransfer(resp io.Reader, out io.Writer, quiet bool) error {
	if quiet {
		out = io.Discard
	}
	if err := container.DisplayProgress(resp, out, nil); err != nil {
		return &command.StatusError{Code: 1, Err: err}
	}
	return nil
}

func newPullCommand(copts *client.Options) *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  container.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			ref, err := transferRef(args[0], all, quiet, out)
			if err != nil {
				return err
			}
			return connectDo(copts, func(c *client.Client) error {
				auth := container.RegistryAuth(ref.String())
				po := mobyclient.ImagePullOptions{All: all, RegistryAuth: auth, Platforms: platforms(platform)}
				resp, err := c.ImagePull(cmd.Context(), ref.String(), po)
				if err != nil {
					return err
				}
				defer resp.Close()
				if err := showTransfer(resp, out, quiet); err != nil {
					return err
				}
				fmt.Fprintln(out, ref.String())
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	cmd.Flags().Bool("disable-content-trust", true, "Skip image verification")
	return cmd
}

func newPushCommand(copts *client.Options) *cobra.Command {
	var all, quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  container.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			ref, err := transferRef(args[0], all, quiet, out)
			if err != nil {
				return err
			}
			return connectDo(copts, func(c *client.Client) error {
				auth := container.RegistryAuth(ref.String())
				resp, err := c.ImagePush(cmd.Context(), ref.String(), mobyclient.ImagePushOptions{All: all, RegistryAuth: auth})
				if err != nil {
					return err
				}
				defer resp.Close()
				if err := showTransfer(resp, out, quiet); err != nil {
					return err
				}
				if quiet {
					fmt.Fprintln(out, ref.String())
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	cmd.Flags().Bool("disable-content-trust", true, "Skip image signing")
	return cmd
}

func newSaveCommand(copts *client.Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  container.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var w io.Writer = cmd.OutOrStdout()
			if output == "" {
				if f, ok := w.(*os.File); ok && isTerminal(f) {
					return &command.StatusError{Code: 1, Err: errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")}
				}
			}
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ImageSave(cmd.Context(), args)
				if err != nil {
					return err
				}
				defer r.Close()
				if output != "" {
					tmp := output + ".tmp"
					f, err := os.Create(tmp)
					if err != nil {
						return &command.StatusError{Code: 1, Err: fmt.Errorf("failed to save image: %w", err)}
					}
					if _, err := io.Copy(f, r); err != nil {
						f.Close()
						os.Remove(tmp)
						return err
					}
					if err := f.Close(); err != nil {
						return err
					}
					return os.Rename(tmp, output)
				}
				_, err = io.Copy(w, r)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func newLoadCommand(copts *client.Options) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  container.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return &command.StatusError{Code: 1, Err: err}
				}
				defer f.Close()
				in = f
			} else if f, ok := in.(*os.File); ok && isTerminal(f) {
				return &command.StatusError{Code: 1, Err: errors.New("requested load from stdin, but stdin is empty")}
			}
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ImageLoad(cmd.Context(), in, mobyclient.ImageLoadWithQuiet(true))
				if err != nil {
					return err
				}
				defer r.Close()
				if err := container.DisplayProgress(r, cmd.OutOrStdout(), nil); err != nil {
					return &command.StatusError{Code: 1, Err: err}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func newImportCommand(copts *client.Options) *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  container.RequiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := mobyclient.ImageImportSource{SourceName: args[0]}
			switch {
			case args[0] == "-":
				src.Source = cmd.InOrStdin()
			case isURL(args[0]):
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return &command.StatusError{Code: 1, Err: err}
				}
				defer f.Close()
				src = mobyclient.ImageImportSource{Source: f, SourceName: "-"}
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			return connectDo(copts, func(c *client.Client) error {
				opts := mobyclient.ImageImportOptions{Message: message, Changes: changes}
				if p := platforms(platform); len(p) == 1 {
					opts.Platform = p[0]
				}
				r, err := c.ImageImport(cmd.Context(), src, ref, opts)
				if err != nil {
					return err
				}
				defer r.Close()
				if err := container.DisplayProgress(r, cmd.OutOrStdout(), nil); err != nil {
					return &command.StatusError{Code: 1, Err: err}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func newPruneCommand(copts *client.Options) *cobra.Command {
	var all, force bool
	var filters container.FilterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  container.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := container.ParseFilters(filters.Values())
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
				f.Add("dangling", "false")
			} else {
				f.Add("dangling", "true")
			}
			out := cmd.OutOrStdout()
			if !force {
				if !command.Confirm(cmd, warning) {
					return nil // docker's: a "no" ends quietly with exit 0
				}
			}
			return connectDo(copts, func(c *client.Client) error {
				r, err := c.ImagePrune(cmd.Context(), mobyclient.ImagePruneOptions{Filters: f})
				if err != nil {
					return err
				}
				if len(r.Report.ImagesDeleted) > 0 {
					var b bytes.Buffer
					printDeleted(&b, r.Report.ImagesDeleted, "untagged", "deleted")
					fmt.Fprintf(out, "Deleted Images:\n%s\n", b.String())
				}
				fmt.Fprintf(out, "Total reclaimed space: %s\n", units.HumanSize(float64(r.Report.SpaceReclaimed)))
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

var _ = json.Marshal
