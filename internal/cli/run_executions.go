package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/keyage/keyage/internal/remediate"
)

// executionSpill keeps keyage run -o json's executions in a temporary
// file while the run plans a batch of accounts at a time, so that the
// document lists every NON_COMPLIANT user without the run holding them.
type executionSpill struct {
	f *os.File
	w *bufio.Writer
	n int
}

func newExecutionSpill() (*executionSpill, error) {
	f, err := os.CreateTemp("", "keyage-run-executions-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("create the executions spill: %w", err)
	}
	return &executionSpill{f: f, w: bufio.NewWriter(f)}, nil
}

// add appends the executions of p, one a NON_COMPLIANT user.
func (s *executionSpill) add(p *remediate.Plan) error {
	enc := json.NewEncoder(s.w)
	for _, ev := range p.NonCompliant {
		if err := enc.Encode(runExecution{AccountID: ev.AccountID, ResourceID: ev.ResourceID, UserName: ev.UserName}); err != nil {
			return fmt.Errorf("write the executions spill %s: %w", s.f.Name(), err)
		}
		s.n++
	}
	return nil
}

// close removes the spill.
func (s *executionSpill) close() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// executionsKey is how writeJSON indents the (empty) executions of a run
// document; writeRunDocument writes the spill's there.
const executionsKey = "\n  \"executions\": []"

// writeRunDocument writes d as writeJSON does, with the executions of
// spill (nil: d's own) in place of d.Executions, read back one at a time.
func writeRunDocument(w io.Writer, d *runDocument, spill *executionSpill) error {
	if spill == nil || spill.n == 0 {
		return writeJSON(w, d)
	}
	d.Executions = []runExecution{}
	var head bytes.Buffer
	if err := writeJSON(&head, d); err != nil {
		return err
	}
	before, after, ok := bytes.Cut(head.Bytes(), []byte(executionsKey))
	if !ok {
		return fmt.Errorf("write the run document: no %q in it", executionsKey)
	}
	if err := spill.w.Flush(); err != nil {
		return fmt.Errorf("write the executions spill %s: %w", spill.f.Name(), err)
	}
	if _, err := spill.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read the executions spill %s: %w", spill.f.Name(), err)
	}
	bw := bufio.NewWriter(w)
	bw.Write(before)
	bw.WriteString("\n  \"executions\": [")
	dec := json.NewDecoder(bufio.NewReader(spill.f))
	for i := 0; i < spill.n; i++ {
		var e runExecution
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("read the executions spill %s: %w", spill.f.Name(), err)
		}
		b, err := json.MarshalIndent(e, "    ", "  ")
		if err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	bw.WriteString("\n  ]")
	bw.Write(after)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
