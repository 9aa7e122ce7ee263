package output

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// Stream writes a scan's result while the scan runs: each account's part
// is encoded as soon as the account is done (Add, from any goroutine) and
// spilled to a temporary file, and Close writes the document in listing
// order, the same bytes as Write. Memory holds the accounts, not their
// evaluations: the spill is on disk (about 0.7 KB per user with -o json).
type Stream struct {
	w    io.Writer
	f    Format
	o    Options
	head *scan.Result // rule, parameters, evaluation time, source

	mu    sync.Mutex
	spill *os.File
	size  int64
	parts []part // by listing order
	width [6]int // the table's column widths, header included
	rows  int    // the table's rows
	err   error  // the first spill error
	items int    // encoded array elements (json, asff), for the separators
}

// part is one account's text in the spill.
type part struct{ off, n int64 }

// itemSep ends every element of a JSON array in the spill; Close drops
// the last one's comma.
const itemSep = ",\n"

// NewStream starts a streamed document of format f for the scan whose
// head (NewResult) is given; dir holds the spill ("" is os.TempDir).
func NewStream(w io.Writer, f Format, head *scan.Result, o Options, dir string) (*Stream, error) {
	spill, err := os.CreateTemp(dir, "keyage-output-*")
	if err != nil {
		return nil, fmt.Errorf("create the output spill file: %w", err)
	}
	s := &Stream{w: w, f: f, o: o, head: head, spill: spill}
	for i, h := range tableHeader {
		s.width[i] = utf8.RuneCountInString(h)
	}
	return s, nil
}

// Add encodes account a's part of the document (its evaluations, its
// findings, its rows) and spills it; i is the account's listing order.
// It is safe for concurrent use (a scan.Sink).
func (s *Stream) Add(i int, a scan.AccountResult, evs []rule.Evaluation) error {
	var buf bytes.Buffer
	items, err := s.encode(&buf, a, evs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, err := s.spill.Write(buf.Bytes()); err != nil {
		s.err = fmt.Errorf("write the output spill file %s: %w", s.spill.Name(), err)
		return s.err
	}
	if i >= len(s.parts) {
		s.parts = append(s.parts, make([]part, i+1-len(s.parts))...)
	}
	s.parts[i] = part{off: s.size, n: int64(buf.Len())}
	s.size += int64(buf.Len())
	s.items += items
	return nil
}

// encode writes one account's part and returns how many array elements
// it holds.
func (s *Stream) encode(buf *bytes.Buffer, a scan.AccountResult, evs []rule.Evaluation) (int, error) {
	a.RootKeys = nil // root key findings come last, from Close's result
	mini := *s.head
	mini.Accounts, mini.Evaluations = []scan.AccountResult{a}, evs
	switch s.f {
	case JSON:
		els := newElements(buf, "    ")
		for i := range evs {
			if err := els.add(&evs[i], itemSep); err != nil {
				return 0, fmt.Errorf("encode evaluation of %s in %s: %w", evs[i].ResourceID, evs[i].AccountID, err)
			}
		}
		return len(evs), nil
	case CSV:
		return 0, writeCSVRows(csv.NewWriter(buf), evs, map[string]string{a.AccountID: a.Name})
	case ASFF:
		return encodeASFF(buf, &mini, s.o)
	case OCSF:
		return 0, writeOCSF(buf, &mini, s.o)
	default:
		rows := tableRows(evs, map[string]string{a.AccountID: a.Name}, s.head.EvaluatedAt, s.o)
		for _, row := range rows {
			buf.WriteString(strings.Join(row, "\t"))
			buf.WriteByte('\n')
		}
		s.mu.Lock()
		for _, row := range rows {
			for c, cell := range row {
				s.width[c] = max(s.width[c], utf8.RuneCountInString(cell))
			}
		}
		s.rows += len(rows)
		s.mu.Unlock()
		return 0, nil
	}
}

// encodeASFF writes the elements of r's ASFF findings, each followed by itemSep.
func encodeASFF(buf *bytes.Buffer, r *scan.Result, o Options) (int, error) {
	fs := ASFFFindings(r, o)
	els := newElements(buf, "  ")
	for _, f := range fs {
		if err := els.add(f, itemSep); err != nil {
			return 0, fmt.Errorf("encode asff: %w", err)
		}
	}
	return len(fs), nil
}

// Discard removes the spill without writing anything (the scan failed).
func (s *Stream) Discard() error {
	name := s.spill.Name()
	s.spill.Close()
	return os.Remove(name)
}

// Close writes the document for the finished scan res (Stream's result:
// accounts and summary) and removes the spill.
func (s *Stream) Close(res *scan.Result) (err error) {
	defer func() {
		if rerr := s.Discard(); rerr != nil && err == nil {
			err = fmt.Errorf("remove the output spill file: %w", rerr)
		}
	}()
	if s.err != nil {
		return s.err
	}
	bw := bufio.NewWriterSize(s.w, 64<<10)
	roots := *res // root key findings: every account, no evaluations
	roots.Evaluations = nil
	var tail bytes.Buffer
	switch s.f {
	case JSON:
		err = s.closeJSON(bw, res)
	case CSV:
		if err = csv.NewWriter(bw).WriteAll([][]string{CSVHeader}); err == nil {
			err = s.copyParts(bw, 0)
		}
	case ASFF:
		n, eerr := encodeASFF(&tail, &roots, s.o)
		if eerr != nil {
			return eerr
		}
		if s.items+n == 0 {
			bw.WriteString("[]\n")
			break
		}
		bw.WriteString("[\n")
		if n == 0 { // the last element is in the spill
			err = s.copyParts(bw, int64(len(itemSep)))
		} else if err = s.copyParts(bw, 0); err == nil {
			bw.Write(tail.Bytes()[:tail.Len()-len(itemSep)])
		}
		bw.WriteString("\n]\n")
	case OCSF:
		if err = s.copyParts(bw, 0); err == nil {
			err = writeOCSF(bw, &roots, s.o)
		}
	default:
		err = s.closeTable(bw, res)
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.f, err)
	}
	return nil
}

func (s *Stream) closeJSON(bw *bufio.Writer, res *scan.Result) error {
	return writeJSONDoc(bw, res, s.items > 0, func(bw *bufio.Writer) error {
		if err := s.copyParts(bw, int64(len(itemSep))); err != nil {
			return err
		}
		return bw.WriteByte('\n')
	})
}

// copyParts copies the accounts' parts in listing order, leaving out the
// last cut bytes of the whole (the last element's separator).
func (s *Stream) copyParts(w io.Writer, cut int64) error {
	left := s.size - cut
	for _, p := range s.parts {
		n := min(p.n, left)
		if n <= 0 {
			continue // an account without a part (failed), or the cut
		}
		if _, err := io.Copy(w, io.NewSectionReader(s.spill, p.off, n)); err != nil {
			return fmt.Errorf("copy the output spill file %s: %w", s.spill.Name(), err)
		}
		left -= n
	}
	return nil
}

// closeTable writes the header and the spilled rows padded to the
// columns' widths, as text/tabwriter aligns them (padding 2), then the end.
func (s *Stream) closeTable(bw *bufio.Writer, res *scan.Result) error {
	writeRow := func(line string) {
		cells := strings.Split(line, "\t")
		for c, cell := range cells {
			bw.WriteString(cell)
			if c < len(cells)-1 {
				bw.WriteString(strings.Repeat(" ", s.width[c]+2-utf8.RuneCountInString(cell)))
			}
		}
		bw.WriteByte('\n')
	}
	writeRow(strings.Join(tableHeader, "\t"))
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.copyParts(pw, 0)) }()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		writeRow(sc.Text())
	}
	if err := sc.Err(); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("read the output spill file: %w", err)
	}
	return writeTableEnd(bw, res, s.o, s.rows)
}
