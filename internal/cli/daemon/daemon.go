package daemon

import (
	"github.com/spf13/cobra"
)

// NewCommand returns `berth daemon`.
func NewCommand() *cobra.Command {
	return newCommand(func(cmd *cobra.Command, flags Config) error {
		return run(cmd.Context(), flags, cmd.Flags(), cmd.ErrOrStderr())
	})
}

// newCommand builds the command around runFn, which gets the parsed flags.
func newCommand(runFn func(*cobra.Command, Config) error) *cobra.Command {
	var flags Config
	cmd := &cobra.Command{
		Use:   "daemon [OPTIONS]",
		Short: "Run the Berth daemon (the Engine API server)",
		Long: "Run the Berth daemon: it serves the Docker Engine API on the -H addresses, so the berth and\n" +
			"docker command lines, Compose and the SDKs can drive it. Containers outlive it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFn(cmd, flags)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&flags.Hosts, "host", "H", nil, "Daemon socket(s) to listen on: unix:///path or tcp://HOST:PORT (repeatable; default "+DefaultHost+")")
	f.StringVar(&flags.DataRoot, "data-root", DefaultDataRoot, "Root directory of persistent state")
	f.StringVar(&flags.ExecRoot, "exec-root", DefaultExecRoot, "Root directory of runtime state (sockets, shims)")
	f.StringVarP(&flags.Pidfile, "pidfile", "p", "", "Path of the daemon's PID file (default <exec-root>/berth.pid)")
	f.StringVarP(&flags.Group, "group", "G", DefaultGroup, "Group of the unix sockets (ignored if the default group does not exist)")
	f.StringVar(&flags.ConfigFile, "config-file", DefaultConfigFile, "Daemon configuration file (daemon.json keys)")
	f.StringVar(&flags.DefaultRuntime, "default-runtime", DefaultRuntime, "Default OCI runtime for containers: berth, runc, crun or one added")
	f.StringArrayVar(&flags.AddRuntimes, "add-runtime", nil, "Register an OCI runtime as NAME=PATH (repeatable)")
	f.BoolVarP(&flags.Debug, "debug", "D", false, "Enable debug logging")
	f.StringVarP(&flags.LogLevel, "log-level", "l", "info", `Log level: "debug", "info", "warn", "error", "fatal"`)
	f.StringVar(&flags.LogFormat, "log-format", "text", `Log format: "text" or "json"`)
	f.BoolVar(&flags.TLS, "tls", false, "Serve TCP with TLS; implied by --tlsverify")
	f.BoolVar(&flags.TLSVerify, "tlsverify", false, "Serve TCP with TLS and require client certificates signed by --tlscacert")
	f.StringVar(&flags.TLSCACert, "tlscacert", "", "CA that client certificates must chain to")
	f.StringVar(&flags.TLSCert, "tlscert", "", "The server's TLS certificate")
	f.StringVar(&flags.TLSKey, "tlskey", "", "The server's TLS key")
	f.BoolVar(&flags.InsecureTCP, "insecure-tcp", false, "Allow plain TCP on non-loopback addresses (anyone who reaches it is root here)")
	f.BoolVar(&flags.Experimental, "experimental", false, "Enable experimental features")
	f.StringArrayVar(&flags.Labels, "label", nil, "Set key=value labels to the daemon (repeatable)")
	f.StringVar(&flags.BIP, "bip", "", "Address and prefix of the default bridge, e.g. 172.17.0.1/16 (default: a free subnet chosen at first start)")
	f.Var(addressPools{&flags.DefaultAddressPools}, "default-address-pool", "Default address pool for networks as base=CIDR,size=N (repeatable)")
	f.IntVar(&flags.MTU, "mtu", 0, "MTU of the bridges and container interfaces (default 1500)")
	f.StringVarP(&flags.Bridge, "bridge", "b", "", "Name of the default bridge (default berth0); \"none\" for no default bridge network")
	f.StringVar(&flags.ChainPrefix, "iptables-chain-prefix", "", "Prefix of the daemon's iptables chains (default BERTH)")
	f.StringVar(&flags.LogDriver, "log-driver", "", `Default log driver of containers: "json-file", "local" or "none"`)
	f.Var(mapValue{&flags.LogOpts}, "log-opt", "Default log driver options of containers, KEY=VALUE (repeatable)")
	f.StringVar(&flags.DefaultShmSize, "default-shm-size", "", "Default /dev/shm size of containers (default 64MiB)")
	f.Var(ulimitsValue{&flags.DefaultUlimits}, "default-ulimit", "Default ulimits of containers, NAME=SOFT[:HARD] (repeatable)")
	f.StringArrayVar(&flags.DNS, "dns", nil, "Default DNS servers of containers (repeatable)")
	f.StringArrayVar(&flags.DNSSearch, "dns-search", nil, "Default DNS search domains of containers (repeatable)")
	f.StringArrayVar(&flags.DNSOptions, "dns-opt", nil, "Default DNS options of containers (repeatable)")
	f.IntVar(&flags.MaxConcurrentDownloads, "max-concurrent-downloads", 3, "Maximum concurrent layer downloads of a pull")
	f.IntVar(&flags.MaxConcurrentUploads, "max-concurrent-uploads", 5, "Maximum concurrent layer uploads of a push")
	f.StringArrayVar(&flags.RegistryMirrors, "registry-mirror", nil, "Preferred registry mirror (shown by info; repeatable)")
	f.BoolVar(&flags.LiveRestore, "live-restore", false, "Keep containers running while the daemon is down (always the case)")
	f.StringVarP(&flags.StorageDriver, "storage-driver", "s", "", "Storage driver (overlay2)")
	f.StringArrayVar(&flags.ExecOpts, "exec-opt", nil, "Runtime execution options (native.cgroupdriver=cgroupfs)")
	return cmd
}
