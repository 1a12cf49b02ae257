package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	mnetwork "github.com/moby/moby/api/types/network"

	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/shim"
)

// Container is one container: its persisted record and, while it runs,
// the shim that holds it.
type Container struct {
	mu sync.Mutex

	ID           string
	Name         string // "/name"
	Created      time.Time
	Path         string
	Args         []string
	Config       *container.Config
	HostConfig   *container.HostConfig
	ImageID      string
	State        State
	RestartCount int
	Runtime      string
	LogPath      string
	// ManuallyStopped is set by stop and kill, so unless-stopped and
	// always do not restart the container at daemon start.
	ManuallyStopped bool
	// NetNS is the path of the container's own network namespace while
	// it runs ("" for host).
	NetNS string
	// Networks are the networks the container joins besides (or with the
	// settings of) its NetworkMode's, by name: NetworkingConfig at create
	// and network connect.
	Networks map[string]*mnetwork.EndpointSettings `json:",omitempty"`
	// PrimaryDisconnected is set when network disconnect took the
	// container off its NetworkMode's network: NetworkMode keeps its value
	// (inspect shows it, as dockerd does) and a later connect to that
	// network clears it.
	PrimaryDisconnected bool `json:",omitempty"`
	// PrimaryNetwork is the name of the user-defined network NetworkMode
	// names, resolved at create: NetworkMode may name it by ID (as
	// Watchtower's re-creates do, with the endpoint settings keyed by the
	// name), and the container joins it once.
	PrimaryNetwork string `json:",omitempty"`
	// LinkIDs are the containers of its legacy links (--link on the
	// default bridge), by alias: the linked container is also named
	// /<this name>/<alias> (ps lists it, inspect finds it), as dockerd's
	// link graph names it.
	LinkIDs map[string]string `json:",omitempty"`
	// LastAddrs are the addresses the container had on each network (by
	// name) when it last ran: its next start asks for them again, so that
	// a restart keeps them, as with dockerd.
	LastAddrs map[string][2]netip.Addr `json:",omitempty"`
	// MountPoints are its validated volumes, binds and tmpfs mounts.
	MountPoints []MountRecord `json:",omitempty"`

	client       *shim.Client
	changed      chan struct{} // closed and replaced on every state change
	removed      bool          // set when a removal begins
	restarting   int           // Restarts in progress: an exit then is not --rm's
	buildStep    bool          // a build's RUN step (BuildExecutor): no events
	exits        uint64        // exits seen by this daemon, for waits
	lastExit     int           // the exit code of the last of them
	gone         bool          // set once the removal finished: "removed" waits end
	starting     chan struct{} // set while a start is in progress: attachers connect to the shim, then close their ready
	attachWG     *sync.WaitGroup
	execs        map[string]bool
	restartDelay time.Duration
	healthCancel context.CancelFunc          // ends the healthcheck of the current run
	endpoints    map[string]network.Endpoint // by network name, while it runs
	ports        []network.PortBinding       // published, while it runs
}

// State is the container's state, as inspect shows it.
type State struct {
	Status     container.ContainerState
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	Health     *container.Health `json:",omitempty"`
}

// notify wakes everyone waiting for a state change; c.mu must be held.
func (c *Container) notify() {
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

// watch returns a channel closed at the next state change; c.mu must be
// held.
func (c *Container) watch() <-chan struct{} {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// Snapshot returns a copy of the record, safe to read without locks.
func (c *Container) Snapshot() *Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &Container{
		ID: c.ID, Name: c.Name, Created: c.Created, Path: c.Path, Args: c.Args,
		Config: c.Config, HostConfig: c.HostConfig, ImageID: c.ImageID, State: c.State,
		RestartCount: c.RestartCount, Runtime: c.Runtime, LogPath: c.LogPath, NetNS: c.NetNS,
		Networks: c.Networks, PrimaryDisconnected: c.PrimaryDisconnected, MountPoints: c.MountPoints, LastAddrs: c.LastAddrs,
		endpoints: c.endpoints, ports: c.ports,
	}
}

// forgetExec drops an exec that ended from the container's list, as
// dockerd's (inspect's ExecIDs are those created or running); the exec
// itself stays inspectable.
func (c *Container) forgetExec(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.execs, id)
}

// ExecIDs lists the container's exec instances that have not ended.
func (c *Container) ExecIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := range c.execs {
		out = append(out, id)
	}
	return out
}

// newID returns a random 64-hex ID.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validName is dockerd's rule for container names.
func validName(n string) bool {
	n = strings.TrimPrefix(n, "/")
	if len(n) < 2 {
		return false
	}
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i > 0 {
			ok = ok || r == '_' || r == '.' || r == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// Our own lists for generated names: adjectives of ships and harbours,
// surnames of navigators and engineers.
var (
	nameLeft = []string{
		"anchored", "ballasted", "becalmed", "brisk", "buoyant", "calm", "coastal", "crisp", "daring",
		"deep", "drifting", "eager", "even", "fair", "fleet", "gallant", "gentle", "hardy", "keen",
		"leeward", "lively", "lucid", "moored", "nimble", "patient", "plucky", "quiet", "rested",
		"salty", "seaworthy", "serene", "shipshape", "snug", "stalwart", "steady", "stout", "sturdy",
		"swift", "tidal", "trim", "true", "upright", "vigilant", "weathered", "windward", "wise",
	}
	nameRight = []string{
		"amundsen", "baffin", "bering", "bligh", "brunel", "cabot", "cartier", "cook", "dampier",
		"drake", "eriksson", "flinders", "frobisher", "gama", "hudson", "kidd", "kupe", "magellan",
		"mercator", "nansen", "ochoa", "parry", "peary", "polo", "raleigh", "ross", "scott",
		"shackleton", "tasman", "tereshkova", "vancouver", "verrazzano", "vespucci", "zheng",
	}
)

func randIndex(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

// generateName returns adjective_surname, with a digit added after a few
// collisions; taken reports names in use.
func generateName(taken func(string) bool) string {
	for i := 0; ; i++ {
		n := nameLeft[randIndex(len(nameLeft))] + "_" + nameRight[randIndex(len(nameRight))]
		if i > 5 {
			n += fmt.Sprint(randIndex(10))
		}
		if !taken(n) {
			return n
		}
	}
}
