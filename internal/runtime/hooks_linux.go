package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs hooks in order, each with the container state as JSON on
// its stdin, and stops at the first failure.
func runHooks(hooks []specs.Hook, state *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	b, err := json.Marshal(state)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, b); err != nil {
			return fmt.Errorf("hook %d (%s): %w", i, h.Path, err)
		}
	}
	return nil
}

func runHook(h specs.Hook, state []byte) error {
	var out bytes.Buffer
	cmd := &child{Path: h.Path, Args: h.Args, Env: h.Env, Stdin: bytes.NewReader(state), Stdout: &out, Stderr: &out}
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var timedOut atomic.Bool
	if h.Timeout != nil && *h.Timeout > 0 {
		t := time.AfterFunc(time.Duration(*h.Timeout)*time.Second, func() {
			timedOut.Store(true)
			_ = cmd.Process.Kill()
		})
		defer t.Stop()
	}
	if err := cmd.Wait(); err != nil {
		if timedOut.Load() {
			return fmt.Errorf("timed out after %ds", *h.Timeout)
		}
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
