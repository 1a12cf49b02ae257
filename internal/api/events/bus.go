package events

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// DefaultBacklog is how many past events a Bus keeps for replay, as dockerd.
const DefaultBacklog = 256

// subscriberBuffer is how many undelivered events a slow subscriber may
// queue before it is dropped (its channel closed) so publishers never block.
const subscriberBuffer = 1024

// Bus fans events out to subscribers and keeps a bounded backlog.
// The zero value is not usable; call NewBus.
type Bus struct {
	mu      sync.Mutex
	backlog []events.Message // ring, oldest first once full
	next    int
	full    bool
	subs    map[*Subscription]struct{}
	now     func() time.Time
}

// NewBus returns a bus that keeps the last backlog events (DefaultBacklog if
// backlog <= 0).
func NewBus(backlog int) *Bus {
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	return &Bus{backlog: make([]events.Message, backlog), subs: map[*Subscription]struct{}{}, now: time.Now}
}

// Subscription is a live feed of matching events. C is closed when the
// subscription is cancelled or when the subscriber fell too far behind.
type Subscription struct {
	C      <-chan events.Message
	c      chan events.Message
	filter Filter
	bus    *Bus
	once   sync.Once
}

// Publish stamps msg with the current time (unless set), records it in the
// backlog and delivers it to every matching subscriber without blocking.
func (b *Bus) Publish(msg events.Message) {
	if msg.TimeNano == 0 {
		t := b.now()
		msg.Time, msg.TimeNano = t.Unix(), t.UnixNano()
	} else if msg.Time == 0 {
		msg.Time = msg.TimeNano / int64(time.Second)
	}
	if msg.Scope == "" {
		msg.Scope = "local"
	}
	if msg.Actor.Attributes == nil {
		msg.Actor.Attributes = map[string]string{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backlog[b.next] = msg
	b.next = (b.next + 1) % len(b.backlog)
	if b.next == 0 {
		b.full = true
	}
	for s := range b.subs {
		if !s.filter.Match(msg) {
			continue
		}
		select {
		case s.c <- msg:
		default:
			// The subscriber stopped reading: drop it rather than block
			// every publisher; its reader sees the channel close.
			delete(b.subs, s)
			close(s.c)
		}
	}
}

// Subscribe returns the backlog events matching f (oldest first) and a
// subscription to later ones; both are taken under one lock, so no event
// is missed or seen twice. Cancel the subscription when done.
func (b *Bus) Subscribe(f Filter) ([]events.Message, *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var past []events.Message
	n := b.next
	if b.full {
		n = len(b.backlog)
	}
	for i := range n {
		idx := i
		if b.full {
			idx = (b.next + i) % len(b.backlog)
		}
		if m := b.backlog[idx]; f.Match(m) {
			past = append(past, m)
		}
	}
	c := make(chan events.Message, subscriberBuffer)
	s := &Subscription{C: c, c: c, filter: f, bus: b}
	b.subs[s] = struct{}{}
	return past, s
}

// Listeners returns the number of live subscriptions (Info's NEventsListener).
func (b *Bus) Listeners() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Cancel ends the subscription and closes C. It is safe to call twice.
func (s *Subscription) Cancel() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		defer s.bus.mu.Unlock()
		if _, ok := s.bus.subs[s]; ok {
			delete(s.bus.subs, s)
			close(s.c)
		}
	})
}
