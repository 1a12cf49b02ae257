package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/docker/cli/opts"
	mnetwork "github.com/moby/moby/api/types/network"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

type createOptions struct {
	driver, scope, configFrom             string
	driverOpts                            *opts.MapOpts
	labels                                opts.ListOpts
	internal, attachable, ingress, config bool
	ipv4, ipv6                            bool
	ipam                                  ipamOptions
}

type ipamOptions struct {
	driver       string
	subnets      []string
	ipRanges     []net.IPNet
	gateways     []net.IP
	auxAddresses *opts.MapOpts
	driverOpts   *opts.MapOpts
}

func newCreateCommand(copts *client.Options) *cobra.Command {
	o := createOptions{
		driverOpts: opts.NewMapOpts(nil, nil),
		labels:     opts.NewListOpts(opts.ValidateLabel),
		ipam:       ipamOptions{auxAddresses: opts.NewMapOpts(nil, nil), driverOpts: opts.NewMapOpts(nil, nil)},
	}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ipam, err := ipamConfig(o.ipam)
			if err != nil {
				return &command.StatusError{Code: 1, Err: err}
			}
			req := mobyclient.NetworkCreateOptions{
				Driver:     o.driver,
				Options:    o.driverOpts.GetAll(),
				IPAM:       ipam,
				Internal:   o.internal,
				Attachable: o.attachable,
				Ingress:    o.ingress,
				Scope:      o.scope,
				ConfigOnly: o.config,
				ConfigFrom: o.configFrom,
				Labels:     opts.ConvertKVStringsToMap(o.labels.GetSlice()),
			}
			if cmd.Flag("ipv4").Changed {
				req.EnableIPv4 = &o.ipv4
			}
			if cmd.Flag("ipv6").Changed {
				req.EnableIPv6 = &o.ipv6
			}
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.NetworkCreate(cmd.Context(), args[0], req)
				if err != nil {
					return err
				}
				for _, w := range res.Warning {
					fmt.Fprintln(cmd.ErrOrStderr(), w)
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), res.ID)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.VarP(o.driverOpts, "opt", "o", "Set driver specific options")
	f.Var(&o.labels, "label", "Set metadata on a network")
	f.BoolVar(&o.internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&o.ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	f.BoolVar(&o.ipv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	f.BoolVar(&o.attachable, "attachable", false, "Enable manual container attachment")
	f.BoolVar(&o.ingress, "ingress", false, "Create swarm routing-mesh network")
	f.StringVar(&o.scope, "scope", "", "Control the network's scope")
	f.BoolVar(&o.config, "config-only", false, "Create a configuration only network")
	f.StringVar(&o.configFrom, "config-from", "", "The network from which to copy the configuration")
	f.StringVar(&o.ipam.driver, "ipam-driver", "default", "IP Address Management Driver")
	f.StringSliceVar(&o.ipam.subnets, "subnet", []string{}, "Subnet in CIDR format that represents a network segment")
	f.IPNetSliceVar(&o.ipam.ipRanges, "ip-range", nil, "Allocate container ip from a sub-range")
	f.IPSliceVar(&o.ipam.gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	f.Var(o.ipam.auxAddresses, "aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	f.Var(o.ipam.driverOpts, "ipam-opt", "Set IPAM driver specific options")
	return cmd
}

// ipamConfig pairs --subnet, --ip-range, --gateway and --aux-address as
// docker's CLI does: every range, gateway and auxiliary address goes to the
// subnet that contains it, with docker's messages for what does not fit.
// The configs keep the order of the subnets.
func ipamConfig(o ipamOptions) (*mnetwork.IPAM, error) {
	if len(o.subnets) < len(o.ipRanges) || len(o.subnets) < len(o.gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	subnets := make([]netip.Prefix, 0, len(o.subnets))
	configs := make([]mnetwork.IPAMConfig, 0, len(o.subnets))
	for _, s := range o.subnets {
		if _, _, err := net.ParseCIDR(s); err != nil {
			return nil, fmt.Errorf("invalid subnet: %w", err)
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		for _, other := range subnets {
			if other.Masked().Overlaps(p.Masked()) {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		subnets = append(subnets, p)
		configs = append(configs, mnetwork.IPAMConfig{Subnet: p, AuxAddress: map[string]netip.Addr{}})
	}
	for _, r := range o.ipRanges {
		ones, _ := r.Mask.Size()
		a, _ := netip.AddrFromSlice(r.IP)
		rp := netip.PrefixFrom(a.Unmap(), ones)
		match := false
		for i, s := range subnets {
			if !s.Masked().Contains(rp.Addr()) {
				continue
			}
			if configs[i].IPRange.IsValid() {
				return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", r.String(), configs[i].IPRange, o.subnets[i])
			}
			configs[i].IPRange, match = rp, true
		}
		if !match {
			return nil, fmt.Errorf("no matching subnet for range %s", r.String())
		}
	}
	for _, g := range o.gateways {
		a, _ := netip.AddrFromSlice(g)
		a = a.Unmap()
		match := false
		for i, s := range subnets {
			if !s.Masked().Contains(a) {
				continue
			}
			if configs[i].Gateway.IsValid() {
				return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", g, configs[i].Gateway, o.subnets[i])
			}
			configs[i].Gateway, match = a, true
		}
		if !match {
			return nil, fmt.Errorf("no matching subnet for gateway %s", g)
		}
	}
	for name, aa := range o.auxAddresses.GetAll() {
		if aa == "" {
			continue
		}
		a, err := netip.ParseAddr(aa)
		if err != nil {
			return nil, err
		}
		match := false
		for i, s := range subnets {
			if s.Masked().Contains(a) {
				configs[i].AuxAddress[name], match = a, true
			}
		}
		if !match {
			return nil, fmt.Errorf("no matching subnet for aux-address %s", aa)
		}
	}
	return &mnetwork.IPAM{Driver: o.driver, Config: configs, Options: o.driverOpts.GetAll()}, nil
}
