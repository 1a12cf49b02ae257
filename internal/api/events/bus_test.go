package events

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

func msg(typ events.Type, action events.Action, id string, attrs map[string]string) events.Message {
	return events.Message{Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}}
}

func TestBusReplayAndLive(t *testing.T) {
	b := NewBus(3)
	for _, id := range []string{"a", "b", "c", "d"} {
		b.Publish(msg(events.ContainerEventType, events.ActionStart, id, nil))
	}
	past, sub := b.Subscribe(Filter{})
	defer sub.Cancel()
	var ids []string
	for _, m := range past {
		ids = append(ids, m.Actor.ID)
		if m.Time == 0 || m.TimeNano == 0 || m.Scope != "local" {
			t.Errorf("event %s not stamped: %+v", m.Actor.ID, m)
		}
	}
	if got := len(ids); got != 3 || ids[0] != "b" || ids[2] != "d" {
		t.Fatalf("backlog of 3 after 4 events = %v, want [b c d]", ids)
	}
	b.Publish(msg(events.DaemonEventType, events.ActionReload, "daemon-id", nil))
	select {
	case m := <-sub.C:
		if m.Action != events.ActionReload {
			t.Fatalf("live event = %+v, want reload", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live event")
	}
	if n := b.Listeners(); n != 1 {
		t.Errorf("Listeners() = %d, want 1", n)
	}
	sub.Cancel()
	sub.Cancel()
	if _, ok := <-sub.C; ok {
		t.Error("channel still open after Cancel")
	}
	if n := b.Listeners(); n != 0 {
		t.Errorf("Listeners() after cancel = %d, want 0", n)
	}
}

func TestBusDropsStalledSubscriber(t *testing.T) {
	b := NewBus(1)
	_, sub := b.Subscribe(Filter{})
	for range subscriberBuffer + 1 {
		b.Publish(msg(events.ContainerEventType, events.ActionDie, "x", nil))
	}
	n := 0
	for range sub.C {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("stalled subscriber got %d events before its channel closed, want %d", n, subscriberBuffer)
	}
}

func TestFilterMatch(t *testing.T) {
	ctr := msg(events.ContainerEventType, events.ActionStart, "0123456789ab", map[string]string{"name": "web", "image": "busybox:latest", "tier": "front"})
	health := msg(events.ContainerEventType, events.ActionHealthStatusHealthy, "0123456789ab", map[string]string{"name": "web"})
	img := msg(events.ImageEventType, events.ActionPull, "busybox:latest", map[string]string{"name": "busybox"})
	daemon := msg(events.DaemonEventType, events.ActionReload, "DID", map[string]string{"name": "host1"})
	for _, c := range []struct {
		filter string
		m      events.Message
		want   bool
	}{
		{`{}`, ctr, true},
		{`{"type":{"container":true}}`, ctr, true},
		{`{"type":{"image":true}}`, ctr, false},
		{`{"type":["container","image"]}`, img, true},
		{`{"event":{"start":true}}`, ctr, true},
		{`{"event":{"stop":true}}`, ctr, false},
		{`{"event":{"health_status":true}}`, health, true},
		{`{"container":{"web":true}}`, ctr, true},
		{`{"container":{"0123":true}}`, ctr, true},
		{`{"container":{"db":true}}`, ctr, false},
		{`{"container":{"":true}}`, ctr, true}, // dockerd's FuzzyMatch: an empty prefix
		{`{"container":{"web":true}}`, daemon, false},
		{`{"image":{"busybox":true}}`, ctr, true},
		{`{"image":{"busybox:latest":true}}`, img, true},
		{`{"image":{"alpine":true}}`, img, false},
		{`{"label":{"tier":true}}`, ctr, true},
		{`{"label":{"tier=front":true}}`, ctr, true},
		{`{"label":{"tier=back":true}}`, ctr, false},
		{`{"label":{"tier=front":true,"missing":true}}`, ctr, false},
		{`{"type":{"daemon":true},"event":{"reload":true}}`, daemon, true},
	} {
		f, err := ParseFilter(c.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%s): %v", c.filter, err)
		}
		if got := f.Match(c.m); got != c.want {
			t.Errorf("filter %s on %s %s %s: got %v, want %v", c.filter, c.m.Type, c.m.Action, c.m.Actor.ID, got, c.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"bogus":{"x":true}}`, "invalid filter 'bogus'"},
		{`{"type":{"spaceship":true}}`, `Invalid filter type "spaceship"`},
		{`not json`, "invalid filter:"},
	} {
		_, err := ParseFilter(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFilter(%s) error = %v, want it to contain %q", c.in, err, c.want)
		}
	}
}
