package content

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// Filter is a parsed Walk filter: it matches when all of its terms do.
type Filter []filterTerm

type filterTerm struct {
	field string // "digest", "size" or "labels.KEY"
	op    string // "==", "!=" or "" (field present)
	value string
}

// ParseFilter parses one filter string: terms separated by commas, all of
// which must match. A term is FIELD, FIELD==VALUE or FIELD!=VALUE, where
// FIELD is digest, size or labels.KEY (KEY may contain dots and slashes, or
// be double-quoted), and VALUE may be double-quoted (to hold a comma).
// FIELD alone matches when the field is present. Walk ORs several filters.
//
//	labels.io.berth.image==busybox,labels."containerd.io/gc.root"
func ParseFilter(s string) (Filter, error) {
	var f Filter
	for _, raw := range splitTerms(s) {
		term := strings.TrimSpace(raw)
		if term == "" {
			return nil, fmt.Errorf("filter %q: empty term: %w", s, errdefs.ErrInvalidArgument)
		}
		var t filterTerm
		field, value := term, ""
		at := -1
		for _, op := range []string{"==", "!="} {
			if i := strings.Index(term, op); i >= 0 && (at < 0 || i < at) {
				at = i
				field, value, t.op = term[:i], term[i+2:], op
			}
		}
		field = strings.TrimSpace(field)
		if uq, err := unquote(strings.TrimSpace(value)); err == nil {
			value = uq
		} else {
			return nil, fmt.Errorf("filter %q: value %s: %w", s, value, errdefs.ErrInvalidArgument)
		}
		switch {
		case field == "digest" || field == "size":
		case strings.HasPrefix(field, "labels."):
			key, err := unquote(strings.TrimPrefix(field, "labels."))
			if err != nil || key == "" {
				return nil, fmt.Errorf("filter %q: bad label key in %q: %w", s, field, errdefs.ErrInvalidArgument)
			}
			field = "labels." + key
		default:
			return nil, fmt.Errorf("filter %q: unknown field %q (want digest, size or labels.KEY): %w", s, field, errdefs.ErrInvalidArgument)
		}
		t.field, t.value = field, value
		f = append(f, t)
	}
	return f, nil
}

// Match reports whether info matches every term of f.
func (f Filter) Match(info Info) bool {
	for _, t := range f {
		var v string
		var ok bool
		switch {
		case t.field == "digest":
			v, ok = info.Digest.String(), true
		case t.field == "size":
			v, ok = strconv.FormatInt(info.Size, 10), true
		default:
			v, ok = info.Labels[strings.TrimPrefix(t.field, "labels.")]
		}
		switch t.op {
		case "":
			if !ok {
				return false
			}
		case "==":
			if !ok || v != t.value {
				return false
			}
		case "!=":
			if ok && v == t.value {
				return false
			}
		}
	}
	return true
}

// MatchAny parses filters and returns a predicate that is true when info
// matches any of them, or always true when there are none.
func MatchAny(filters ...string) (func(Info) bool, error) {
	var fs []Filter
	for _, s := range filters {
		f, err := ParseFilter(s)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return func(info Info) bool {
		if len(fs) == 0 {
			return true
		}
		for _, f := range fs {
			if f.Match(info) {
				return true
			}
		}
		return false
	}, nil
}

// splitTerms splits s at commas outside double quotes.
func splitTerms(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func unquote(s string) (string, error) {
	if strings.HasPrefix(s, `"`) {
		return strconv.Unquote(s)
	}
	return s, nil
}
