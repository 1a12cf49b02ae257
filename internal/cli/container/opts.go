package container

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docker/cli/opts"
	"github.com/docker/go-connections/nat"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// createOptions are the flags `run` and `create` share, parsed with
// docker's semantics (docker/cli's flag value types do the unit parsing:
// --memory 64m, --ulimit nofile=1024:2048, --cpus 1.5).
type createOptions struct {
	name, hostname, domainname, user, workdir, entrypoint  string
	network, restart, stopSignal, runtime, platform        string
	ip, ip6, macAddress                                    string
	networkAliases                                         []string
	pull, cidfile, ipc, pid, uts, userns, cgroupns, logDrv string
	cpusetCpus, cpusetMems, cgroupParent, volumeDriver     string
	healthCmd                                              string
	healthInterval, healthTimeout, healthStart             time.Duration
	healthStartInterval                                    time.Duration
	healthRetries                                          int
	noHealthcheck                                          bool
	interactive, tty, rm, readOnly, privileged, publishAll bool
	init, oomKillDisable, disableContentTrust              bool
	stopTimeout                                            int
	cpuShares, cpuPeriod, cpuQuota, pidsLimit              int64
	swappiness                                             int64
	oomScoreAdj                                            int

	memory, memoryReservation, shmSize opts.MemBytes
	memorySwap                         opts.MemSwapBytes
	cpus                               opts.NanoCPUs

	attach, env, envFile, labels, labelFile, volumes, tmpfs   opts.ListOpts
	publish, expose, capAdd, capDrop, securityOpt, devices    opts.ListOpts
	logOpts, addHost, dns, dnsSearch, dnsOpt, groupAdd, links opts.ListOpts
	volumesFrom, sysctls, storageOpt, annotations             opts.ListOpts
	ulimits                                                   *opts.UlimitOpt
	mounts                                                    opts.MountOpt

	blkioWeight                     uint16
	blkioWeightDevice               opts.WeightdeviceOpt
	deviceReadBps, deviceWriteBps   opts.ThrottledeviceOpt
	deviceReadIOps, deviceWriteIOps opts.ThrottledeviceOpt
	deviceCgroupRules               opts.ListOpts
	kernelMemory                    opts.MemBytes
	isolation                       string
	quiet                           bool
}

func newCreateOptions() *createOptions {
	return &createOptions{
		blkioWeightDevice: opts.NewWeightdeviceOpt(opts.ValidateWeightDevice),
		deviceReadBps:     opts.NewThrottledeviceOpt(opts.ValidateThrottleBpsDevice),
		deviceWriteBps:    opts.NewThrottledeviceOpt(opts.ValidateThrottleBpsDevice),
		deviceReadIOps:    opts.NewThrottledeviceOpt(opts.ValidateThrottleIOpsDevice),
		deviceWriteIOps:   opts.NewThrottledeviceOpt(opts.ValidateThrottleIOpsDevice),
		deviceCgroupRules: opts.NewListOpts(validateDeviceCgroupRule),
		attach:            opts.NewListOpts(validateAttach),
		env:               opts.NewListOpts(opts.ValidateEnv),
		envFile:           opts.NewListOpts(nil),
		labels:            opts.NewListOpts(opts.ValidateLabel),
		labelFile:         opts.NewListOpts(nil),
		volumes:           opts.NewListOpts(nil),
		tmpfs:             opts.NewListOpts(nil),
		publish:           opts.NewListOpts(nil),
		expose:            opts.NewListOpts(nil),
		capAdd:            opts.NewListOpts(nil),
		capDrop:           opts.NewListOpts(nil),
		securityOpt:       opts.NewListOpts(nil),
		devices:           opts.NewListOpts(nil),
		logOpts:           opts.NewListOpts(nil),
		addHost:           opts.NewListOpts(opts.ValidateExtraHost),
		dns:               opts.NewListOpts(opts.ValidateIPAddress),
		dnsSearch:         opts.NewListOpts(opts.ValidateDNSSearch),
		dnsOpt:            opts.NewListOpts(nil),
		groupAdd:          opts.NewListOpts(nil),
		links:             opts.NewListOpts(opts.ValidateLink),
		volumesFrom:       opts.NewListOpts(nil),
		sysctls:           opts.NewListOpts(opts.ValidateSysctl),
		storageOpt:        opts.NewListOpts(nil),
		annotations:       opts.NewListOpts(nil),
		ulimits:           opts.NewUlimitOpt(nil),
	}
}

func validateAttach(v string) (string, error) {
	s := strings.ToLower(v)
	for _, ok := range []string{"stdin", "stdout", "stderr"} {
		if s == ok {
			return s, nil
		}
	}
	return v, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

// addFlags registers docker's create/run flags.
func (o *createOptions) addFlags(f *pflag.FlagSet) {
	f.SetInterspersed(false)
	// -h is --hostname, so help is only --help (as docker).
	f.Bool("help", false, "Print usage")
	f.VarP(&o.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	f.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	f.StringVar(&o.network, "network", "default", "Connect a container to a network")
	f.StringVar(&o.network, "net", "default", "Connect a container to a network")
	_ = f.MarkHidden("net")
	f.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringVar(&o.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	f.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	f.StringSliceVar(&o.networkAliases, "network-alias", nil, "Add network-scoped alias for the container")
	f.StringSliceVar(&o.networkAliases, "net-alias", nil, "Add network-scoped alias for the container")
	_ = f.MarkHidden("net-alias")
	_ = f.MarkHidden("net")
	f.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	f.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	f.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	f.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	f.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	f.StringVar(&o.pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	f.BoolVar(&o.disableContentTrust, "disable-content-trust", true, "Skip image verification")
	f.StringVar(&o.cidfile, "cidfile", "", "Write the container ID to the file")
	f.StringVar(&o.ipc, "ipc", "", "IPC mode to use")
	f.StringVar(&o.pid, "pid", "", "PID namespace to use")
	f.StringVar(&o.uts, "uts", "", "UTS namespace to use")
	f.StringVar(&o.userns, "userns", "", "User namespace to use")
	f.StringVar(&o.cgroupns, "cgroupns", "", `Cgroup namespace to use (host|private)`)
	f.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	f.StringVar(&o.logDrv, "log-driver", "", "Logging driver for the container")
	f.Var(&o.logOpts, "log-opt", "Log driver options")
	f.StringVar(&o.volumeDriver, "volume-driver", "", "Optional volume driver for the container")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVar(&o.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	f.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	f.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	f.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	f.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	f.VarP(&o.env, "env", "e", "Set environment variables")
	f.Var(&o.envFile, "env-file", "Read in a file of environment variables")
	f.VarP(&o.labels, "label", "l", "Set meta data on a container")
	f.Var(&o.labelFile, "label-file", "Read in a line delimited file of labels")
	f.VarP(&o.volumes, "volume", "v", "Bind mount a volume")
	f.Var(&o.mounts, "mount", "Attach a filesystem mount to the container")
	f.Var(&o.tmpfs, "tmpfs", "Mount a tmpfs directory")
	f.VarP(&o.publish, "publish", "p", "Publish a container's port(s) to the host")
	f.Var(&o.expose, "expose", "Expose a port or a range of ports")
	f.Var(&o.capAdd, "cap-add", "Add Linux capabilities")
	f.Var(&o.capDrop, "cap-drop", "Drop Linux capabilities")
	f.Var(&o.securityOpt, "security-opt", "Security Options")
	f.Var(&o.devices, "device", "Add a host device to the container")
	f.Var(&o.addHost, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	f.Var(&o.dns, "dns", "Set custom DNS servers")
	f.Var(&o.dnsSearch, "dns-search", "Set custom DNS search domains")
	f.Var(&o.dnsOpt, "dns-option", "Set DNS options")
	f.Var(&o.groupAdd, "group-add", "Add additional groups to join")
	f.Var(&o.links, "link", "Add link to another container")
	f.Var(&o.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	f.Var(&o.sysctls, "sysctl", "Sysctl options")
	f.Var(&o.storageOpt, "storage-opt", "Storage driver options for the container")
	f.Var(&o.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
	f.Var(o.ulimits, "ulimit", "Ulimit options")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	f.Var(&o.blkioWeightDevice, "blkio-weight-device", "Block IO weight (relative device weight)")
	f.Var(&o.deviceReadBps, "device-read-bps", "Limit read rate (bytes per second) from a device")
	f.Var(&o.deviceWriteBps, "device-write-bps", "Limit write rate (bytes per second) to a device")
	f.Var(&o.deviceReadIOps, "device-read-iops", "Limit read rate (IO per second) from a device")
	f.Var(&o.deviceWriteIOps, "device-write-iops", "Limit write rate (IO per second) to a device")
	f.Var(&o.deviceCgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	f.Var(&o.kernelMemory, "kernel-memory", "Kernel memory limit")
	_ = f.MarkDeprecated("kernel-memory", "and no longer supported by the kernel")
	f.StringVar(&o.isolation, "isolation", "", "Container isolation technology")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	f.Int64Var(&o.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	f.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	f.DurationVar(&o.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthStart, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthStartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	f.IntVar(&o.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	f.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
}

// containerConfig is what a create request carries.
type containerConfig struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	Network    *network.NetworkingConfig
}

// parse builds the create request from the flags, image and command, the
// way docker's CLI does; errors are the user's (exit 125).
func (o *createOptions) parse(f *pflag.FlagSet, image string, args []string) (*containerConfig, error) {
	attachStdin, attachStdout, attachStderr := false, false, false
	for _, a := range o.attach.GetSlice() {
		switch a {
		case "stdin":
			attachStdin = true
		case "stdout":
			attachStdout = true
		case "stderr":
			attachStderr = true
		}
	}
	if o.interactive {
		attachStdin = true
	}
	if o.attach.Len() == 0 {
		attachStdout, attachStderr = true, true
	}
	if o.swappiness != -1 && (o.swappiness < 0 || o.swappiness > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", o.swappiness)
	}
	var binds []string
	volumes := map[string]struct{}{}
	for _, v := range o.volumes.GetSlice() {
		src, rest, ok := strings.Cut(v, ":")
		if !ok || src == "" {
			if !filepath.IsAbs(v) {
				return nil, fmt.Errorf("invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", v, v)
			}
			volumes[v] = struct{}{}
			continue
		}
		dst, _, _ := strings.Cut(rest, ":")
		if dst == "" || !filepath.IsAbs(dst) {
			return nil, fmt.Errorf("invalid volume specification: '%s'", v)
		}
		if !filepath.IsAbs(src) && strings.HasPrefix(src, ".") {
			if abs, err := filepath.Abs(src); err == nil {
				src = abs
			}
		}
		binds = append(binds, src+":"+rest)
	}
	tmpfs := map[string]string{}
	for _, t := range o.tmpfs.GetSlice() {
		k, v, _ := strings.Cut(t, ":")
		tmpfs[k] = v
	}
	var entrypoint []string
	if o.entrypoint != "" {
		entrypoint = []string{o.entrypoint}
	} else if f.Changed("entrypoint") {
		entrypoint = []string{""}
	}
	ports, natBindings, err := nat.ParsePortSpecs(o.publish.GetSlice())
	if err != nil {
		return nil, err
	}
	portBindings := network.PortMap{}
	for port, bs := range natBindings {
		p, err := network.ParsePort(string(port))
		if err != nil {
			return nil, err
		}
		portBindings[p] = []network.PortBinding{}
		for _, b := range bs {
			var ip netip.Addr
			if b.HostIP != "" {
				if ip, err = netip.ParseAddr(b.HostIP); err != nil {
					return nil, fmt.Errorf("invalid IP address in --publish: %w", err)
				}
			}
			portBindings[p] = append(portBindings[p], network.PortBinding{HostIP: ip, HostPort: b.HostPort})
		}
	}
	exposed := network.PortSet{}
	for port := range ports {
		p, err := network.ParsePort(string(port))
		if err != nil {
			return nil, err
		}
		exposed[p] = struct{}{}
	}
	for _, e := range o.expose.GetSlice() {
		pr, err := network.ParsePortRange(e)
		if err != nil {
			return nil, fmt.Errorf("invalid range format for --expose: %w", err)
		}
		for p := range pr.All() {
			exposed[p] = struct{}{}
		}
	}
	var devices []container.DeviceMapping
	for _, d := range o.devices.GetSlice() {
		dm, err := parseDevice(d)
		if err != nil {
			return nil, err
		}
		devices = append(devices, dm)
	}
	env, err := opts.ReadKVEnvStrings(o.envFile.GetSlice(), o.env.GetSlice())
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	labels, err := opts.ReadKVStrings(o.labelFile.GetSlice(), o.labels.GetSlice())
	if err != nil {
		return nil, fmt.Errorf("--label-file: %w", err)
	}
	restart, err := opts.ParseRestartPolicy(o.restart)
	if err != nil {
		return nil, err
	}
	logOpts := map[string]string{}
	for _, l := range o.logOpts.GetSlice() {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("invalid key/value pair format in logging opts: %s", l)
		}
		logOpts[k] = v
	}
	if o.logDrv == "none" && len(logOpts) > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", o.logDrv)
	}
	secOpts, err := parseSecurityOpts(o.securityOpt.GetSlice())
	if err != nil {
		return nil, err
	}
	storage := map[string]string{}
	for _, s := range o.storageOpt.GetSlice() {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("invalid storage option: %s", s)
		}
		storage[k] = v
	}
	var health *container.HealthConfig
	haveHealth := o.healthCmd != "" || o.healthInterval != 0 || o.healthTimeout != 0 || o.healthStart != 0 || o.healthRetries != 0 || o.healthStartInterval != 0
	if o.noHealthcheck {
		if haveHealth {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		health = &container.HealthConfig{Test: []string{"NONE"}}
	} else if haveHealth {
		for name, d := range map[string]time.Duration{"interval": o.healthInterval, "timeout": o.healthTimeout, "start-period": o.healthStart, "start-interval": o.healthStartInterval} {
			if d < 0 {
				return nil, fmt.Errorf("--health-%s cannot be negative", name)
			}
		}
		if o.healthRetries < 0 {
			return nil, errors.New("--health-retries cannot be negative")
		}
		var probe []string
		if o.healthCmd != "" {
			probe = []string{"CMD-SHELL", o.healthCmd}
		}
		health = &container.HealthConfig{Test: probe, Interval: o.healthInterval, Timeout: o.healthTimeout, StartPeriod: o.healthStart, StartInterval: o.healthStartInterval, Retries: o.healthRetries}
	}
	for flag, mode := range map[string]interface{ Valid() bool }{"--pid": container.PidMode(o.pid), "--uts": container.UTSMode(o.uts), "--userns": container.UsernsMode(o.userns), "--cgroupns": container.CgroupnsMode(o.cgroupns)} {
		if !mode.Valid() {
			return nil, fmt.Errorf("%s: invalid %s mode", flag, strings.ToUpper(strings.TrimPrefix(flag, "--")))
		}
	}
	var dns []netip.Addr
	for _, d := range o.dns.GetSlice() {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fmt.Errorf("--dns: %w", err)
		}
		dns = append(dns, a)
	}
	sysctls := map[string]string{}
	for _, s := range o.sysctls.GetSlice() {
		k, v, _ := strings.Cut(s, "=")
		sysctls[k] = v
	}
	annotations := map[string]string{}
	for _, s := range o.annotations.GetSlice() {
		k, v, _ := strings.Cut(s, "=")
		annotations[k] = v
	}
	var cmd []string
	if len(args) > 0 {
		cmd = args
	}
	cfg := &container.Config{
		Hostname: o.hostname, Domainname: o.domainname, ExposedPorts: exposed, User: o.user,
		Tty: o.tty, OpenStdin: o.interactive, AttachStdin: attachStdin, AttachStdout: attachStdout, AttachStderr: attachStderr,
		Env: env, Cmd: cmd, Image: image, Volumes: volumes, Entrypoint: entrypoint, WorkingDir: o.workdir,
		Labels: opts.ConvertKVStringsToMap(labels), StopSignal: o.stopSignal, Healthcheck: health,
	}
	if f.Changed("stop-timeout") {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}
	swappiness, oomDisable, pids := o.swappiness, o.oomKillDisable, o.pidsLimit
	hc := &container.HostConfig{
		Binds: binds, ContainerIDFile: o.cidfile, OomScoreAdj: o.oomScoreAdj, AutoRemove: o.rm, Privileged: o.privileged,
		PortBindings: portBindings, Links: o.links.GetSlice(), PublishAllPorts: o.publishAll,
		DNS: dns, DNSSearch: o.dnsSearch.GetSlice(), DNSOptions: o.dnsOpt.GetSlice(), ExtraHosts: o.addHost.GetSlice(),
		VolumesFrom: o.volumesFrom.GetSlice(), IpcMode: container.IpcMode(o.ipc), NetworkMode: container.NetworkMode(o.network),
		PidMode: container.PidMode(o.pid), UTSMode: container.UTSMode(o.uts), UsernsMode: container.UsernsMode(o.userns),
		CgroupnsMode: container.CgroupnsMode(o.cgroupns), CapAdd: o.capAdd.GetSlice(), CapDrop: o.capDrop.GetSlice(),
		GroupAdd: o.groupAdd.GetSlice(), RestartPolicy: restart, SecurityOpt: secOpts, StorageOpt: storage,
		ReadonlyRootfs: o.readOnly, LogConfig: container.LogConfig{Type: o.logDrv, Config: logOpts},
		Isolation:    container.Isolation(o.isolation),
		VolumeDriver: o.volumeDriver, ShmSize: o.shmSize.Value(), Tmpfs: tmpfs, Sysctls: sysctls, Runtime: o.runtime,
		Mounts: o.mounts.Value(), Annotations: annotations,
		Resources: container.Resources{
			CgroupParent: o.cgroupParent, Memory: o.memory.Value(), MemoryReservation: o.memoryReservation.Value(),
			MemorySwap: o.memorySwap.Value(), MemorySwappiness: &swappiness, OomKillDisable: &oomDisable,
			NanoCPUs: o.cpus.Value(), CPUShares: o.cpuShares, CPUPeriod: o.cpuPeriod, CPUQuota: o.cpuQuota,
			CpusetCpus: o.cpusetCpus, CpusetMems: o.cpusetMems, PidsLimit: &pids, Ulimits: o.ulimits.GetList(),
			BlkioWeight: o.blkioWeight, BlkioWeightDevice: o.blkioWeightDevice.GetList(),
			BlkioDeviceReadBps: o.deviceReadBps.GetList(), BlkioDeviceWriteBps: o.deviceWriteBps.GetList(),
			BlkioDeviceReadIOps: o.deviceReadIOps.GetList(), BlkioDeviceWriteIOps: o.deviceWriteIOps.GetList(),
			DeviceCgroupRules: o.deviceCgroupRules.GetSlice(),
			Devices:           devices,
		},
	}
	if o.rm && !hc.RestartPolicy.IsNone() {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	if f.Changed("init") {
		v := o.init
		hc.Init = &v
	}
	if cfg.OpenStdin && cfg.AttachStdin {
		cfg.StdinOnce = true
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	if hc.NetworkMode.IsUserDefined() || o.network == "default" {
		es := &network.EndpointSettings{Aliases: o.networkAliases}
		if o.ip != "" || o.ip6 != "" {
			es.IPAMConfig = &network.EndpointIPAMConfig{}
			if o.ip != "" {
				a, err := netip.ParseAddr(o.ip)
				if err != nil || !a.Is4() {
					return nil, fmt.Errorf("invalid IPv4 address: %s", o.ip)
				}
				es.IPAMConfig.IPv4Address = a
			}
			if o.ip6 != "" {
				a, err := netip.ParseAddr(o.ip6)
				if err != nil || !a.Is6() {
					return nil, fmt.Errorf("invalid IPv6 address: %s", o.ip6)
				}
				es.IPAMConfig.IPv6Address = a
			}
		}
		if o.macAddress != "" {
			mac, err := net.ParseMAC(o.macAddress)
			if err != nil {
				return nil, fmt.Errorf("%s is not a valid mac address", o.macAddress)
			}
			es.MacAddress = network.HardwareAddr(mac)
		}
		nc.EndpointsConfig[o.network] = es
	} else if len(o.networkAliases) > 0 || o.ip != "" || o.ip6 != "" {
		return nil, errors.New("network-scoped aliases and addresses are only supported for user-defined networks")
	}
	return &containerConfig{Config: cfg, HostConfig: hc, Network: nc}, nil
}

// parseDevice is docker's --device HOST[:CONTAINER[:PERMISSIONS]].
func parseDevice(d string) (container.DeviceMapping, error) {
	parts := strings.Split(d, ":")
	src, dst, perms := parts[0], "", "rwm"
	switch len(parts) {
	case 3:
		perms = parts[2]
		dst = parts[1]
	case 2:
		if isPerms(parts[1]) {
			perms = parts[1]
		} else {
			dst = parts[1]
		}
	case 1:
	default:
		return container.DeviceMapping{}, fmt.Errorf("invalid device specification: %s", d)
	}
	if !isPerms(perms) {
		return container.DeviceMapping{}, fmt.Errorf("invalid device mode: %s", perms)
	}
	if dst == "" {
		dst = src
	}
	if !filepath.IsAbs(src) || !filepath.IsAbs(dst) {
		return container.DeviceMapping{}, fmt.Errorf("%s is not an absolute path", d)
	}
	return container.DeviceMapping{PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms}, nil
}

func isPerms(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	return strings.Trim(s, "rwm") == ""
}

// parseSecurityOpts reads seccomp=FILE as docker's CLI does: the profile's
// JSON travels in the request.
func parseSecurityOpts(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, o := range in {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		if o == "no-new-privileges" {
			out = append(out, o)
			continue
		}
		if !ok {
			return nil, fmt.Errorf("invalid --security-opt: %q", o)
		}
		if k == "seccomp" && v != "unconfined" && v != "builtin" {
			b, err := readFile(v)
			if err != nil {
				return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			o = "seccomp=" + string(b)
		}
		out = append(out, o)
	}
	return out, nil
}

var _ = strconv.Itoa

// validateDeviceCgroupRule checks a --device-cgroup-rule as docker's CLI
// does: "TYPE MAJOR:MINOR ACCESS".
func validateDeviceCgroupRule(val string) (string, error) {
	if deviceCgroupRuleRE.MatchString(val) {
		return val, nil
	}
	return val, fmt.Errorf("invalid device cgroup format '%s'", val)
}

var deviceCgroupRuleRE = regexp.MustCompile(`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`)
