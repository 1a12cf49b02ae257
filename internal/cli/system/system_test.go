package system

import (
	"bytes"
	"errors"
	"github.com/berth/berth/internal/cli/command"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
)

func TestPrintEvent(t *testing.T) {
	ts := time.Date(2026, 11, 26, 19, 27, 9, 675961933, time.Local)
	var b bytes.Buffer
	printEvent(&b, events.Message{Type: "container", Action: "kill", TimeNano: ts.UnixNano(),
		Actor: events.Actor{ID: "abc", Attributes: map[string]string{"signal": "15", "name": "recx", "image": "busybox:local"}}})
	want := ts.Format(rfc3339NanoFixed) + " container kill abc (image=busybox:local, name=recx, signal=15)\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	printEvent(&b, events.Message{Type: "daemon", Action: "reload", Time: ts.Unix(), Actor: events.Actor{ID: "D"}})
	if !strings.HasSuffix(b.String(), ".000000000"+ts.Format("Z07:00")+" daemon reload D\n") {
		t.Errorf("seconds-only event = %q", b.String())
	}
}

func TestParseFilters(t *testing.T) {
	f, err := parseFilters([]string{"type=container", "Label=a=b", "type=image"})
	if err != nil {
		t.Fatal(err)
	}
	if !f["type"]["container"] || !f["type"]["image"] || !f["label"]["a=b"] {
		t.Errorf("filters = %v", f)
	}
	_, err = parseFilters([]string{"novalue"})
	var se *command.StatusError
	if !errors.As(err, &se) || se.ExitCode() != 125 || !strings.Contains(err.Error(), "bad format of filter (expected name=value): novalue") {
		t.Errorf("bad filter: %v", err)
	}
}

func TestFormat(t *testing.T) {
	if _, err := command.ParseFormat("{{.Broken"); err == nil {
		t.Fatal("bad template accepted")
	} else if se := (*command.StatusError)(nil); !errors.As(err, &se) || se.Code != 125 {
		t.Errorf("bad template exit code: %v", err)
	}
	tmpl, err := command.ParseFormat("json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := command.ExecFormat(&b, tmpl, infoData{Info: &system.Info{ServerVersion: "x", NCPU: 2}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"ServerVersion":"x"`) || !strings.Contains(b.String(), `"ClientInfo"`) {
		t.Errorf("json format = %s", b.String())
	}
	tmpl, _ = command.ParseFormat("{{.ServerVersion}} {{upper .OSType}}")
	b.Reset()
	_ = command.ExecFormat(&b, tmpl, infoData{Info: &system.Info{ServerVersion: "1.2", OSType: "linux"}})
	if b.String() != "1.2 LINUX\n" {
		t.Errorf("template = %q", b.String())
	}
}

func TestPrintInfoWarningsToStderr(t *testing.T) {
	var out, errOut bytes.Buffer
	printInfo(&out, &errOut, infoData{ClientInfo: clientInfo{Version: "v"}, Info: &system.Info{
		ServerVersion: "0.1", NCPU: 2, MemTotal: 25273704448, Runtimes: map[string]system.RuntimeWithStatus{"runc": {}, "berth": {}},
		DefaultRuntime: "berth", SecurityOptions: []string{"name=seccomp,profile=builtin"}, Warnings: []string{"WARNING: x"},
	}})
	for _, want := range []string{" Server Version: 0.1\n", " CPUs: 2\n", " Total Memory: 23.54GiB\n", " Runtimes: berth runc\n",
		" Default Runtime: berth\n", "  seccomp\n   Profile: builtin\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("info output lacks %q:\n%s", want, out.String())
		}
	}
	if errOut.String() != "WARNING: x\n" {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestHumanSizes(t *testing.T) {
	if got := humanBytes(1024 * 1024); got != "1MiB" {
		t.Errorf("humanBytes = %s", got)
	}
}
