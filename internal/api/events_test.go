package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	mevents "github.com/moby/moby/api/types/events"
)

func TestEventsReplayWindowAndLegacyFields(t *testing.T) {
	s, ts := newTestServer(t)
	base := time.Now().Add(-time.Minute)
	for i, action := range []mevents.Action{mevents.ActionCreate, mevents.ActionStart, mevents.ActionDie} {
		at := base.Add(time.Duration(i) * time.Second)
		s.cfg.Events.Publish(mevents.Message{Type: mevents.ContainerEventType, Action: action, TimeNano: at.UnixNano(),
			Actor: mevents.Actor{ID: "c1", Attributes: map[string]string{"name": "web", "image": "busybox"}}})
	}
	s.cfg.Events.Publish(mevents.Message{Type: mevents.DaemonEventType, Action: mevents.ActionReload, TimeNano: base.Add(3 * time.Second).UnixNano(), Actor: mevents.Actor{ID: "TESTID"}})

	q := url.Values{}
	q.Set("since", fmt.Sprintf("%d.%09d", base.Add(time.Second).Unix(), base.Add(time.Second).Nanosecond()))
	q.Set("until", fmt.Sprint(time.Now().Unix()))
	q.Set("filters", `{"type":{"container":true}}`)
	resp, body := do(t, "GET", ts.URL+"/v1.41/events?"+q.Encode())
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got []map[string]any
	dec := json.NewDecoder(strings.NewReader(body))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["Action"] != "start" || got[1]["Action"] != "die" {
		t.Fatalf("events = %s, want start and die only", body)
	}
	if got[0]["status"] != "start" || got[0]["id"] != "c1" || got[0]["from"] != "busybox" {
		t.Errorf("v1.41 event lacks legacy status/id/from: %v", got[0])
	}
	_, body = do(t, "GET", ts.URL+"/events?"+q.Encode())
	if strings.Contains(body, `"status"`) {
		t.Errorf("v%s event carries legacy fields: %s", APIVersion, body)
	}
}

func TestEventsLiveStream(t *testing.T) {
	s, ts := newTestServer(t)
	req, _ := http.NewRequest("GET", ts.URL+"/events?filters="+url.QueryEscape(`{"event":{"reload":true}}`), nil)
	req.Header.Add("Accept", "application/jsonl")
	req.Header.Add("Accept", "application/x-ndjson;q=0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/jsonl" {
		t.Errorf("Content-Type %q, want application/jsonl", ct)
	}
	// Headers arrived before any event: now publish.
	s.cfg.Events.Publish(mevents.Message{Type: mevents.ContainerEventType, Action: mevents.ActionStart, Actor: mevents.Actor{ID: "x"}})
	s.cfg.Events.Publish(mevents.Message{Type: mevents.DaemonEventType, Action: mevents.ActionReload, Actor: mevents.Actor{ID: "TESTID"}})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l := <-line:
		var m mevents.Message
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Action != mevents.ActionReload || m.Type != mevents.DaemonEventType {
			t.Fatalf("first live event = %q (%v), want the daemon reload", l, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no live event within 10s")
	}
}

func TestEventsContentType(t *testing.T) {
	for _, c := range []struct {
		version string
		accept  []string
		want    string
	}{
		{"1.41", []string{"application/x-ndjson"}, "application/json"},
		{"1.52", nil, "application/x-ndjson"},
		{"1.52", []string{"application/jsonl", "application/json-seq;q=0.5"}, "application/json-seq"},
		{"1.53", []string{"application/jsonl", "application/x-ndjson;q=0.9"}, "application/jsonl"},
		{"1.56", []string{"application/json-seq;q=0.5, application/x-ndjson;q=0.9"}, "application/x-ndjson"},
	} {
		if got := eventsContentType(c.version, c.accept); got != c.want {
			t.Errorf("eventsContentType(%s, %v) = %s, want %s", c.version, c.accept, got, c.want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
	}{{"", time.Time{}}, {"1700000000", time.Unix(1700000000, 0)}, {"1700000000.5", time.Unix(1700000000, 500000000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)}} {
		got, err := parseTimestamp("since", c.in)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// TestEventsOneChunkEach: each event is one HTTP chunk, as dockerd's
// flushing writer sends them: clients that decode chunk by chunk
// (docker-py) never get an event cut in two or a newline alone.
func TestEventsOneChunkEach(t *testing.T) {
	s, ts := newTestServer(t)
	base := time.Now().Add(-time.Minute)
	for i := range 200 { // well over the 4 KiB a response buffers
		s.cfg.Events.Publish(mevents.Message{Type: mevents.ImageEventType, Action: mevents.ActionCreate, TimeNano: base.Add(time.Duration(i) * time.Millisecond).UnixNano(),
			Actor: mevents.Actor{ID: fmt.Sprintf("sha256:%064d", i), Attributes: map[string]string{"name": fmt.Sprintf("img%d", i)}}})
	}
	u, _ := url.Parse(ts.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1.47/events?since=%d&until=%d HTTP/1.1\r\nHost: x\r\n\r\n", base.Add(-time.Second).Unix(), time.Now().Unix())
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || len(resp.TransferEncoding) == 0 {
		t.Fatalf("response: %v %v", err, resp)
	}
	// Read the chunks by hand (http would join them).
	chunks := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("chunk size: %v", err)
		}
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%x", &n); err != nil {
			t.Fatalf("chunk size %q: %v", line, err)
		}
		if n == 0 {
			break
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(br, data); err != nil {
			t.Fatal(err)
		}
		data = data[:n]
		var m map[string]any
		if !strings.HasSuffix(string(data), "}\n") || strings.Count(string(data), "\n") != 1 || json.Unmarshal(data, &m) != nil {
			t.Fatalf("chunk %d is not one event: %q", chunks, data)
		}
		chunks++
	}
	if chunks != 200 {
		t.Errorf("%d chunks, want 200 events", chunks)
	}
}
