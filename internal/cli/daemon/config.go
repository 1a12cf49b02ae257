package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/pflag"

	"github.com/berth/berth/internal/engine"
)

// Defaults of the daemon's configuration.
const (
	DefaultDataRoot   = "/var/lib/berth"
	DefaultExecRoot   = "/run/berth"
	DefaultHost       = "unix:///run/berth/berth.sock"
	DefaultConfigFile = "/etc/berth/daemon.json"
	DefaultGroup      = "berth"
	DefaultRuntime    = "berth"
)

// Config is the daemon's configuration: flags and daemon.json merged. The
// JSON keys are dockerd's where they apply.
type Config struct {
	Hosts          []string                  `json:"hosts,omitempty"`
	DataRoot       string                    `json:"data-root,omitempty"`
	ExecRoot       string                    `json:"exec-root,omitempty"`
	Pidfile        string                    `json:"pidfile,omitempty"`
	Group          string                    `json:"group,omitempty"`
	DefaultRuntime string                    `json:"default-runtime,omitempty"`
	Runtimes       map[string]system.Runtime `json:"runtimes,omitempty"`
	Debug          bool                      `json:"debug,omitempty"`
	LogLevel       string                    `json:"log-level,omitempty"`
	LogFormat      string                    `json:"log-format,omitempty"`
	TLS            bool                      `json:"tls,omitempty"`
	TLSVerify      bool                      `json:"tlsverify,omitempty"`
	TLSCACert      string                    `json:"tlscacert,omitempty"`
	TLSCert        string                    `json:"tlscert,omitempty"`
	TLSKey         string                    `json:"tlskey,omitempty"`
	InsecureTCP    bool                      `json:"insecure-tcp,omitempty"`
	Experimental   bool                      `json:"experimental,omitempty"`
	// Labels are the daemon's key=value labels, shown by info.
	Labels []string `json:"labels,omitempty"`
	// InsecureRegistries are registries ("host" or "host:port") reached
	// over plain HTTP; loopback registries always are.
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	// BIP, DefaultAddressPools, MTU and Bridge configure networking
	// (networks.go): the default bridge's address, the pools of network
	// subnets, the MTU, and the default bridge's name ("berth0").
	BIP                 string        `json:"bip,omitempty"`
	DefaultAddressPools []AddressPool `json:"default-address-pools,omitempty"`
	MTU                 int           `json:"mtu,omitempty"`
	Bridge              string        `json:"bridge,omitempty"`
	// Container defaults, as dockerd's: the log driver and its options,
	// /dev/shm's size, ulimits and resolv.conf entries of containers that
	// set none.
	LogDriver      string                   `json:"log-driver,omitempty"`
	LogOpts        map[string]string        `json:"log-opts,omitempty"`
	DefaultShmSize string                   `json:"default-shm-size,omitempty"`
	DefaultUlimits map[string]*units.Ulimit `json:"default-ulimits,omitempty"`
	DNS            []string                 `json:"dns,omitempty"`
	DNSSearch      []string                 `json:"dns-search,omitempty"`
	DNSOptions     []string                 `json:"dns-opts,omitempty"`
	// MaxConcurrentDownloads and MaxConcurrentUploads bound a pull's and
	// a push's parallel layer transfers (3 and 5).
	MaxConcurrentDownloads int `json:"max-concurrent-downloads,omitempty"`
	MaxConcurrentUploads   int `json:"max-concurrent-uploads,omitempty"`
	// RegistryMirrors are shown by info; pulls go to the registry named.
	RegistryMirrors []string `json:"registry-mirrors,omitempty"`
	// LiveRestore is accepted: containers always outlive the daemon.
	LiveRestore bool `json:"live-restore,omitempty"`
	// StorageDriver may be overlay2 (the only one); ExecOpts may set
	// native.cgroupdriver=cgroupfs (the only one); Features is accepted.
	StorageDriver string          `json:"storage-driver,omitempty"`
	ExecOpts      []string        `json:"exec-opts,omitempty"`
	Features      map[string]bool `json:"features,omitempty"`
	// ChainPrefix names the daemon's iptables chains ("BERTH"); a hidden
	// flag so tests can run a daemon beside another one.
	ChainPrefix string `json:"-"`

	// AddRuntimes are --add-runtime NAME=PATH values (flags only).
	AddRuntimes []string `json:"-"`
	// ConfigFile is --config-file; the file itself cannot name it.
	ConfigFile string `json:"-"`
}

// flagForKey maps each daemon.json key to the flag that sets the same
// thing, for the "specified both as a flag and in the file" check.
var flagForKey = map[string]string{
	"hosts": "host", "data-root": "data-root", "exec-root": "exec-root", "pidfile": "pidfile",
	"group": "group", "default-runtime": "default-runtime", "runtimes": "add-runtime",
	"debug": "debug", "log-level": "log-level", "log-format": "log-format", "tls": "tls",
	"tlsverify": "tlsverify", "tlscacert": "tlscacert", "tlscert": "tlscert", "tlskey": "tlskey",
	"insecure-tcp": "insecure-tcp", "experimental": "experimental", "labels": "label",
	"insecure-registries": "insecure-registry",
	"bip":                 "bip", "default-address-pools": "default-address-pool", "mtu": "mtu", "bridge": "bridge",
	"log-driver": "log-driver", "log-opts": "log-opt", "default-shm-size": "default-shm-size",
	"default-ulimits": "default-ulimit", "dns": "dns", "dns-search": "dns-search", "dns-opts": "dns-opt",
	"max-concurrent-downloads": "max-concurrent-downloads", "max-concurrent-uploads": "max-concurrent-uploads",
	"registry-mirrors": "registry-mirror", "live-restore": "live-restore", "storage-driver": "storage-driver",
	"exec-opts": "exec-opt", "features": "",
}

// fileConfig reads path into a Config and the set of keys it holds. A
// missing file is an error only when the user named it.
func fileConfig(path string, named bool) (Config, map[string]bool, error) {
	var cfg Config
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) && !named {
			return cfg, nil, nil
		}
		return cfg, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return cfg, nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return cfg, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	var unknown []string
	keys := map[string]bool{}
	for k := range raw {
		if _, ok := flagForKey[k]; !ok {
			unknown = append(unknown, k)
		}
		keys[k] = true
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return cfg, nil, fmt.Errorf("config file %s: the following directives don't match any configuration option: %s", path, strings.Join(unknown, ", "))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&cfg); err != nil {
		return cfg, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, keys, nil
}

// merge applies the file's values under the flags: a key set in the file
// and by a flag on the command line is an error, as with dockerd.
func merge(flags Config, changed *pflag.FlagSet, file Config, keys map[string]bool) (Config, error) {
	var conflicts []string
	for k := range keys {
		if f := changed.Lookup(flagForKey[k]); f != nil && f.Changed {
			conflicts = append(conflicts, fmt.Sprintf("%s: (from flag: %s, from file: %s)", k, f.Value.String(), fileValue(file, k)))
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return flags, fmt.Errorf("unable to configure the berth daemon with file %s: the following directives are specified both as a flag and in the configuration file: %s", flags.ConfigFile, strings.Join(conflicts, ", "))
	}
	out := flags
	set := func(key string, apply func()) {
		if keys[key] {
			apply()
		}
	}
	set("hosts", func() { out.Hosts = file.Hosts })
	set("data-root", func() { out.DataRoot = file.DataRoot })
	set("exec-root", func() { out.ExecRoot = file.ExecRoot })
	set("pidfile", func() { out.Pidfile = file.Pidfile })
	set("group", func() { out.Group = file.Group })
	set("default-runtime", func() { out.DefaultRuntime = file.DefaultRuntime })
	set("runtimes", func() { out.Runtimes = file.Runtimes })
	set("debug", func() { out.Debug = file.Debug })
	set("log-level", func() { out.LogLevel = file.LogLevel })
	set("log-format", func() { out.LogFormat = file.LogFormat })
	set("tls", func() { out.TLS = file.TLS })
	set("tlsverify", func() { out.TLSVerify = file.TLSVerify })
	set("tlscacert", func() { out.TLSCACert = file.TLSCACert })
	set("tlscert", func() { out.TLSCert = file.TLSCert })
	set("tlskey", func() { out.TLSKey = file.TLSKey })
	set("insecure-tcp", func() { out.InsecureTCP = file.InsecureTCP })
	set("experimental", func() { out.Experimental = file.Experimental })
	set("labels", func() { out.Labels = file.Labels })
	set("insecure-registries", func() { out.InsecureRegistries = file.InsecureRegistries })
	set("bip", func() { out.BIP = file.BIP })
	set("default-address-pools", func() { out.DefaultAddressPools = file.DefaultAddressPools })
	set("mtu", func() { out.MTU = file.MTU })
	set("bridge", func() { out.Bridge = file.Bridge })
	set("log-driver", func() { out.LogDriver = file.LogDriver })
	set("log-opts", func() { out.LogOpts = file.LogOpts })
	set("default-shm-size", func() { out.DefaultShmSize = file.DefaultShmSize })
	set("default-ulimits", func() { out.DefaultUlimits = file.DefaultUlimits })
	set("dns", func() { out.DNS = file.DNS })
	set("dns-search", func() { out.DNSSearch = file.DNSSearch })
	set("dns-opts", func() { out.DNSOptions = file.DNSOptions })
	set("max-concurrent-downloads", func() { out.MaxConcurrentDownloads = file.MaxConcurrentDownloads })
	set("max-concurrent-uploads", func() { out.MaxConcurrentUploads = file.MaxConcurrentUploads })
	set("registry-mirrors", func() { out.RegistryMirrors = file.RegistryMirrors })
	set("live-restore", func() { out.LiveRestore = file.LiveRestore })
	set("storage-driver", func() { out.StorageDriver = file.StorageDriver })
	set("exec-opts", func() { out.ExecOpts = file.ExecOpts })
	set("features", func() { out.Features = file.Features })
	return out, nil
}

// containerDefaults checks the container defaults of cfg and returns them
// as the engine takes them.
func containerDefaults(cfg Config) (engine.Defaults, error) {
	var d engine.Defaults
	switch cfg.LogDriver {
	case "", "json-file", "local", "none":
	default:
		return d, fmt.Errorf("log-driver %q: not supported (json-file, local, none)", cfg.LogDriver)
	}
	d.LogConfig = container.LogConfig{Type: cfg.LogDriver, Config: cfg.LogOpts}
	if d.LogConfig.Type == "" && len(cfg.LogOpts) > 0 {
		d.LogConfig.Type = "json-file"
	}
	if cfg.DefaultShmSize != "" {
		n, err := units.RAMInBytes(cfg.DefaultShmSize)
		if err != nil || n <= 0 {
			return d, fmt.Errorf("default-shm-size %q: want a size such as 64m", cfg.DefaultShmSize)
		}
		d.ShmSize = n
	}
	names := make([]string, 0, len(cfg.DefaultUlimits))
	for name := range cfg.DefaultUlimits {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u := cfg.DefaultUlimits[name]
		if u == nil {
			continue
		}
		if _, err := units.ParseUlimit(fmt.Sprintf("%s=%d:%d", name, u.Soft, u.Hard)); err != nil {
			return d, fmt.Errorf("default-ulimits: %v", err)
		}
		d.Ulimits = append(d.Ulimits, &container.Ulimit{Name: name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, ip := range cfg.DNS {
		if net.ParseIP(ip) == nil {
			return d, fmt.Errorf("dns: %s is not an IP address", ip)
		}
	}
	d.DNS, d.DNSSearch, d.DNSOptions = cfg.DNS, cfg.DNSSearch, cfg.DNSOptions
	switch cfg.StorageDriver {
	case "", "overlay2", "overlay":
	default:
		return d, fmt.Errorf("storage-driver %q: not supported (overlay2)", cfg.StorageDriver)
	}
	for _, o := range cfg.ExecOpts {
		k, v, _ := strings.Cut(o, "=")
		if strings.TrimSpace(k) != "native.cgroupdriver" {
			return d, fmt.Errorf("exec-opts %q: unknown option", o)
		}
		if strings.TrimSpace(v) != "cgroupfs" {
			return d, fmt.Errorf("exec-opts %q: only the cgroupfs cgroup driver is supported", o)
		}
	}
	if cfg.MaxConcurrentDownloads < 0 || cfg.MaxConcurrentUploads < 0 {
		return d, errors.New("max-concurrent-downloads and max-concurrent-uploads must not be negative")
	}
	return d, nil
}

func fileValue(c Config, key string) string {
	b, _ := json.Marshal(c)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	if v, ok := m[key]; ok {
		return string(v)
	}
	return "<zero>"
}

// load builds the effective configuration from the parsed flags and the
// configuration file, then validates it.
func load(flags Config, fs *pflag.FlagSet) (Config, error) {
	named := fs.Lookup("config-file") != nil && fs.Lookup("config-file").Changed
	if flags.ConfigFile == "" {
		flags.ConfigFile = DefaultConfigFile
	}
	file, keys, err := fileConfig(flags.ConfigFile, named)
	if err != nil {
		return flags, err
	}
	cfg, err := merge(flags, fs, file, keys)
	if err != nil {
		return cfg, err
	}
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{DefaultHost}
	}
	if cfg.DataRoot == "" {
		cfg.DataRoot = DefaultDataRoot
	}
	if cfg.ExecRoot == "" {
		cfg.ExecRoot = DefaultExecRoot
	}
	if cfg.Pidfile == "" {
		cfg.Pidfile = cfg.ExecRoot + "/berth.pid"
	}
	if cfg.DefaultRuntime == "" {
		cfg.DefaultRuntime = DefaultRuntime
	}
	if cfg.TLSVerify {
		cfg.TLS = true
	}
	if _, err := parseLevel(cfg); err != nil {
		return cfg, err
	}
	switch cfg.LogFormat {
	case "", "text", "json":
	default:
		return cfg, fmt.Errorf("log-format %q: want text or json", cfg.LogFormat)
	}
	for _, l := range cfg.Labels {
		if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
			return cfg, fmt.Errorf("labels: bad attribute format: %s (want key=value)", l)
		}
	}
	if _, err := runtimeSet(cfg); err != nil {
		return cfg, err
	}
	if _, err := networkConfig(cfg); err != nil {
		return cfg, err
	}
	if _, err := containerDefaults(cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// parseLevel returns the slog level of log-level, or debug when --debug.
func parseLevel(cfg Config) (slog.Level, error) {
	if cfg.Debug {
		return slog.LevelDebug, nil
	}
	switch cfg.LogLevel {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug", "trace":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal", "panic":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log-level %q: want debug, info, warn, error or fatal", cfg.LogLevel)
}

// mapValue is a repeatable KEY=VALUE flag (--log-opt).
type mapValue struct{ m *map[string]string }

func (v mapValue) Type() string { return "map" }

func (v mapValue) String() string {
	var s []string
	for k, val := range *v.m {
		s = append(s, k+"="+val)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func (v mapValue) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", s)
	}
	if *v.m == nil {
		*v.m = map[string]string{}
	}
	(*v.m)[k] = val
	return nil
}

// ulimitsValue is a repeatable --default-ulimit NAME=SOFT[:HARD].
type ulimitsValue struct{ m *map[string]*units.Ulimit }

func (v ulimitsValue) Type() string { return "ulimit" }

func (v ulimitsValue) String() string {
	var s []string
	for _, u := range *v.m {
		s = append(s, u.String())
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func (v ulimitsValue) Set(s string) error {
	u, err := units.ParseUlimit(s)
	if err != nil {
		return err
	}
	if *v.m == nil {
		*v.m = map[string]*units.Ulimit{}
	}
	(*v.m)[u.Name] = u
	return nil
}
