package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// firewall keeps Berth's iptables rules in chains of its own:
//
//	filter FORWARD     -> <P>-FORWARD -> <P>-IN   traffic into a bridge: replies,
//	                                              same-network, published (DNAT) ports
//	                                              accepted; everything else dropped
//	                                  -> <P>-OUT  traffic out of a bridge: accepted
//	                                              unless the network is internal
//	nat PREROUTING, OUTPUT (dst-type LOCAL) -> <P>-DNAT      published ports
//	nat POSTROUTING                         -> <P>-POSTROUTING masquerade
//
// and the same chains in ip6tables for IPv6 networks, where OUTPUT skips
// ::1: IPv6 has no route_localnet, a packet from ::1 never leaves the
// host, so [::1]:port is served by the port's holding socket instead
// (see ports.go).
//
// Every rule in the <P>-* chains carries the comment "berth:<owner>" (a
// network or container ID), which is how removeOwner finds them.
type firewall struct {
	prefix string
	mu     sync.Mutex
}

func (f *firewall) chain(name string) string { return f.prefix + "-" + name }

// iptables runs iptables; the tables "filter6" and "nat6" (as in "-t
// filter6") stand for ip6tables' filter and nat tables.
func iptables(args ...string) (string, error) {
	bin := "iptables"
	if len(args) > 1 && args[0] == "-t" && strings.HasSuffix(args[1], "6") {
		bin = "ip6tables"
		args = append([]string{"-t", strings.TrimSuffix(args[1], "6")}, args[2:]...)
	}
	cmd := exec.Command(bin, append([]string{"-w", "5"}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// ensureChain creates a chain if missing.
func ensureChain(table, chain string) error {
	if _, err := iptables("-t", table, "-n", "-L", chain); err == nil {
		return nil
	}
	_, err := iptables("-t", table, "-N", chain)
	return err
}

// ensureRule inserts (at the top) or appends a rule unless present.
func ensureRule(insert bool, table, chain string, rule ...string) error {
	if _, err := iptables(append([]string{"-t", table, "-C", chain}, rule...)...); err == nil {
		return nil
	}
	op := "-A"
	if insert {
		op = "-I"
	}
	_, err := iptables(append([]string{"-t", table, op, chain}, rule...)...)
	return err
}

// chains returns Berth's chains as (table, chain); "filter6" and "nat6"
// are ip6tables'.
func (f *firewall) chains() [][2]string {
	return [][2]string{
		{"filter", f.chain("FORWARD")}, {"filter", f.chain("IN")}, {"filter", f.chain("OUT")},
		{"nat", f.chain("DNAT")}, {"nat", f.chain("POSTROUTING")},
		{"filter6", f.chain("FORWARD")}, {"filter6", f.chain("IN")}, {"filter6", f.chain("OUT")},
		{"nat6", f.chain("DNAT")}, {"nat6", f.chain("POSTROUTING")},
	}
}

// ruleChains are the chains that hold tagged rules.
func (f *firewall) ruleChains() [][2]string {
	return [][2]string{
		{"filter", f.chain("IN")}, {"filter", f.chain("OUT")},
		{"nat", f.chain("DNAT")}, {"nat", f.chain("POSTROUTING")},
		{"filter6", f.chain("IN")}, {"filter6", f.chain("OUT")},
		{"nat6", f.chain("DNAT")}, {"nat6", f.chain("POSTROUTING")},
	}
}

// setup creates the chains and the jumps to them.
func (f *firewall) setup() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.chains() {
		if err := ensureChain(c[0], c[1]); err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
	}
	for _, r := range []struct {
		insert       bool
		table, chain string
		rule         []string
	}{
		{true, "filter", "FORWARD", []string{"-j", f.chain("FORWARD")}},
		{false, "filter", f.chain("FORWARD"), []string{"-j", f.chain("IN")}},
		{false, "filter", f.chain("FORWARD"), []string{"-j", f.chain("OUT")}},
		{false, "nat", "PREROUTING", []string{"-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT")}},
		{false, "nat", "OUTPUT", []string{"-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT")}},
		{true, "nat", "POSTROUTING", []string{"-j", f.chain("POSTROUTING")}},
		{true, "filter6", "FORWARD", []string{"-j", f.chain("FORWARD")}},
		{false, "filter6", f.chain("FORWARD"), []string{"-j", f.chain("IN")}},
		{false, "filter6", f.chain("FORWARD"), []string{"-j", f.chain("OUT")}},
		{false, "nat6", "PREROUTING", []string{"-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT")}},
		{false, "nat6", "OUTPUT", []string{"!", "-d", "::1/128", "-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT")}},
		{true, "nat6", "POSTROUTING", []string{"-j", f.chain("POSTROUTING")}},
	} {
		if err := ensureRule(r.insert, r.table, r.chain, r.rule...); err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
	}
	return nil
}

// teardown removes the jumps and the chains (tests and uninstall).
func (f *firewall) teardown() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	iptables("-t", "filter", "-D", "FORWARD", "-j", f.chain("FORWARD"))
	iptables("-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT"))
	iptables("-t", "nat", "-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT"))
	iptables("-t", "nat", "-D", "POSTROUTING", "-j", f.chain("POSTROUTING"))
	iptables("-t", "filter6", "-D", "FORWARD", "-j", f.chain("FORWARD"))
	iptables("-t", "nat6", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT"))
	iptables("-t", "nat6", "-D", "OUTPUT", "!", "-d", "::1/128", "-m", "addrtype", "--dst-type", "LOCAL", "-j", f.chain("DNAT"))
	iptables("-t", "nat6", "-D", "POSTROUTING", "-j", f.chain("POSTROUTING"))
	var errs []string
	for _, c := range f.chains() {
		if _, err := iptables("-t", c[0], "-n", "-L", c[1]); err != nil {
			continue
		}
		iptables("-t", c[0], "-F", c[1])
		if _, err := iptables("-t", c[0], "-X", c[1]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("firewall teardown: %s", strings.Join(errs, "; "))
	}
	return nil
}

func comment(owner string) []string { return []string{"-m", "comment", "--comment", "berth:" + owner} }

// addNetwork installs the rules of a network (idempotent).
func (f *firewall) addNetwork(n *Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	br, sub, c := n.Bridge, n.Subnet.String(), comment(n.ID)
	type rule struct {
		table, chain string
		args         []string
	}
	// Traffic between the network's containers: accepted, or dropped
	// with com.docker.network.bridge.enable_icc=false (then only
	// replies and published ports pass), as dockerd's.
	icc := "ACCEPT"
	if on, err := strconv.ParseBool(n.Options[OptionEnableICC]); err == nil && !on {
		icc = "DROP"
	}
	rules := []rule{
		{"filter", f.chain("IN"), []string{"-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"}},
		{"filter", f.chain("IN"), []string{"-i", br, "-o", br, "-j", icc}},
	}
	if !n.Internal {
		rules = append(rules,
			rule{"filter", f.chain("IN"), []string{"-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"}},
		)
	}
	rules = append(rules, rule{"filter", f.chain("IN"), []string{"-o", br, "-j", "DROP"}})
	if n.Internal {
		rules = append(rules, rule{"filter", f.chain("OUT"), []string{"-i", br, "-j", "DROP"}})
	} else {
		rules = append(rules,
			rule{"filter", f.chain("OUT"), []string{"-i", br, "-j", "ACCEPT"}},
			rule{"nat", f.chain("POSTROUTING"), []string{"-s", sub, "!", "-o", br, "-j", "MASQUERADE"}},
		)
	}
	rules = append(rules,
		// 127.0.0.1 (route_localnet) and other local sources reaching a
		// published port, and containers of the network reaching their
		// own network's published ports (hairpin): the reply must come
		// back through the host.
		rule{"nat", f.chain("POSTROUTING"), []string{"-o", br, "-m", "addrtype", "--src-type", "LOCAL", "-j", "MASQUERADE"}},
		rule{"nat", f.chain("POSTROUTING"), []string{"-s", sub, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"}},
	)
	if n.Subnet6.IsValid() {
		rules = append(rules,
			rule{"filter6", f.chain("IN"), []string{"-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"}},
			rule{"filter6", f.chain("IN"), []string{"-i", br, "-o", br, "-j", icc}},
			rule{"filter6", f.chain("IN"), []string{"-o", br, "-j", "DROP"}},
		)
		sub6 := n.Subnet6.String()
		if n.Internal {
			rules = append(rules, rule{"filter6", f.chain("OUT"), []string{"-i", br, "-j", "DROP"}})
		} else {
			rules = append(rules,
				rule{"filter6", f.chain("IN"), []string{"-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"}},
				rule{"filter6", f.chain("OUT"), []string{"-i", br, "-j", "ACCEPT"}},
				rule{"nat6", f.chain("POSTROUTING"), []string{"-s", sub6, "!", "-o", br, "-j", "MASQUERADE"}},
			)
		}
		// Hairpin: a container reaching its own network's published
		// ports at a host address.
		rules = append(rules, rule{"nat6", f.chain("POSTROUTING"), []string{"-s", sub6, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"}})
	}
	// The drop rule of <P>-IN must stay after every network's accepts:
	// insert accepts at the top, append the drop.
	for _, r := range rules {
		args := append(append([]string{}, r.args...), c...)
		insert := r.chain == f.chain("IN") && slices.Contains(args, "ACCEPT")
		if err := ensureRule(insert, r.table, r.chain, args...); err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
	}
	return nil
}

// removeOwner deletes every rule of the <P>-* chains tagged with owner.
func (f *firewall) removeOwner(owner string) error {
	return f.removeOwnerIn(f.ruleChains(), owner)
}

// removePorts deletes the rules of a container's published ports, which
// are only in the DNAT chains (two iptables calls instead of one per chain
// on a container's stop path).
func (f *firewall) removePorts(containerID string) error {
	return f.removeOwnerIn([][2]string{{"nat", f.chain("DNAT")}, {"nat6", f.chain("DNAT")}}, containerID)
}

func (f *firewall) removeOwnerIn(chains [][2]string, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.removeMatching(chains, func(line string) bool {
		tag := "berth:" + owner
		return strings.Contains(line, tag+" ") || strings.Contains(line, tag+`"`) || strings.HasSuffix(line, tag)
	})
}

// removeMatching deletes the rules of chains (table, chain) for which
// match returns true, given the rule as iptables -S prints it.
func (f *firewall) removeMatching(chains [][2]string, match func(line string) bool) error {
	var errs []string
	for _, tc := range chains {
		out, err := iptables("-t", tc[0], "-S", tc[1])
		if err != nil {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "-A ") || !match(line) {
				continue
			}
			args, err := splitRule(line)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			args[0] = "-D"
			if _, err := iptables(append([]string{"-t", tc[0]}, args...)...); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("firewall: %s", strings.Join(errs, "; "))
	}
	return nil
}

// owners returns the owners named by the comments in Berth's chains.
func (f *firewall) owners() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for _, tc := range f.ruleChains() {
		s, _ := iptables("-t", tc[0], "-S", tc[1])
		for _, line := range strings.Split(s, "\n") {
			if _, after, ok := strings.Cut(line, `--comment "berth:`); ok {
				out[strings.TrimSuffix(strings.Fields(after)[0], `"`)] = true
			} else if _, after, ok := strings.Cut(line, "--comment berth:"); ok {
				out[strings.Fields(after)[0]] = true
			}
		}
	}
	return out
}

// splitRule splits an iptables -S line, honouring double quotes.
func splitRule(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQ, has := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '"':
			inQ, has = !inQ, true
		case ch == '\\' && inQ && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case ch == ' ' && !inQ:
			if has || cur.Len() > 0 {
				out = append(out, cur.String())
			}
			cur.Reset()
			has = false
		default:
			cur.WriteByte(ch)
		}
	}
	if inQ {
		return nil, fmt.Errorf("unbalanced quotes in rule %q", line)
	}
	if has || cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// addPorts installs the DNAT rules of a container's published ports: in
// iptables to ip for bindings on all or an IPv4 host address, in
// ip6tables to ip6 (when valid) for bindings on all or an IPv6 one.
func (f *firewall) addPorts(containerID string, ip, ip6 netip.Addr, bs []PortBinding) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range bs {
		v4, v6 := families(b.HostIP, ip6)
		for _, fam := range []struct {
			on    bool
			table string
			to    netip.Addr
		}{{v4, "nat", ip}, {v6, "nat6", ip6}} {
			if !fam.on || b.HostIP == "::1" {
				continue // [::1] is served by the holding socket (hold6)
			}
			args := []string{"-p", b.Proto}
			if b.HostIP != "" && b.HostIP != "::" {
				args = append(args, "-d", b.HostIP)
			}
			args = append(args, "--dport", strconv.Itoa(b.HostPort), "-j", "DNAT",
				"--to-destination", netip.AddrPortFrom(fam.to, uint16(b.ContainerPort)).String())
			args = append(args, comment(containerID)...)
			if _, err := iptables(append([]string{"-t", fam.table, "-A", f.chain("DNAT")}, args...)...); err != nil {
				return fmt.Errorf("firewall: publish %s: %w", containerID, err)
			}
		}
	}
	return nil
}

// families tells whether a binding on hostIP ("" for all addresses, as
// normalize leaves it) is published over IPv4 and over IPv6, for a
// container whose IPv6 address is ip6 (invalid: none).
func families(hostIP string, ip6 netip.Addr) (v4, v6 bool) {
	if hostIP == "" {
		return true, ip6.IsValid()
	}
	a, err := netip.ParseAddr(hostIP)
	if err != nil {
		return false, false
	}
	return a.Is4(), a.Is6() && ip6.IsValid()
}
