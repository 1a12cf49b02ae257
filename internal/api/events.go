package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types"
	mevents "github.com/moby/moby/api/types/events"

	"github.com/berth/berth/internal/api/events"
)

func (s *Server) routeEvents(mux *http.ServeMux) {
	mux.HandleFunc("GET /events", s.events)
}

// legacyMessage adds the fields API versions before 1.52 carried.
type legacyMessage struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	mevents.Message
}

// events streams matching events: first those of the backlog inside
// [since, until] when either is given, then live ones until `until` passes
// or the client leaves.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseTimestamp("since", q.Get("since"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	until, err := parseTimestamp("until", q.Get("until"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("`since` time (%s) cannot be after `until` time (%s)", q.Get("since"), q.Get("until"))))
		return
	}
	f, err := events.ParseFilter(q.Get("filters"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	version := VersionFrom(r.Context())
	contentType := eventsContentType(version, r.Header.Values("Accept"))
	past, sub := s.cfg.Events.Subscribe(f)
	defer sub.Cancel()

	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	legacy := CompareVersions(version, "1.52") < 0
	seq := contentType == types.MediaTypeJSONSequence
	inWindow := func(m mevents.Message) bool {
		t := time.Unix(0, m.TimeNano)
		return (since.IsZero() || !t.Before(since)) && (until.IsZero() || !t.After(until))
	}
	send := func(m mevents.Message) error {
		var v any = m
		if legacy {
			lm := legacyMessage{Message: m}
			if m.Type == mevents.ContainerEventType || m.Type == mevents.ImageEventType {
				lm.Status, lm.ID, lm.From = string(m.Action), m.Actor.ID, m.Actor.Attributes["image"]
			}
			v = lm
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if seq {
			b = append([]byte{0x1e}, b...)
		}
		_, err = w.Write(append(b, '\n'))
		// One event per chunk, as dockerd's flushing writer sends them:
		// a client that splits the stream on chunks (docker-py) never
		// sees an event cut, nor a newline left alone at the end.
		flush()
		return err
	}
	if !since.IsZero() || !until.IsZero() {
		for _, m := range past {
			if inWindow(m) {
				if send(m) != nil {
					return
				}
			}
		}
		flush()
	}
	var deadline <-chan time.Time
	if !until.IsZero() {
		d := time.Until(until)
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case m, ok := <-sub.C:
			if !ok {
				return // fell behind: the client reconnects with since
			}
			if !inWindow(m) {
				continue
			}
			if send(m) != nil {
				return
			}
			flush()
		case <-deadline:
			return
		case <-r.Context().Done():
			return
		case <-s.stopping:
			// As dockerd's: the stream is cut, not ended, so a client
			// sees the daemon go (unexpected EOF) and can reconnect.
			panic(http.ErrAbortHandler)
		}
	}
}

// eventsContentType picks the stream's media type: application/json before
// API 1.52; from 1.52 the best of the client's Accept list among
// application/x-ndjson, application/json-seq and (1.53) application/jsonl,
// x-ndjson when it names none of them.
func eventsContentType(version string, accept []string) string {
	if CompareVersions(version, "1.52") < 0 {
		return types.MediaTypeJSON
	}
	type choice struct {
		mt string
		q  float64
		i  int
	}
	var choices []choice
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if qs, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(qs, 64); err == nil {
					q = v
				}
			}
			switch mt {
			case types.MediaTypeNDJSON, types.MediaTypeJSONSequence:
			case types.MediaTypeJSONLines:
				if CompareVersions(version, "1.53") < 0 {
					continue
				}
			default:
				continue
			}
			choices = append(choices, choice{mt, q, len(choices)})
		}
	}
	if len(choices) == 0 {
		return types.MediaTypeNDJSON
	}
	sort.SliceStable(choices, func(a, b int) bool { return choices[a].q > choices[b].q })
	return choices[0].mt
}

// parseTimestamp reads dockerd's `since`/`until` form: Unix seconds with an
// optional .nanoseconds fraction (the CLI converts durations and dates to
// it). An empty value is the zero time.
func parseTimestamp(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	secStr, nsecStr, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %s: %q is not a Unix timestamp", name, v))
	}
	var nsec int64
	if nsecStr != "" {
		if len(nsecStr) > 9 {
			nsecStr = nsecStr[:9]
		}
		nsecStr += strings.Repeat("0", 9-len(nsecStr))
		if nsec, err = strconv.ParseInt(nsecStr, 10, 64); err != nil {
			return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %s: %q is not a Unix timestamp", name, v))
		}
	}
	return time.Unix(sec, nsec), nil
}
