package command

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
	"unicode"
)

// TemplateFuncs are the docker CLI's template functions.
var TemplateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		r := []rune(s)
		r[0] = unicode.ToUpper(r[0])
		return string(r)
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"println": func(args ...any) string { return fmt.Sprintln(args...) },
}

// ParseFormat compiles a --format value: "json" is {{json .}}, anything
// else a Go template with docker's functions. A bad template is a usage
// error (exit 125).
func ParseFormat(format string) (*template.Template, error) {
	if format == "json" {
		format = "{{json .}}"
	}
	t, err := template.New("format").Funcs(TemplateFuncs).Parse(format)
	if err != nil {
		return nil, UsageError("template parsing error: %v", err)
	}
	return t, nil
}

// ExecFormat writes v through t, followed by a newline.
func ExecFormat(w io.Writer, t *template.Template, v any) error {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return &StatusError{Code: 1, Err: fmt.Errorf("template: %v", err)}
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}
