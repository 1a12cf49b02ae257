package events

import (
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/events"
)

// FuzzParseFilter: any `filters` value either fails cleanly or yields a
// filter that survives a String/ParseFilter round trip and can match.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`{}`, `{"type":{"container":true}}`, `{"label":["a=b","c"]}`, `{"event":{"health_status":true}}`, `[]`, `{"type":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			return
		}
		again, err := ParseFilter(flt.String())
		if err != nil {
			t.Fatalf("ParseFilter(%q) = %v, but its String %q does not parse: %v", s, flt, flt.String(), err)
		}
		if len(flt) > 0 && !reflect.DeepEqual(map[string]map[string]bool(again), map[string]map[string]bool(flt)) {
			t.Fatalf("round trip of %q: %v != %v", s, again, flt)
		}
		flt.Match(events.Message{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "x", Attributes: map[string]string{"a": "b"}}})
	})
}
