package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth/berth/internal/network"
)

// writeEtcFiles writes the container's hostname, hosts and resolv.conf
// into dir, following docker's rules: resolv.conf is the host's without
// loopback nameservers (unreachable from the container's namespace),
// Google's public servers when none is left; with the host's network the
// host's files are used as they are.
func (e *Engine) writeEtcFiles(c *Container, dir string) error {
	hostname := c.Config.Hostname
	if hostname == "" {
		hostname = c.ID[:12]
	}
	host := c.HostConfig.NetworkMode == "host"
	if host && c.Config.Hostname == "" {
		hostname, _ = os.Hostname()
	}
	var hosts bytes.Buffer
	if host {
		b, _ := os.ReadFile("/etc/hosts")
		hosts.Write(b)
	} else {
		hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
		fmt.Fprintf(&hosts, "127.0.1.1\t%s\n", network.HostsNames(hostname, c.Config.Domainname))
	}
	for _, h := range c.HostConfig.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if ok {
			fmt.Fprintf(&hosts, "%s\t%s\n", ip, name)
		}
	}
	resolv := network.HostResolvConf()
	hc := c.HostConfig
	if !host {
		servers, search, options := e.dns(c)
		resolv = network.ResolvConf(resolv, network.ResolvOptions{DNS: servers, Search: search, Options: options})
	} else if len(hc.DNS) > 0 || len(hc.DNSSearch) > 0 || len(hc.DNSOptions) > 0 {
		// On the host's network too, the container's own --dns,
		// --dns-search and --dns-option apply, as with dockerd.
		resolv = network.ResolvConf(resolv, network.ResolvOptions{DNS: dnsStrings(hc.DNS), Search: hc.DNSSearch, Options: hc.DNSOptions})
	}
	for name, data := range map[string][]byte{
		"hostname":    []byte(hostname + "\n"),
		"hosts":       hosts.Bytes(),
		"resolv.conf": resolv,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	return nil
}
