// Package network owns containers' networking on the host: bridge networks
// (the default "bridge" network on berth0 and user-defined ones), their
// persistent IP address management, the veth pairs that connect container
// network namespaces to them, the firewall rules for isolation, outbound
// masquerade and published ports, and the embedded DNS server that answers
// container names on user-defined networks.
//
// The engine holds one [Manager] (made by [New]) for the daemon's life. At
// daemon start it calls [Manager.Restore] with the containers still running;
// everything of Berth on the host that belongs to no running container is
// then removed. Per container the engine calls [Manager.Connect] for each
// network (after the container's network namespace exists, before its
// process starts), [Manager.PublishPorts] once, and [Manager.UnpublishPorts]
// and [Manager.Release] when it stops, before it releases the namespace:
// the embedded DNS's sockets hold a reference to the namespace, which would
// otherwise outlive the container with its veth. Release deletes the veth
// pairs in the background (the kernel takes 10 to 30 ms per pair, which
// would otherwise be on every stop's path) and holds their addresses
// until they are gone; [Manager.Disconnect] (`network disconnect` of a
// running container) deletes its pair before it returns. [HostsFile] and [ResolvConf] give the container's
// /etc/hosts and /etc/resolv.conf; [Manager.SetForwarders] passes a
// container's --dns servers to the embedded DNS, and [Manager.Rename] its
// new name. [Manager.Close] at daemon shutdown waits for released pairs,
// stops the embedded DNS and leaves the containers' networking in place
// for the next Restore.
//
// With Config.DefaultBridge [NoDefaultBridge] (the daemon's --bridge none)
// there is no default network (one left by an earlier start is dropped
// with its bridge) and nothing is made on the host, no forwarding sysctl,
// chain or link, until the first user-defined network; Restore and
// Uninstall then leave the host alone too, so such a daemon can run
// beside another with the same chain prefix.
//
// # Host objects and their names
//
//	bridges       berth0 (default network), br-<id12> (user networks) or the
//	              name given with com.docker.network.bridge.name; alias
//	              "berth:<network id>"
//	veth pairs    host side vb<hash10>, alias "berth:<network id>:<container id>";
//	              container side renamed eth0, eth1, ... inside the netns
//	iptables      chains <P>-FORWARD, <P>-IN, <P>-OUT (filter) and <P>-DNAT,
//	              <P>-POSTROUTING (nat), where <P> is Config.ChainPrefix
//	              ("BERTH"); jumps to them from FORWARD, PREROUTING, OUTPUT and
//	              POSTROUTING; rules carry the comment "berth:<owner id>"
//	ip6tables     <P>-FORWARD, <P>-IN, <P>-OUT (filter) and <P>-DNAT,
//	              <P>-POSTROUTING (nat) for IPv6 networks; OUTPUT's jump to
//	              <P>-DNAT skips ::1
//	DNS           127.0.0.11:53 udp and tcp inside each container's netns
//	              connected to a user-defined network, served by this process
//
// The firewall is iptables (Debian's iptables is on the nf_tables backend),
// driven through its command line with -w; the rules are the ones docker
// installs without a userland proxy: DNAT from local addresses (route_localnet
// on the bridge for 127.0.0.1), masquerade of DNATed hairpin traffic and of
// outbound traffic from non-internal networks.
//
// IPv6 networks (--ipv6) give containers an address and a default route,
// and the embedded DNS answers AAAA with it. Berth does not set
// net.ipv6.conf.all.forwarding, which turns off router advertisements on
// the host's own interfaces; it sets force_forwarding on the bridges of
// non-internal IPv6 networks instead (Linux 6.17+; without it, IPv6 out
// of a network and IPv6 hairpin need all.forwarding). Outbound IPv6 is
// masqueraded as IPv4 is. A port published on all addresses of a
// container with IPv6 is published on IPv6 too: ip6tables DNAT for the
// host's IPv6 addresses, and for [::1], which no DNAT can send off the
// host (IPv6 has no route_localnet), the socket that holds the port in
// the daemon forwards TCP connections and UDP datagrams to the container
// (so these stop while the daemon is down; the DNAT paths do not).
// `-p [::1]:H:C` and `-p [::]:H:C` publish on IPv6 only.
//
// # State on disk
//
//	<Config.Root>/               e.g. /var/lib/berth/network
//	  state.json                 networks, endpoints (container, IP, MAC,
//	                             veth, netns path), published ports; written
//	                             atomically (temporary file + rename) before a
//	                             change is reported, so an address held by an
//	                             endpoint is never handed out again, also
//	                             across daemon restarts
package network
