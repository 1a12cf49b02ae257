package network

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/opts"
	mnetwork "github.com/moby/moby/api/types/network"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
)

func TestIPAMConfig(t *testing.T) {
	_, r1, _ := net.ParseCIDR("10.1.0.128/25")
	o := ipamOptions{
		driver:       "default",
		subnets:      []string{"10.1.0.0/24", "10.2.0.0/24"},
		ipRanges:     []net.IPNet{*r1},
		gateways:     []net.IP{net.ParseIP("10.2.0.254")},
		auxAddresses: opts.NewMapOpts(map[string]string{"host1": "10.1.0.5"}, nil),
		driverOpts:   opts.NewMapOpts(nil, nil),
	}
	ipam, err := ipamConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(ipam.Config) != 2 || ipam.Config[0].IPRange.String() != "10.1.0.128/25" || ipam.Config[0].Gateway.IsValid() ||
		ipam.Config[0].AuxAddress["host1"] != netip.MustParseAddr("10.1.0.5") || ipam.Config[1].Gateway.String() != "10.2.0.254" {
		t.Errorf("ipam = %+v", ipam)
	}
	for _, c := range []struct {
		o    ipamOptions
		want string
	}{
		{ipamOptions{gateways: []net.IP{net.ParseIP("10.0.0.1")}}, "every ip-range or gateway must have a corresponding subnet"},
		{ipamOptions{subnets: []string{"10.0.0.0/16", "10.0.1.0/24"}}, "multiple overlapping subnet configuration is not supported"},
		{ipamOptions{subnets: []string{"10.0.0.0/16"}, gateways: []net.IP{net.ParseIP("10.9.0.1")}}, "no matching subnet for gateway 10.9.0.1"},
		{ipamOptions{subnets: []string{"nonsense"}}, "invalid subnet: invalid CIDR address: nonsense"},
	} {
		c.o.auxAddresses, c.o.driverOpts = opts.NewMapOpts(nil, nil), opts.NewMapOpts(nil, nil)
		if _, err := ipamConfig(c.o); err == nil || err.Error() != c.want {
			t.Errorf("%+v: err = %v, want %q", c.o, err, c.want)
		}
	}
}

func TestListRendering(t *testing.T) {
	created := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	nets := []mnetwork.Summary{
		{Network: mnetwork.Network{Name: "net10", ID: strings.Repeat("b", 64), Driver: "bridge", Scope: "local", Created: created, Labels: map[string]string{"b": "2", "a": "1"}}},
		{Network: mnetwork.Network{Name: "net9", ID: strings.Repeat("a", 64), Driver: "bridge", Scope: "local", Internal: true, EnableIPv4: true, Created: created}},
	}
	var b bytes.Buffer
	rows := []any{}
	for _, n := range nets {
		rows = append(rows, &row{n: n, trunc: true})
	}
	if err := container.Render(&b, listFormat("", false), listHeaders, rows); err != nil {
		t.Fatal(err)
	}
	want := "NETWORK ID     NAME      DRIVER    SCOPE\nbbbbbbbbbbbb   net10     bridge    local\naaaaaaaaaaaa   net9      bridge    local\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := container.Render(&b, listFormat("{{.Name}} {{.Labels}} {{.Label \"a\"}} {{.Internal}} {{.IPv4}} {{.CreatedAt}}", true), listHeaders, rows); err != nil {
		t.Fatal(err)
	}
	if want := "net10 a=1,b=2 1 false false 2026-11-27 06:00:00 +0000 UTC\nnet9   true true 2026-11-27 06:00:00 +0000 UTC\n"; b.String() != want {
		t.Errorf("template: %q, want %q", b.String(), want)
	}
	if f := listFormat("table", true); f != "{{.ID}}" {
		t.Errorf("quiet format = %q", f)
	}
	if !command.NaturalLess("net9", "net10") || command.NaturalLess("b", "a") {
		t.Error("naturalLess")
	}
}
