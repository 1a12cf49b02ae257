package image

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
)

// RegistryConfig says how registries are reached.
type RegistryConfig struct {
	// AuthConfigDir is the directory of a docker-compatible config.json
	// (auths, credsStore, credHelpers); "" means $DOCKER_CONFIG or
	// ~/.docker.
	AuthConfigDir string
	// NoKeychain never reads a config.json: a request without credentials
	// is anonymous. A daemon sets it: dockerd never lends its own
	// credentials to an API client that sent none.
	NoKeychain bool
	// Insecure lists registries ("host" or "host:port") reached over plain
	// HTTP. Loopback registries (localhost, 127.0.0.0/8, ::1) always are.
	Insecure []string
	// Transport is the HTTP transport (a clone of http.DefaultTransport
	// when nil).
	Transport http.RoundTripper
	// MaxConcurrentDownloads and MaxConcurrentUploads bound parallel layer
	// transfers (3 and 5 when 0, as docker's).
	MaxConcurrentDownloads int
	MaxConcurrentUploads   int
}

// Config is what New needs.
type Config struct {
	Content     *content.LocalStore
	Metadata    *metadata.DB
	Snapshotter snapshot.Snapshotter
	Registry    RegistryConfig
	// Platform images are pulled for (content.DefaultPlatform when zero).
	Platform ocispec.Platform
	// MaxLoadSize bounds the file contents Load reads from one archive
	// (DefaultMaxLoadSize when 0): a bigger archive is refused with an
	// error naming the limit, and nothing of it is kept.
	MaxLoadSize int64
}

// Service is the image service. It is safe for concurrent use.
type Service struct {
	content  *content.LocalStore
	db       *metadata.DB
	snap     snapshot.Snapshotter
	reg      RegistryConfig
	platform ocispec.Platform
	client   *http.Client

	maxLoadSize int64

	// unpackMu serialises unpacking per chain ID, so two pulls of one
	// layer unpack it once.
	unpackMu sync.Mutex
	unpacks  map[digest.Digest]*chainLock

	// recordMu serialises changes of image records that look at other
	// records (tag moves, dangling records, removals).
	recordMu sync.Mutex

	// gcMu is held for reading by operations that commit snapshots or
	// blobs before their image record exists, and for writing by GC.
	gcMu sync.RWMutex

	targetMu sync.Mutex
	targets  map[digest.Digest]*target // manifest digest -> parsed, immutable

	sizeMu sync.Mutex
	sizes  map[digest.Digest]int64 // chain ID -> the layer's unpacked size

	// index is the records' index (nil: to be built); indexMu serialises
	// its builds with the changes that drop it.
	index   atomic.Pointer[recordIndex]
	indexMu sync.Mutex
}

// New returns a Service over the given stores.
func New(cfg Config) (*Service, error) {
	if cfg.Content == nil || cfg.Metadata == nil || cfg.Snapshotter == nil {
		return nil, fmt.Errorf("image service: content store, metadata and snapshotter are required")
	}
	if cfg.Registry.MaxConcurrentDownloads <= 0 {
		cfg.Registry.MaxConcurrentDownloads = 3
	}
	if cfg.Registry.MaxConcurrentUploads <= 0 {
		cfg.Registry.MaxConcurrentUploads = 5
	}
	tr := cfg.Registry.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		t.WriteBufferSize = 256 << 10
		t.ReadBufferSize = 256 << 10
		t.ResponseHeaderTimeout = 2 * time.Minute
		tr = t
	}
	g := &schemeGuard{inner: tr}
	cfg.Registry.Transport = g
	p := cfg.Platform
	if p.OS == "" {
		p = content.DefaultPlatform()
	}
	svc := &Service{
		content:  cfg.Content,
		db:       cfg.Metadata,
		snap:     cfg.Snapshotter,
		reg:      cfg.Registry,
		platform: p,
		client:   &http.Client{Transport: tr},
		unpacks:  map[digest.Digest]*chainLock{},
		targets:  map[digest.Digest]*target{},
		sizes:    map[digest.Digest]int64{},

		maxLoadSize: cfg.MaxLoadSize,
	}
	g.insecure = svc.insecure
	return svc, nil
}

// chainLock is a per chain ID mutex with the count of its holders and
// waiters, so the map keeps only chain IDs being unpacked.
type chainLock struct {
	sync.Mutex
	refs int
}

func (s *Service) unpackLock(chainID digest.Digest) func() {
	unlock, _ := s.lockChain(chainID, true)
	return unlock
}

// tryUnpackLock is unpackLock that gives up (ok false) instead of waiting.
func (s *Service) tryUnpackLock(chainID digest.Digest) (unlock func(), ok bool) {
	return s.lockChain(chainID, false)
}

func (s *Service) lockChain(chainID digest.Digest, wait bool) (func(), bool) {
	s.unpackMu.Lock()
	m, ok := s.unpacks[chainID]
	if !ok {
		m = &chainLock{}
		s.unpacks[chainID] = m
	}
	m.refs++
	s.unpackMu.Unlock()
	if wait {
		m.Lock()
	} else if !m.TryLock() {
		s.unpackMu.Lock()
		m.refs--
		if m.refs == 0 {
			delete(s.unpacks, chainID)
		}
		s.unpackMu.Unlock()
		return nil, false
	}
	return func() {
		m.Unlock()
		s.unpackMu.Lock()
		m.refs--
		if m.refs == 0 {
			delete(s.unpacks, chainID)
		}
		s.unpackMu.Unlock()
	}, true
}

// AuthConfig holds credentials for one registry, as the Engine API's
// X-Registry-Auth carries them. A nil *AuthConfig means the credentials of
// the config.json keychain (or anonymous).
type AuthConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// ProgressDetail is the byte progress of one event.
type ProgressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// ProgressEvent is one line of docker's JSON progress stream: per layer
// (ID is the short digest) or for the whole operation (ID empty or the
// tag).
type ProgressEvent struct {
	ID             string          `json:"id,omitempty"`
	Status         string          `json:"status"`
	ProgressDetail *ProgressDetail `json:"progressDetail,omitempty"`
}

// progress serialises calls of a user's callback and rate-limits byte
// progress.
type progress struct {
	mu   sync.Mutex
	fn   func(ProgressEvent)
	last map[string]time.Time
}

func newProgress(fn func(ProgressEvent)) *progress {
	return &progress{fn: fn, last: map[string]time.Time{}}
}

func (p *progress) send(id, status string) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn(ProgressEvent{ID: id, Status: status})
}

// bytes reports current of total, at most every 100 ms per id and status.
func (p *progress) bytes(id, status string, current, total int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := id + status
	now := time.Now()
	if current < total && now.Sub(p.last[k]) < 100*time.Millisecond {
		return
	}
	p.last[k] = now
	p.fn(ProgressEvent{ID: id, Status: status, ProgressDetail: &ProgressDetail{Current: current, Total: total}})
}

func shortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

// Image is what the service knows of one image (docker's image inspect).
type Image struct {
	// ID is the config digest, docker's image ID.
	ID digest.Digest
	// RepoTags and RepoDigests are the familiar names ("busybox:latest",
	// "busybox@sha256:...") of the image's records.
	RepoTags    []string
	RepoDigests []string
	// Target is the manifest the image's records point at (the first one
	// by name when several manifests share the config).
	Target   ocispec.Descriptor
	Manifest ocispec.Manifest
	Config   ocispec.Image
	// ConfigRaw is the config blob as stored, for docker's inspect fields
	// that OCI's type does not carry.
	ConfigRaw json.RawMessage `json:"-"`
	// ChainID is the chain ID of the top layer ("" for no layers): the
	// parent of a container's snapshot.
	ChainID digest.Digest
	// Size is docker's size of the image: the unpacked size of its layers
	// (what `docker images` shows with the classic store), not the bytes
	// stored compressed.
	Size int64
	// LayerSizes are the unpacked sizes of Manifest.Layers, in order.
	LayerSizes []int64
	// Created is the config's created time (the record's if absent).
	Created time.Time
	// Labels are the config's labels.
	Labels map[string]string
	// Dangling is true when the image has no tag.
	Dangling bool
	// LastTagTime is when a tag was last put on the image here (tag,
	// build -t, import), zero when none was (a pull): docker's
	// Metadata.LastTagTime.
	LastTagTime time.Time
	// names are the normalised record names.
	names []string
}
