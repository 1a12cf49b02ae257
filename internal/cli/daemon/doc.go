// Package daemon owns `berth daemon`: it reads the flags and daemon.json
// into one configuration, takes the data root's lock so only one daemon
// serves it, listens on the -H addresses (unix sockets, TCP with TLS, plain
// TCP only on loopback unless forced), and wires the Engine API server
// (internal/api) to the event bus and, as they land, the engine and stores.
//
// Signals: SIGTERM and SIGINT stop listening and exit 0, leaving containers
// running (their shims outlive the daemon); SIGHUP re-reads the
// configuration file and applies what is reloadable (log level, debug,
// runtimes, default runtime), logs it and publishes a daemon "reload" event.
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
