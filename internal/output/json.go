package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// writeJSON writes r as indented JSON, one evaluation at a time, so that a
// scan of 100,000 users is never held in memory a second time as text. The
// bytes are those of json.MarshalIndent(r, "", "  ") plus a newline.
func writeJSON(w io.Writer, r *scan.Result) error {
	return writeJSONDoc(w, r, len(r.Evaluations) > 0, func(bw *bufio.Writer) error {
		return writeEvaluations(bw, r.Evaluations)
	})
}

// writeJSONDoc writes r's document but for the elements of the
// evaluations array, which evaluations writes when there are any (each on
// its own lines, the last one's ending in a newline).
func writeJSONDoc(w io.Writer, r *scan.Result, some bool, evaluations func(*bufio.Writer) error) error {
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
	if !some {
		bw.WriteString("  \"evaluations\": [],\n")
	} else {
		bw.WriteString("  \"evaluations\": [\n")
		if err := evaluations(bw); err != nil {
			return err
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

// evaluationBlock is how many evaluations one encoder goroutine takes at a time.
const evaluationBlock = 256

// writeEvaluations writes the elements of the evaluations array, encoded on
// every core a block at a time and written in order; at most two blocks per
// core are held as text at once.
func writeEvaluations(w io.Writer, evs []rule.Evaluation) error {
	type block struct {
		text []byte
		err  error
	}
	n := (len(evs) + evaluationBlock - 1) / evaluationBlock
	blocks := make([]chan block, n)
	for i := range blocks {
		blocks[i] = make(chan block, 1)
	}
	slots := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	done := make(chan struct{})
	defer close(done)
	go func() {
		for i := range n {
			select {
			case slots <- struct{}{}:
			case <-done:
				return
			}
			go func() {
				lo, hi := i*evaluationBlock, min((i+1)*evaluationBlock, len(evs))
				var buf bytes.Buffer
				els := newElements(&buf, "    ")
				for j := lo; j < hi; j++ {
					sep := ",\n"
					if j == len(evs)-1 {
						sep = "\n"
					}
					if err := els.add(&evs[j], sep); err != nil {
						blocks[i] <- block{err: fmt.Errorf("encode evaluation of %s in %s: %w", evs[j].ResourceID, evs[j].AccountID, err)}
						return
					}
				}
				blocks[i] <- block{text: buf.Bytes()}
			}()
		}
	}()
	for i := range blocks {
		b := <-blocks[i]
		<-slots
		if b.err != nil {
			return b.err
		}
		if _, err := w.Write(b.text); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
	}
	return nil
}

// elements writes JSON array elements into one buffer, each on its own
// lines after prefix, indented as json.MarshalIndent(v, prefix, "  ")
// would, with one encoder whose buffers serve every element (MarshalIndent
// allocates and copies the text twice per element).
type elements struct {
	buf    *bytes.Buffer
	enc    *json.Encoder
	prefix string
}

func newElements(buf *bytes.Buffer, prefix string) *elements {
	enc := json.NewEncoder(buf)
	enc.SetIndent(prefix, "  ")
	return &elements{buf: buf, enc: enc, prefix: prefix}
}

// add writes the prefix, v and sep.
func (e *elements) add(v any, sep string) error {
	e.buf.WriteString(e.prefix)
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	e.buf.Truncate(e.buf.Len() - 1) // Encode's newline
	e.buf.WriteString(sep)
	return nil
}
