package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// DriverName is the one driver this package implements.
const DriverName = "local"

// Volume is one volume as stored.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"-"` // <root>/<name>/_data, set on load
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels,omitempty"`
	Options    map[string]string `json:"Options,omitempty"`
}

// Anonymous tells whether v was created without a name.
func (v Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// CreateOptions are the optional parts of a create request.
type CreateOptions struct {
	Driver  string            // "" or "local"
	Labels  map[string]string // stored as given
	Options map[string]string // local driver: type, device, o
}

// Store is the local volume driver over one root directory. It is safe for
// concurrent use.
type Store struct {
	root string

	mu   sync.Mutex
	vols map[string]*entry
}

type entry struct {
	v       Volume
	refs    map[string]int // container ID -> count of mounts
	mounted bool           // the type/device/o mount is on _data
}

// Open loads the volumes under root (<data-root>/volumes), creating it.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, fmt.Errorf("volume root %s: %w", root, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("volume root %s: %w", root, err)
	}
	s := &Store{root: abs, vols: map[string]*entry{}}
	des, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("volume root %s: %w", root, err)
	}
	// A volume whose type/device/o mount outlived a daemon stays mounted:
	// containers still running use it, and they acquire it again when the
	// engine restores them.
	mounted, err := mountPoints()
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		if !de.IsDir() || ValidateName(de.Name()) != nil {
			continue
		}
		dir := filepath.Join(abs, de.Name())
		b, err := os.ReadFile(filepath.Join(dir, "volume.json"))
		if errors.Is(err, fs.ErrNotExist) {
			slog.Warn("volume: removing a directory without metadata (interrupted create)", "path", dir)
			if err := os.RemoveAll(dir); err != nil {
				return nil, fmt.Errorf("volume %s: %w", de.Name(), err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", de.Name(), err)
		}
		var v Volume
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("volume %s: metadata %s: %w", de.Name(), filepath.Join(dir, "volume.json"), err)
		}
		v.Name = de.Name()
		v.Mountpoint = filepath.Join(dir, "_data")
		s.vols[v.Name] = &entry{v: v, refs: map[string]int{}, mounted: mounted[v.Mountpoint]}
	}
	return s, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

// Create makes a volume, or returns the existing one of that name (as
// dockerd, which ignores the request's labels and options then). An empty
// name makes an anonymous volume.
func (s *Store) Create(ctx context.Context, name string, o CreateOptions) (Volume, error) {
	anonymous := name == ""
	if anonymous {
		n, err := randomName()
		if err != nil {
			return Volume{}, err
		}
		name = n
	}
	if o.Driver != "" && o.Driver != DriverName {
		return Volume{}, opErr(errdefs.ErrNotFound, "create", name, fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", o.Driver, o.Driver))
	}
	if err := ValidateName(name); err != nil {
		return Volume{}, opErr(errdefs.ErrInvalidArgument, "create", name, err.Error())
	}
	if err := validateOptions(o.Options); err != nil {
		return Volume{}, opErr(errdefs.ErrInvalidArgument, "create", name, err.Error())
	}
	if flags, _, _ := mountFlags(o.Options["o"]); flags&unix.MS_BIND != 0 {
		// The data root is <root>/..: a bind volume must not reach into it.
		if err := CheckBindSource(filepath.Dir(s.root), o.Options["device"]); err != nil {
			return Volume{}, opErr(errdefs.ErrInvalidArgument, "create", name, "device: "+err.Error())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.vols[name]; ok {
		return e.v.clone(), nil
	}
	v := Volume{
		Name:       name,
		Driver:     DriverName,
		Mountpoint: filepath.Join(s.root, name, "_data"),
		CreatedAt:  time.Now().UTC().Truncate(time.Second),
		Labels:     copyMap(o.Labels),
		Options:    copyMap(o.Options),
	}
	if anonymous {
		if v.Labels == nil {
			v.Labels = map[string]string{}
		}
		v.Labels[AnonymousLabel] = ""
	}
	if err := s.write(v); err != nil {
		return Volume{}, fmt.Errorf("create %s: %w", name, err)
	}
	s.vols[name] = &entry{v: v, refs: map[string]int{}}
	slog.DebugContext(ctx, "volume created", "name", name, "options", v.Options)
	return v.clone(), nil
}

// write creates the volume's directories and its metadata file; on error
// nothing of it is left.
func (s *Store) write(v Volume) (err error) {
	dir := filepath.Join(s.root, v.Name)
	if err := os.Mkdir(dir, 0o701); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.Mkdir(filepath.Join(dir, "_data"), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".volume.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "volume.json"))
}

// Get returns the named volume; errdefs.ErrNotFound with dockerd's
// "get NAME: no such volume" if there is none.
func (s *Store) Get(ctx context.Context, name string) (Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return Volume{}, notFound(name)
	}
	return e.v.clone(), nil
}

func notFound(name string) error {
	return opErr(errdefs.ErrNotFound, "get", name, "no such volume")
}

// Filters select volumes: every key given must match (values of one key
// are ORed). Keys: dangling (true/false, 1/0), driver, label (KEY or
// KEY=VALUE), label! (volumes without that label), name (an unanchored
// regular expression, as dockerd).
// Prune also reads all (true: named volumes too).
type Filters map[string][]string

// filterKeys are the keys List accepts; prune takes pruneFilterKeys.
var (
	listFilterKeys  = []string{"dangling", "driver", "label", "name"}
	pruneFilterKeys = []string{"label", "label!", "all"}
)

// ValidateFilters checks f's keys against what list (prune false) or
// prune (true) accepts, and the values of dangling and all.
func ValidateFilters(f Filters, prune bool) error {
	keys := listFilterKeys
	if prune {
		keys = pruneFilterKeys
	}
	for k, vals := range f {
		ok := false
		for _, x := range keys {
			ok = ok || x == k
		}
		if !ok {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
		if k == "dangling" || k == "all" {
			for _, v := range vals {
				if _, err := parseBool(v); err != nil {
					return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s=%s'", k, v))
				}
			}
		}
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}

// matches tells whether e passes every filter of f.
func (e *entry) matches(f Filters) bool {
	for k, vals := range f {
		if len(vals) == 0 {
			continue
		}
		any := false
		for _, val := range vals {
			switch k {
			case "dangling":
				b, _ := parseBool(val)
				any = any || b == (len(e.refs) == 0)
			case "driver":
				any = any || val == e.v.Driver
			case "name":
				// dockerd matches an unanchored regexp (or the exact name).
				ok, err := regexp.MatchString(val, e.v.Name)
				any = any || val == e.v.Name || err == nil && ok
			case "label":
				any = any || hasLabel(e.v.Labels, val)
			case "label!":
				any = any || !hasLabel(e.v.Labels, val)
			case "all":
				any = true
			}
		}
		if k == "label" || k == "label!" {
			// dockerd requires every label term, not one of them.
			all := true
			for _, val := range vals {
				if hasLabel(e.v.Labels, val) == (k == "label!") {
					all = false
				}
			}
			any = all
		}
		if !any {
			return false
		}
	}
	return true
}

func hasLabel(labels map[string]string, term string) bool {
	k, v, withValue := strings.Cut(term, "=")
	got, ok := labels[k]
	if !ok {
		return false
	}
	return !withValue || got == v
}

// List returns the volumes matching f, sorted by name.
func (s *Store) List(ctx context.Context, f Filters) ([]Volume, error) {
	if err := ValidateFilters(f, false); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Volume
	for _, e := range s.vols {
		if e.matches(f) {
			out = append(out, e.v.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and its content. A volume in use is a Conflict,
// force or not; force makes a missing volume no error.
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		if force {
			return nil
		}
		return notFound(name)
	}
	if len(e.refs) > 0 {
		return opErr(errdefs.ErrConflict, "remove", name, "volume is in use - ["+strings.Join(e.refIDs(), ", ")+"]")
	}
	return s.removeLocked(ctx, e)
}

func (s *Store) removeLocked(ctx context.Context, e *entry) error {
	dir := filepath.Join(s.root, e.v.Name)
	if e.mounted {
		if err := unmount(e.v.Mountpoint); err != nil {
			return fmt.Errorf("remove %s: %w", e.v.Name, err)
		}
		e.mounted = false
	}
	// The metadata goes first: a crash midway leaves a directory Open drops.
	if err := os.Remove(filepath.Join(dir, "volume.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", e.v.Name, err)
	}
	delete(s.vols, e.v.Name)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", e.v.Name, err)
	}
	slog.DebugContext(ctx, "volume removed", "name", e.v.Name)
	return nil
}

// PruneReport lists what Prune removed.
type PruneReport struct {
	Deleted        []string
	SpaceReclaimed uint64
}

// Prune removes the volumes no container uses that match f: only anonymous
// ones unless f has all=true. label and label! filters narrow it further.
func (s *Store) Prune(ctx context.Context, f Filters) (PruneReport, error) {
	if err := ValidateFilters(f, true); err != nil {
		return PruneReport{}, err
	}
	all := false
	for _, v := range f["all"] {
		b, _ := parseBool(v)
		all = all || b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rep PruneReport
	names := make([]string, 0, len(s.vols))
	for n := range s.vols {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		e := s.vols[n]
		if len(e.refs) > 0 || (!all && !e.v.Anonymous()) || !e.matches(f) {
			continue
		}
		size, _ := dirSize(e.v.Mountpoint)
		if err := s.removeLocked(ctx, e); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Deleted = append(rep.Deleted, n)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, errors.Join(errs...)
}

// Refs returns the IDs of the containers that use the volume, sorted.
func (s *Store) Refs(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.vols[name]; ok {
		return e.refIDs()
	}
	return nil
}

func (e *entry) refIDs() []string {
	ids := make([]string, 0, len(e.refs))
	for id := range e.refs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (v Volume) clone() Volume {
	v.Labels = copyMap(v.Labels)
	v.Options = copyMap(v.Options)
	return v
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
