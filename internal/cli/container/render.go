package container

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"

	"github.com/berth/berth/internal/cli/command"
)

// Render writes rows through a docker --format value: "json" (one JSON
// object per row), "table TEMPLATE" (a header line from headers, then the
// rows aligned with docker's tabwriter settings), or a plain Go template
// (one line per row). Each row is a formatting context whose exported
// methods are the template fields; headers maps field names to column
// titles. The image package renders through it as well.
func Render(w io.Writer, format string, headers map[string]string, rows []any) error {
	if format == "json" {
		format = "{{json .}}"
	}
	table := strings.HasPrefix(format, "table")
	if table {
		format = strings.Trim(strings.TrimPrefix(format, "table"), " ")
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := parseTemplate(format)
	if err != nil {
		return &command.StatusError{Code: 1, Err: fmt.Errorf("template parsing error: %v", err)}
	}
	var body bytes.Buffer
	for _, r := range rows {
		if err := tmpl.Execute(&body, r); err != nil {
			return &command.StatusError{Code: 1, Err: fmt.Errorf("template: %v", err)}
		}
		body.WriteString("\n")
	}
	if !table {
		_, err := body.WriteTo(w)
		return err
	}
	htmpl, err := template.New("").Funcs(headerFuncs()).Parse(format)
	if err != nil {
		return &command.StatusError{Code: 1, Err: fmt.Errorf("template parsing error: %v", err)}
	}
	var head bytes.Buffer
	if err := htmpl.Execute(&head, headerContext(headers)); err != nil {
		return &command.StatusError{Code: 1, Err: fmt.Errorf("template: %v", err)}
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	head.WriteString("\n")
	if _, err := head.WriteTo(tw); err != nil {
		return err
	}
	if _, err := body.WriteTo(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// headerContext is what a table's header line is rendered from: the column
// titles by field name, and the title of {{.Label "name"}} as docker makes
// it (the name's last dot-separated part, "-" and "_" as spaces).
type headerContext map[string]string

// Label is the header of a label column.
func (headerContext) Label(name string) string {
	parts := strings.Split(name, ".")
	return strings.NewReplacer("-", " ", "_", " ").Replace(parts[len(parts)-1])
}

// parseTemplate compiles a --format template as docker does (an unnamed
// template with docker's functions; "json" is {{json .}}).
func parseTemplate(format string) (*template.Template, error) {
	if format == "json" {
		format = "{{json .}}"
	}
	return template.New("").Funcs(command.TemplateFuncs).Parse(format)
}

// FilterFlag is a repeatable --filter key=value flag that rejects a
// value without '=' as a flag error (exit 125 with the usage), as docker.
type FilterFlag struct{ values []string }

func (f *FilterFlag) String() string { return "" }

// Set adds one filter.
func (f *FilterFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("bad format of filter (expected name=value)")
	}
	f.values = append(f.values, v)
	return nil
}

// Type is docker's "filter".
func (f *FilterFlag) Type() string { return "filter" }

// Values are the filters given.
func (f *FilterFlag) Values() []string { return f.values }

// headerFuncs make the header pass render column titles: every function
// returns its first argument unchanged, json prints nothing (docker's
// HeaderFunctions). Built on first use, not at every berth start.
var headerFuncs = sync.OnceValue(func() template.FuncMap {
	m := template.FuncMap{}
	for name := range command.TemplateFuncs {
		m[name] = func(v ...any) string {
			if len(v) == 0 {
				return ""
			}
			return fmt.Sprint(v[0])
		}
	}
	m["json"] = func(v any) string { return "" }
	return m
})

// MarshalMethods renders a formatting context as docker's `{{json .}}`
// does: a JSON object of every exported method that takes no argument,
// keyed by method name.
func MarshalMethods(v any) ([]byte, error) {
	m := map[string]any{}
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	for i := 0; i < rt.NumMethod(); i++ {
		meth := rt.Method(i)
		if meth.Type.NumIn() != 1 || meth.Type.NumOut() != 1 || meth.Name == "MarshalJSON" {
			continue
		}
		m[meth.Name] = rv.Method(i).Call(nil)[0].Interface()
	}
	return json.Marshal(m)
}
