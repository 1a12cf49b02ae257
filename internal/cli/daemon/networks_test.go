package daemon

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth/berth/internal/network"
)

func TestNetworkFlagsAndFile(t *testing.T) {
	cfg, err := parse(t, "--config-file", writeFile(t, `{}`), "--data-root", "/tmp/dr", "--bip", "10.99.0.1/24",
		"--default-address-pool", "base=10.100.0.0/16,size=24", "--default-address-pool", "base=10.101.0.0/16,size=20",
		"--mtu", "1400", "-b", "bt0", "--iptables-chain-prefix", "BT")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := networkConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := network.Config{
		Root: filepath.Join("/tmp/dr", "network"), DefaultBridge: "bt0", BIP: netip.MustParsePrefix("10.99.0.1/24"), MTU: 1400, ChainPrefix: "BT",
		DefaultAddressPools: []network.AddressPool{
			{Base: netip.MustParsePrefix("10.100.0.0/16"), Size: 24}, {Base: netip.MustParsePrefix("10.101.0.0/16"), Size: 20},
		},
	}
	if !reflect.DeepEqual(nc, want) {
		t.Errorf("flags: network config = %+v\nwant %+v", nc, want)
	}

	cfg, err = parse(t, "--config-file", writeFile(t, `{"bip":"10.98.0.1/16","mtu":9000,"bridge":"bt1",
		"default-address-pools":[{"base":"10.102.0.0/16","size":26}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if nc, err = networkConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if nc.BIP.String() != "10.98.0.1/16" || nc.MTU != 9000 || nc.DefaultBridge != "bt1" || len(nc.DefaultAddressPools) != 1 || nc.DefaultAddressPools[0].Size != 26 {
		t.Errorf("file: network config = %+v", nc)
	}
}

func TestNetworkConfigErrors(t *testing.T) {
	for _, c := range []struct {
		file string
		args []string
		want string
	}{
		{`{}`, []string{"--bip", "10.0.0.0/8"}, `bip "10.0.0.0/8": the address is the subnet's network address; give the bridge's own address, e.g. 10.0.0.1/8`},
		{`{}`, []string{"--bip", "nonsense"}, `bip "nonsense": want an IPv4 address with its prefix length`},
		{`{"default-address-pools":[{"base":"10.0.0.0/16","size":8}]}`, nil, "default-address-pool base=10.0.0.0/16,size=8: size must be between 16 and 30"},
		{`{"default-address-pools":[{"base":"fd00::/8","size":64}]}`, nil, `default-address-pool base "fd00::/8": want an IPv4 CIDR`},
		{`{"mtu":20}`, nil, "mtu 20: want 68 to 65535"},
		{`{"bridge":"a/b"}`, nil, `bridge "a/b": not a valid interface name`},
		{`{"mtu":1400}`, []string{"--mtu", "1500"}, "the following directives are specified both as a flag and in the configuration file: mtu: (from flag: 1500, from file: 1400)"},
	} {
		_, err := parse(t, append([]string{"--config-file", writeFile(t, c.file)}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: err = %v, want %q", c.file, c.args, err, c.want)
		}
	}
}

func TestBridgeNoneDisablesNetworking(t *testing.T) {
	cfg, err := parse(t, "--config-file", writeFile(t, `{"bridge":"none"}`), "--data-root", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := openNetworks(t.Context(), cfg)
	if err != nil || m == nil {
		t.Fatalf("openNetworks with bridge none = %v, %v; want a manager", m, err)
	}
	// dockerd --bridge=none: no default network, nothing on the host.
	if m.HasDefault() || len(m.List(t.Context())) != 0 {
		t.Errorf("bridge none: default network %v, networks %v; want none", m.HasDefault(), m.List(t.Context()))
	}
	closeNetworks(t.Context(), m)
	closeNetworks(t.Context(), nil) // must accept nil
}
