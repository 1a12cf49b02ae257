package metadata

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// Filter is a parsed image filter: it matches when all of its terms do.
type Filter []filterTerm

type filterTerm struct {
	field string // name, target.digest, target.mediatype, labels.KEY
	op    string // "==", "!=", "~=" or "" (present)
	value string
	re    *regexp.Regexp
}

// ParseFilter parses one image filter: terms separated by commas, all of
// which must match. A term is FIELD, FIELD==VALUE, FIELD!=VALUE or
// FIELD~=REGEXP, where FIELD is name, target.digest, target.mediatype or
// labels.KEY (KEY may be double-quoted), and VALUE may be double-quoted.
// List ORs several filters.
//
//	name~=^docker.io/library/,labels."io.berth.dangling"!=true
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
		for _, op := range []string{"==", "!=", "~="} {
			if i := strings.Index(term, op); i >= 0 && (at < 0 || i < at) {
				at = i
				field, value, t.op = term[:i], term[i+2:], op
			}
		}
		field = strings.TrimSpace(field)
		value = strings.TrimSpace(value)
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("filter %q: value %s: %w", s, value, errdefs.ErrInvalidArgument)
			}
			value = uq
		}
		switch {
		case field == "name" || field == "target.digest" || field == "target.mediatype":
		case strings.HasPrefix(field, "labels."):
			key := strings.TrimPrefix(field, "labels.")
			if strings.HasPrefix(key, `"`) {
				uq, err := strconv.Unquote(key)
				if err != nil {
					return nil, fmt.Errorf("filter %q: label key %s: %w", s, key, errdefs.ErrInvalidArgument)
				}
				key = uq
			}
			if key == "" {
				return nil, fmt.Errorf("filter %q: empty label key: %w", s, errdefs.ErrInvalidArgument)
			}
			field = "labels." + key
		default:
			return nil, fmt.Errorf("filter %q: unknown field %q (want name, target.digest, target.mediatype or labels.KEY): %w", s, field, errdefs.ErrInvalidArgument)
		}
		if t.op == "~=" {
			re, err := regexp.Compile(value)
			if err != nil {
				return nil, fmt.Errorf("filter %q: %v: %w", s, err, errdefs.ErrInvalidArgument)
			}
			t.re = re
		}
		t.field, t.value = field, value
		f = append(f, t)
	}
	return f, nil
}

// Match reports whether img matches every term of f.
func (f Filter) Match(img Image) bool {
	for _, t := range f {
		var v string
		ok := true
		switch t.field {
		case "name":
			v = img.Name
		case "target.digest":
			v = img.Target.Digest.String()
		case "target.mediatype":
			v = img.Target.MediaType
		default:
			v, ok = img.Labels[strings.TrimPrefix(t.field, "labels.")]
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
		case "~=":
			if !ok || !t.re.MatchString(v) {
				return false
			}
		}
	}
	return true
}

func matchAny(filters ...string) (func(Image) bool, error) {
	var fs []Filter
	for _, s := range filters {
		f, err := ParseFilter(s)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return func(img Image) bool {
		if len(fs) == 0 {
			return true
		}
		for _, f := range fs {
			if f.Match(img) {
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
