package network

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/docker/cli/opts"
	mnetwork "github.com/moby/moby/api/types/network"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

type connectOptions struct {
	ip, ip6      net.IP
	links        opts.ListOpts
	aliases      []string
	linkLocalIPs []net.IP
	driverOpts   []string
	gwPriority   int
}

func newConnectCommand(copts *client.Options) *cobra.Command {
	o := connectOptions{links: opts.NewListOpts(opts.ValidateLink)}
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			driverOpts, err := driverOptions(o.driverOpts)
			if err != nil {
				return &command.StatusError{Code: 1, Err: err}
			}
			var lls []netip.Addr
			for _, ip := range o.linkLocalIPs {
				lls = append(lls, addr(ip))
			}
			settings := &mnetwork.EndpointSettings{
				IPAMConfig: &mnetwork.EndpointIPAMConfig{IPv4Address: addr(o.ip), IPv6Address: addr(o.ip6), LinkLocalIPs: lls},
				Links:      o.links.GetSlice(),
				Aliases:    o.aliases,
				DriverOpts: driverOpts,
				GwPriority: o.gwPriority,
			}
			return connectDo(copts, func(c *client.Client) error {
				_, err := c.NetworkConnect(cmd.Context(), args[0], mobyclient.NetworkConnectOptions{Container: args[1], EndpointConfig: settings})
				return err
			})
		},
	}
	f := cmd.Flags()
	f.IPVar(&o.ip, "ip", nil, `IPv4 address (e.g., "172.30.100.104")`)
	f.IPVar(&o.ip6, "ip6", nil, `IPv6 address (e.g., "2001:db8::33")`)
	f.Var(&o.links, "link", "Add link to another container")
	f.StringSliceVar(&o.aliases, "alias", []string{}, "Add network-scoped alias for the container")
	f.IPSliceVar(&o.linkLocalIPs, "link-local-ip", nil, "Add a link-local address for the container")
	f.StringSliceVar(&o.driverOpts, "driver-opt", []string{}, "driver options for the network")
	f.IntVar(&o.gwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}

func newDisconnectCommand(copts *client.Options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connectDo(copts, func(c *client.Client) error {
				_, err := c.NetworkDisconnect(cmd.Context(), args[0], mobyclient.NetworkDisconnectOptions{Container: args[1], Force: force})
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}

// driverOptions reads --driver-opt key=value pairs with docker's message.
func driverOptions(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, o := range list {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("invalid key/value pair format in driver options")
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// addr converts a flag's IP; the zero Addr when unset.
func addr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
