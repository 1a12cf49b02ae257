package events

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
)

// Filter selects events the way dockerd's `filters` query does: values of
// one key are alternatives (OR), different keys must all match (AND), and a
// key that is absent matches everything.
type Filter map[string]map[string]bool

// validKeys are the filter keys dockerd accepts on /events.
var validKeys = map[string]bool{
	"config": true, "container": true, "daemon": true, "event": true, "image": true,
	"label": true, "network": true, "node": true, "plugin": true, "scope": true,
	"secret": true, "service": true, "type": true, "volume": true,
}

// ParseFilter decodes the `filters` query parameter, in either of the two
// encodings the docker CLI has used ({"key":{"value":true}} and the older
// {"key":["value"]}), and rejects keys /events does not know with an
// InvalidArgument error.
func ParseFilter(s string) (Filter, error) {
	f := Filter{}
	if s == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: %v", err))
	}
	for k, v := range raw {
		if !validKeys[k] {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
		set := map[string]bool{}
		if err := json.Unmarshal(v, &set); err != nil {
			var list []string
			if err2 := json.Unmarshal(v, &list); err2 != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter %q: values must be a list or a set of strings", k))
			}
			for _, e := range list {
				set[e] = true
			}
		}
		f[k] = set
	}
	if types, ok := f["type"]; ok {
		for t := range types {
			switch events.Type(t) {
			case events.BuilderEventType, events.ConfigEventType, events.ContainerEventType, events.DaemonEventType,
				events.ImageEventType, events.NetworkEventType, events.NodeEventType, events.PluginEventType,
				events.SecretEventType, events.ServiceEventType, events.VolumeEventType:
			default:
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid filter type %q", t))
			}
		}
	}
	return f, nil
}

// String encodes f as the `filters` query value ({"key":{"value":true}}),
// with keys sorted; "" for an empty filter.
func (f Filter) String() string {
	if len(f) == 0 {
		return ""
	}
	b, _ := json.Marshal(map[string]map[string]bool(f))
	return string(b)
}

// Add returns f with value added under key.
func (f Filter) Add(key, value string) Filter {
	if f[key] == nil {
		f[key] = map[string]bool{}
	}
	f[key][value] = true
	return f
}

// exact matches when key is absent or value is one of its values.
func (f Filter) exact(key, value string) bool {
	vals, ok := f[key]
	if !ok || len(vals) == 0 {
		return true
	}
	return vals[value]
}

// fuzzy is exact, or value starts with one of key's values (ID prefixes).
func (f Filter) fuzzy(key, value string) bool {
	vals, ok := f[key]
	if !ok || len(vals) == 0 || vals[value] {
		return true
	}
	for v := range vals {
		if strings.HasPrefix(value, v) { // an empty value matches all, as dockerd's FuzzyMatch
			return true
		}
	}
	return false
}

// name matches key against the actor's ID (or a prefix of it) or its name.
func (f Filter) name(key string, m events.Message) bool {
	return f.fuzzy(key, m.Actor.ID) || f.fuzzy(key, m.Actor.Attributes["name"])
}

// Match reports whether m passes every key of f.
func (f Filter) Match(m events.Message) bool {
	action := string(m.Action)
	base, _, _ := strings.Cut(action, ":")
	return (f.exact("event", action) || f.exact("event", base)) &&
		f.exact("type", string(m.Type)) &&
		f.exact("scope", m.Scope) &&
		f.name("container", m) &&
		f.name("daemon", m) &&
		f.name("network", m) &&
		f.name("volume", m) &&
		f.name("plugin", m) &&
		f.name("node", m) &&
		f.name("service", m) &&
		f.name("secret", m) &&
		f.name("config", m) &&
		f.matchImage(m) &&
		f.matchLabels(m.Actor.Attributes)
}

func (f Filter) matchImage(m events.Message) bool {
	if len(f["image"]) == 0 {
		return true
	}
	for _, v := range []string{m.Actor.ID, m.Actor.Attributes["image"]} {
		if v == "" {
			continue
		}
		if f["image"][v] || f["image"][stripTag(v)] {
			return true
		}
	}
	return false
}

// stripTag drops a ":tag" (not a registry port) from an image reference.
func stripTag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

// matchLabels requires every label filter ("key" or "key=value") to be
// present in attrs.
func (f Filter) matchLabels(attrs map[string]string) bool {
	labels := make([]string, 0, len(f["label"]))
	for l := range f["label"] {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := attrs[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}
