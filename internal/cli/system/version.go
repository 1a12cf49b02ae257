package system

import (
	"fmt"
	"io"
	goruntime "runtime"
	"text/tabwriter"
	"text/template"
	"time"

	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/version"
	"github.com/berth/berth/internal/client"
)

// ClientVersion is the Client part of `version` (and of its --format data).
type ClientVersion struct {
	Platform   struct{ Name string } `json:",omitempty"`
	Version    string
	APIVersion string `json:"ApiVersion"`
	GoVersion  string
	GitCommit  string
	BuildTime  string `json:"BuildTime,omitempty"`
	Os         string
	Arch       string
	Context    string
}

// versionInfo is what `version --format` templates see: .Client, .Server.
type versionInfo struct {
	Client ClientVersion
	Server *mobyclient.ServerVersionResult
}

type versionOptions struct{ format string }

func newVersionCommand(copts *client.Options) *cobra.Command {
	var o versionOptions
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Berth version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(cmd, copts, o)
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

func runVersion(cmd *cobra.Command, copts *client.Options, o versionOptions) error {
	var tmpl *template.Template
	if o.format != "" {
		t, err := command.ParseFormat(o.format)
		if err != nil {
			return err
		}
		tmpl = t
	}
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	info := versionInfo{Client: ClientVersion{
		Version:    version.Version,
		APIVersion: c.ClientVersion(),
		GoVersion:  goruntime.Version(),
		GitCommit:  version.GitCommit,
		BuildTime:  version.BuildTime,
		Os:         goruntime.GOOS,
		Arch:       goruntime.GOARCH,
		Context:    "default",
	}}
	info.Client.Platform.Name = "Berth"
	sv, serr := c.ServerVersion(cmd.Context(), mobyclient.ServerVersionOptions{})
	if serr == nil {
		info.Server = &sv
		info.Client.APIVersion = c.ClientVersion()
	}
	out := cmd.OutOrStdout()
	if tmpl != nil {
		if err := command.ExecFormat(out, tmpl, info); err != nil {
			return err
		}
	} else {
		printVersion(out, info, mobyclient.MaxAPIVersion)
	}
	if serr != nil {
		return command.DaemonError(serr)
	}
	return nil
}

func printVersion(out io.Writer, v versionInfo, maxAPI string) {
	tw := tabwriter.NewWriter(out, 0, 1, 1, ' ', 0)
	fmt.Fprintln(tw, "Client:")
	fmt.Fprintf(tw, " Version:\t%s\n", v.Client.Version)
	api := v.Client.APIVersion
	if api != maxAPI {
		api += " (downgraded from " + maxAPI + ")"
	}
	fmt.Fprintf(tw, " API version:\t%s\n", api)
	fmt.Fprintf(tw, " Go version:\t%s\n", v.Client.GoVersion)
	fmt.Fprintf(tw, " Git commit:\t%s\n", v.Client.GitCommit)
	fmt.Fprintf(tw, " Built:\t%s\n", humanBuildTime(v.Client.BuildTime))
	fmt.Fprintf(tw, " OS/Arch:\t%s/%s\n", v.Client.Os, v.Client.Arch)
	fmt.Fprintf(tw, " Context:\t%s\n", v.Client.Context)
	tw.Flush()
	if v.Server == nil {
		return
	}
	s := v.Server
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 1, 1, ' ', 0)
	fmt.Fprintf(tw, "Server: %s\n", s.Platform.Name)
	for _, comp := range s.Components {
		fmt.Fprintf(tw, " %s:\n", comp.Name)
		if comp.Name == "Engine" {
			d := comp.Details
			fmt.Fprintf(tw, "  Version:\t%s\n", comp.Version)
			fmt.Fprintf(tw, "  API version:\t%s (minimum version %s)\n", d["ApiVersion"], d["MinAPIVersion"])
			fmt.Fprintf(tw, "  Go version:\t%s\n", d["GoVersion"])
			fmt.Fprintf(tw, "  Git commit:\t%s\n", d["GitCommit"])
			fmt.Fprintf(tw, "  Built:\t%s\n", humanBuildTime(d["BuildTime"]))
			fmt.Fprintf(tw, "  OS/Arch:\t%s/%s\n", d["Os"], d["Arch"])
			fmt.Fprintf(tw, "  Experimental:\t%s\n", d["Experimental"])
			continue
		}
		fmt.Fprintf(tw, "  Version:\t%s\n", comp.Version)
		fmt.Fprintf(tw, "  GitCommit:\t%s\n", comp.Details["GitCommit"])
	}
	tw.Flush()
}

// humanBuildTime prints an RFC 3339 build time as docker does
// ("Fri May 30 12:07:14 2025"), anything else unchanged.
func humanBuildTime(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.ANSIC)
	}
	return s
}
