package api

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	mobyclient "github.com/moby/moby/client"

	"github.com/berth/berth/internal/client"
)

// TestGoClientLiveEvents: a live /events subscription through the Go
// client gets the reload event SIGHUP publishes, and only events that pass
// its filter.
func TestGoClientLiveEvents(t *testing.T) {
	d := newDaemonDirs(t)
	startDaemon(t, d)
	c, err := client.New(client.Options{Host: d.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := c.Events(ctx, mobyclient.EventsListOptions{Filters: mobyclient.Filters{}.Add("type", "daemon").Add("event", "reload")})
	// Events returns once the response headers are in: the subscription exists.
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-res.Messages:
		if m.Type != events.DaemonEventType || m.Action != events.ActionReload || m.Actor.Attributes["default-runtime"] != "berth" || m.TimeNano == 0 {
			t.Errorf("event = %+v", m)
		}
	case err := <-res.Err:
		t.Fatalf("events stream: %v", err)
	case <-ctx.Done():
		t.Fatal("no reload event within 30s")
	}
	if v := c.ClientVersion(); v != "1.56" {
		t.Errorf("negotiated API version %s, want 1.56", v)
	}
}
