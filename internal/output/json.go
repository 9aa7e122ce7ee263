package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/keyage/keyage/internal/scan"
)

// writeJSON writes r as indented JSON, one evaluation at a time, so that a
// scan of 100,000 users is never held in memory a second time as text. The
// bytes are those of json.MarshalIndent(r, "", "  ") plus a newline.
func writeJSON(w io.Writer, r *scan.Result) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	field := func(name string, v any, last bool) error {
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		fmt.Fprintf(bw, "  %q: ", name)
		bw.Write(b)
		if !last {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		return nil
	}
	bw.WriteString("{\n")
	for _, f := range []struct {
		name string
		v    any
	}{
		{"rule", r.Rule}, {"parameters", r.Parameters}, {"evaluatedAt", r.EvaluatedAt},
		{"source", r.Source}, {"accounts", r.Accounts},
	} {
		if err := field(f.name, f.v, false); err != nil {
			return err
		}
	}
	if len(r.Evaluations) == 0 {
		bw.WriteString("  \"evaluations\": [],\n")
	} else {
		bw.WriteString("  \"evaluations\": [\n")
		for i := range r.Evaluations {
			b, err := json.MarshalIndent(&r.Evaluations[i], "    ", "  ")
			if err != nil {
				return fmt.Errorf("encode evaluation of %s in %s: %w", r.Evaluations[i].ResourceID, r.Evaluations[i].AccountID, err)
			}
			bw.WriteString("    ")
			bw.Write(b)
			if i < len(r.Evaluations)-1 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
		}
		bw.WriteString("  ],\n")
	}
	if err := field("summary", r.Summary, true); err != nil {
		return err
	}
	bw.WriteString("}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
