package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
	"golang.org/x/term"
)

// ProgressError is an error reported inside a progress stream; Code is
// errorDetail.code (the exit code `build` uses).
type ProgressError struct {
	Code    int
	Message string
}

func (e *ProgressError) Error() string { return e.Message }

// DisplayProgress renders a daemon's JSON progress stream (pull, push,
// load, import) as docker's CLI does: on a terminal, one line per layer ID
// redrawn in place with a progress bar; otherwise one line per status
// change without bars. aux, when set, receives each "aux" payload. The
// first error in the stream is returned.
func DisplayProgress(in io.Reader, out io.Writer, aux func(json.RawMessage)) error {
	tty, width := false, 200
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width = w
		}
	}
	dec := json.NewDecoder(in)
	ids := map[string]int{}
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Aux != nil {
			if aux != nil {
				aux(*m.Aux)
			}
			continue
		}
		diff := 0
		if m.ID != "" && m.Progress != nil {
			line, ok := ids[m.ID]
			if !ok {
				line = len(ids)
				ids[m.ID] = line
				if tty {
					fmt.Fprint(out, "\n")
				}
			}
			diff = len(ids) - line
			if tty {
				fmt.Fprintf(out, "\x1b[%dA", diff)
			}
		} else {
			ids = map[string]int{}
		}
		err := displayMessage(m, out, tty, width)
		if m.ID != "" && tty && diff > 0 {
			fmt.Fprintf(out, "\x1b[%dB", diff)
		}
		if err != nil {
			return err
		}
	}
}

func displayMessage(m jsonstream.Message, out io.Writer, tty bool, width int) error {
	if m.Error != nil {
		return &ProgressError{Code: m.Error.Code, Message: m.Error.Message}
	}
	endl := ""
	if tty && m.Stream == "" && m.Progress != nil {
		fmt.Fprint(out, "\x1b[2K\r")
		endl = "\r"
	} else if m.Progress != nil && (m.Progress.Current > 0 || m.Progress.Total > 0) {
		return nil
	}
	if m.ID != "" {
		fmt.Fprintf(out, "%s: ", m.ID)
	}
	switch {
	case m.Progress != nil && tty:
		fmt.Fprintf(out, "%s %s%s", m.Status, progressBar(*m.Progress, width), endl)
	case m.Stream != "":
		fmt.Fprintf(out, "%s%s", m.Stream, endl)
	default:
		fmt.Fprintf(out, "%s%s\n", m.Status, endl)
	}
	return nil
}

// progressBar is docker's "[=====>     ]  1.35MB/1.982MB".
func progressBar(p jsonstream.Progress, width int) string {
	if p.Current <= 0 && p.Total <= 0 {
		return ""
	}
	if p.Total <= 0 {
		if p.Units == "" {
			return fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
		}
		return fmt.Sprintf("%d %s", p.Current, p.Units)
	}
	pct := min(int(float64(p.Current)/float64(p.Total)*100)/2, 50)
	box := ""
	if width > 110 {
		box = fmt.Sprintf("[%s>%s] ", strings.Repeat("=", pct), strings.Repeat(" ", max(50-pct, 0)))
	}
	nums := ""
	switch {
	case p.HideCounts:
	case p.Units == "":
		nums = fmt.Sprintf("%8v/%v", units.HumanSize(float64(p.Current)), units.HumanSize(float64(p.Total)))
		if p.Current > p.Total {
			nums = fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
		}
	default:
		nums = fmt.Sprintf("%d/%d %s", p.Current, p.Total, p.Units)
	}
	return box + nums
}
