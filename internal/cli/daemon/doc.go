// Package daemon owns `berth daemon`: it reads the flags and daemon.json
// into one configuration, takes the data root's lock so only one daemon
// serves it, listens on the -H addresses (unix sockets, TCP with TLS, plain
// TCP only on loopback unless forced), and wires the Engine API server
// (internal/api) to the event bus and, as they land, the engine and stores.
//
// Signals: SIGTERM and SIGINT stop listening and exit 0, leaving containers
// running (their shims outlive the daemon); SIGHUP re-reads the
// configuration file and applies what dockerd reloads that Berth has (log
// level, debug, labels, runtimes including new ones, the default runtime
// of containers created from then on), logs which options changed and
// warns about each changed option that needs a restart (hosts, roots, TLS,
// networking, insecure-registries: ignored until then), and publishes a
// daemon "reload" event. A file that does not load changes nothing.
//
// On disk:
//
//	<data-root>/            --data-root, default /var/lib/berth
//	  berth.lock            flock held while a daemon serves this root; holds its pid
//	  engine-id             the daemon's persistent ID (a UUID), shown by info
//	<exec-root>/            --exec-root, default /run/berth
//	  berth.sock            the default API socket (-H unix:///run/berth/berth.sock)
//	  berth.pid             --pidfile default
package daemon
