package system

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"

	"github.com/moby/moby/api/types/system"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/version"
	"github.com/berth/berth/internal/client"
)

// infoData is what `info --format` templates see: the daemon's
// system.Info fields directly (.ServerVersion, .NCPU, ...), plus
// .ClientInfo and .ServerErrors, as with docker.
type infoData struct {
	*system.Info
	ClientInfo   clientInfo
	ServerErrors []string `json:",omitempty"`
}

type clientInfo struct {
	Debug   bool
	Version string
	Context string
}

type infoOptions struct{ format string }

func newInfoCommand(copts *client.Options) *cobra.Command {
	var o infoOptions
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInfo(cmd, copts, o)
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

func runInfo(cmd *cobra.Command, copts *client.Options, o infoOptions) error {
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
	data := infoData{ClientInfo: clientInfo{Version: version.Version, Context: "default"}}
	res, ierr := c.Info(cmd.Context(), mobyclient.InfoOptions{})
	if ierr == nil {
		data.Info = &res.Info
	} else {
		data.ServerErrors = []string{client.Cause(ierr).Error()}
	}
	out := cmd.OutOrStdout()
	if tmpl != nil {
		if data.Info == nil {
			data.Info = &system.Info{}
		}
		if err := command.ExecFormat(out, tmpl, data); err != nil {
			return err
		}
	} else {
		printInfo(out, cmd.ErrOrStderr(), data)
	}
	if ierr != nil {
		return command.DaemonError(ierr)
	}
	return nil
}

func printInfo(out, errOut io.Writer, d infoData) {
	p := func(indent int, format string, args ...any) {
		fmt.Fprintf(out, strings.Repeat(" ", indent)+format+"\n", args...)
	}
	p(0, "Client:")
	p(1, "Version:    %s", d.ClientInfo.Version)
	p(1, "Context:    %s", d.ClientInfo.Context)
	p(1, "Debug Mode: %v", d.ClientInfo.Debug)
	fmt.Fprintln(out)
	p(0, "Server:")
	i := d.Info
	if i == nil {
		return
	}
	p(1, "Containers: %d", i.Containers)
	p(2, "Running: %d", i.ContainersRunning)
	p(2, "Paused: %d", i.ContainersPaused)
	p(2, "Stopped: %d", i.ContainersStopped)
	p(1, "Images: %d", i.Images)
	p(1, "Server Version: %s", i.ServerVersion)
	p(1, "Storage Driver: %s", i.Driver)
	for _, kv := range i.DriverStatus {
		p(2, "%s: %s", kv[0], kv[1])
	}
	p(1, "Logging Driver: %s", i.LoggingDriver)
	p(1, "Cgroup Driver: %s", i.CgroupDriver)
	p(1, "Cgroup Version: %s", i.CgroupVersion)
	p(1, "Plugins:")
	p(2, "Volume: %s", strings.Join(i.Plugins.Volume, " "))
	p(2, "Network: %s", strings.Join(i.Plugins.Network, " "))
	p(2, "Log: %s", strings.Join(i.Plugins.Log, " "))
	p(1, "Swarm: %s", i.Swarm.LocalNodeState)
	names := make([]string, 0, len(i.Runtimes))
	for n := range i.Runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	p(1, "Runtimes: %s", strings.Join(names, " "))
	p(1, "Default Runtime: %s", i.DefaultRuntime)
	if len(i.SecurityOptions) > 0 {
		p(1, "Security Options:")
		for _, so := range i.SecurityOptions {
			name, rest := "", []string{}
			for _, kv := range strings.Split(so, ",") {
				k, v, _ := strings.Cut(kv, "=")
				if k == "name" {
					name = v
				} else {
					rest = append(rest, strings.ToUpper(k[:1])+k[1:]+": "+v)
				}
			}
			p(2, "%s", name)
			for _, r := range rest {
				p(3, "%s", r)
			}
		}
	}
	p(1, "Kernel Version: %s", i.KernelVersion)
	p(1, "Operating System: %s", i.OperatingSystem)
	p(1, "OSType: %s", i.OSType)
	p(1, "Architecture: %s", i.Architecture)
	p(1, "CPUs: %d", i.NCPU)
	p(1, "Total Memory: %s", humanBytes(i.MemTotal))
	p(1, "Name: %s", i.Name)
	p(1, "ID: %s", i.ID)
	p(1, "Docker Root Dir: %s", i.DockerRootDir)
	p(1, "Debug Mode: %v", i.Debug)
	if i.Debug {
		p(2, "File Descriptors: %d", i.NFd)
		p(2, "Goroutines: %d", i.NGoroutines)
		p(2, "System Time: %s", i.SystemTime)
		p(2, "EventsListeners: %d", i.NEventsListener)
	}
	p(1, "Experimental: %v", i.ExperimentalBuild)
	if i.RegistryConfig != nil && len(i.RegistryConfig.InsecureRegistryCIDRs) > 0 {
		p(1, "Insecure Registries:")
		for _, c := range i.RegistryConfig.InsecureRegistryCIDRs {
			p(2, "%s", c)
		}
	}
	p(1, "Live Restore Enabled: %v", i.LiveRestoreEnabled)
	if len(i.Warnings) > 0 {
		fmt.Fprintln(out)
		for _, w := range i.Warnings {
			fmt.Fprintln(errOut, w)
		}
	}
}

// humanBytes prints a size in binary units as docker's info does
// ("23.47GiB").
func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}
